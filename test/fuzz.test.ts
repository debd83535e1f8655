/** A short run of the fuzzer (`npm run fuzz` runs ≥ 1,000,000 inputs); any crash fails the suite. */
import { describe, expect, it } from 'vitest';
import { runFuzz } from '../src/fuzz/fuzz.js';
import { native, ts } from './helpers/backends.js';

describe('fuzzer', () => {
  it('finds no crash and no native/TypeScript disagreement in 30,000 random and mutated inputs', () => {
    const report = runFuzz({ iterations: 30_000, seed: 20261121, native, ts });
    expect(report.crashes).toEqual([]);
    expect(report.inputs).toBeGreaterThanOrEqual(30_000);
    expect(report.byTarget['differential-unwrap']).toBeGreaterThanOrEqual(300);
  });
});
