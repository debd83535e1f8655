/** Asserting on errors by their stable code (src/errors.ts), not by message text. */
import { expect } from 'vitest';
import { isLoopixError, LoopixError } from '../../src/errors.js';

/** The error `fn` throws (fails the test when it returns). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw, but the call returned');
}

/** Asserts that `fn` throws a LoopixError with `code` (and `field`, when given); returns the error. */
export function expectLoopixError(fn: () => unknown, code: string, field?: string): LoopixError {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(LoopixError);
  const e = err as LoopixError;
  expect(e.code, e.message).toBe(code);
  if (field !== undefined) expect(e.field, e.message).toBe(field);
  return e;
}

/** 'accepted' when `fn` returns, else the code of the LoopixError it throws (any other throw is rethrown). */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isLoopixError(err)) return err.code;
    throw err;
  }
  return 'accepted';
}
