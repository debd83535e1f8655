/**
 * The command line's one number parser and the option parsers built on it, shared by every subcommand:
 * errors name the option and the value (commander prints them as "option … is invalid: <message>").
 */
import { InvalidArgumentError } from 'commander';

/** A parser for a number option that must pass `check`; `what` completes "NAME must be …". */
export function numberOption(name: string, check: (n: number) => boolean, what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !check(n))
      throw new InvalidArgumentError(`${name} must be ${what}, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** A comma-separated list whose every element passes `check`; the error names the option and the element. */
export function numberListOption(name: string, check: (n: number) => boolean, what: string) {
  return (value: string): number[] =>
    value
      .split(',')
      .map((s) => s.trim())
      .map((item) => {
        const n = Number(item);
        if (item === '' || !check(n)) {
          throw new InvalidArgumentError(
            `${name} must be a comma-separated list of ${what}, got ${JSON.stringify(item)} in ${JSON.stringify(value)}`,
          );
        }
        return n;
      });
}

export const positiveInt = (name: string) =>
  numberOption(name, (n) => Number.isInteger(n) && n > 0, 'a positive integer');
export const positiveNumber = (name: string) =>
  numberOption(name, (n) => Number.isFinite(n) && n > 0, 'a positive number');
export const nonNegativeNumber = (name: string) =>
  numberOption(name, (n) => Number.isFinite(n) && n >= 0, 'a number ≥ 0');
