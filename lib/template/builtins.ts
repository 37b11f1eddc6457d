/** Go's text/template built-in functions. */

import { sprint, sprintf } from './fmt';
import { CallError, fn, type Fn, str } from './function';
import { formatV, isMap, truth, typeName } from './values';

/** A slice/string index, as Go's indexArg. */
function indexArg(v: unknown, cap: number): number {
  if (v === undefined || v === null) throw new CallError('cannot index slice/array with nil');
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new CallError(`cannot index slice/array with type ${typeName(v)}`);
  if (v < 0 || v > cap) throw new CallError(`index out of range: ${v}`);
  return v;
}

type Kind = 'bool' | 'number' | 'string' | 'nil' | 'other';
const kindOf = (v: unknown): Kind => (v === undefined || v === null ? 'nil' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? 'number' : typeof v === 'string' ? 'string' : 'other');

function eq(a: unknown, ...bs: unknown[]): boolean {
  if (bs.length === 0) throw new CallError('missing argument for comparison');
  const ka = kindOf(a);
  for (const b of bs) {
    const kb = kindOf(b);
    if (ka !== kb) {
      if (ka !== 'nil' && kb !== 'nil') throw new CallError('incompatible types for comparison');
      continue;
    }
    if (ka === 'other') throw new CallError(`non-comparable type ${formatV(b)}: ${typeName(b)}`);
    if (ka === 'nil' || a === b) return true;
  }
  return false;
}
function lt(a: unknown, b: unknown): boolean {
  const [ka, kb] = [kindOf(a), kindOf(b)];
  if (ka === 'nil' || ka === 'other' || kb === 'nil' || kb === 'other') throw new CallError('invalid type for comparison');
  if (ka !== kb) throw new CallError('incompatible types for comparison');
  if (ka === 'bool') throw new CallError('invalid type for comparison');
  return (a as number | string) < (b as number | string);
}

const escapeHtml = (s: string) => s.replace(/\0/g, '\uFFFD').replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;' })[c]!);
const escapeJs = (s: string) =>
  s.replace(/[\\'"<>&=\x00-\x1f]/g, (c) => (c === '\\' || c === "'" || c === '"' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`));
const escapeQuery = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
/** The text/template escapers' argument: a lone string as is, else fmt.Sprint of all. */
const escArg = (args: unknown[]) => (args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args));

/** Go's builtins. `and`/`or` are evaluated lazily by the executor. */
export const BUILTINS: Record<string, Fn> = {
  and: fn(1, Infinity, () => undefined),
  or: fn(1, Infinity, () => undefined),
  not: fn(1, 1, ([v]) => !truth(v)),
  len: fn(1, 1, ([v]) => {
    if (v === undefined) throw new CallError('len of untyped nil');
    if (v === null) return 0;
    if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
    if (Array.isArray(v)) return v.length;
    if (isMap(v)) return Object.keys(v).length;
    throw new CallError(`len of type ${typeName(v)}`);
  }),
  index: fn(1, Infinity, ([item, ...indexes]) => {
    if (item === undefined || item === null) throw new CallError('index of untyped nil');
    for (const x of indexes) {
      if (item === undefined || item === null) throw new CallError('index of nil pointer');
      if (typeof item === 'string') item = Buffer.from(item, 'utf8')[indexArg(x, Buffer.byteLength(item, 'utf8') - 1)];
      else if (Array.isArray(item)) item = item[indexArg(x, item.length - 1)];
      else if (isMap(item)) {
        if (typeof x !== 'string') throw new CallError(x === undefined || x === null ? 'value is nil; should be of type string' : `value has type ${typeName(x)}; should be string`);
        const m: Record<string, unknown> = item;
        item = Object.prototype.hasOwnProperty.call(m, x) ? m[x] : Object.values(m).every((e) => typeof e === 'string') ? '' : undefined;
      } else throw new CallError(`can't index item of type ${typeName(item)}`);
    }
    return item;
  }),
  slice: fn(1, 4, ([item, ...indexes]) => {
    if (item === undefined || item === null) throw new CallError('slice of untyped nil');
    if (indexes.length > 3) throw new CallError(`too many slice indexes: ${indexes.length}`);
    if (typeof item !== 'string' && !Array.isArray(item)) throw new CallError(`can't slice item of type ${typeName(item)}`);
    if (typeof item === 'string' && indexes.length === 3) throw new CallError('cannot 3-index slice a string');
    const idx = [0, item.length, item.length];
    indexes.forEach((x, n) => (idx[n] = indexArg(x, item.length)));
    if (idx[0] > idx[1]) throw new CallError(`invalid slice index: ${idx[0]} > ${idx[1]}`);
    if (indexes.length === 3 && idx[1] > idx[2]) throw new CallError(`invalid slice index: ${idx[1]} > ${idx[2]}`);
    return item.slice(idx[0], idx[1]);
  }),
  print: fn(0, Infinity, sprint),
  printf: fn(1, Infinity, ([f, ...args]) => sprintf(str(f), args)),
  println: fn(0, Infinity, (args) => `${args.map(formatV).join(' ')}\n`),
  eq: fn(1, Infinity, ([a, ...bs]) => eq(a, ...bs)),
  ne: fn(2, 2, ([a, b]) => !eq(a, b)),
  lt: fn(2, 2, ([a, b]) => lt(a, b)),
  le: fn(2, 2, ([a, b]) => lt(a, b) || eq(a, b)),
  gt: fn(2, 2, ([a, b]) => !(lt(a, b) || eq(a, b))),
  ge: fn(2, 2, ([a, b]) => !lt(a, b)),
  html: fn(0, Infinity, (args) => escapeHtml(escArg(args))),
  js: fn(0, Infinity, (args) => escapeJs(escArg(args))),
  urlquery: fn(0, Infinity, (args) => escapeQuery(escArg(args))),
};
