/**
 * What a template function is: its arity, its body, and the two ways it fails (Go's
 * `error calling NAME: …` for an error it returns, the message as is for a bad argument).
 */

import { typeName } from './values';

/** A function of the template: `min`..`max` arguments (the piped value last). */
export interface Fn { min: number; max: number; call: (args: unknown[]) => unknown }
export const fn = (min: number, max: number, call: (args: unknown[]) => unknown): Fn => ({ min, max, call });

/** An error a function returns: reported as `error calling NAME: …`. */
export class CallError extends Error {}
/** An error about an argument, reported as is. */
export class ArgError extends Error {}

/** A string argument. */
export function str(v: unknown): string {
  if (typeof v !== 'string') throw new ArgError(v === undefined || v === null ? 'invalid value; expected string' : `wrong type for value; expected string; got ${typeName(v)}`);
  return v;
}
/** An int argument. */
export function int(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ArgError(v === undefined || v === null ? 'invalid value; expected int' : `wrong type for value; expected int; got ${typeName(v)}`);
  return v;
}
