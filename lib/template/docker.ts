/** The functions the Docker CLI adds to Go's for `--format` (docker/cli templates/templates.go). */

import { ArgError, CallError, fn, type Fn, int, str } from './function';
import { formatV, typeName } from './values';

/** strings.Title: upper-cases letters that begin words. */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    const sep = /[\x00-\x7f]/.test(prev) ? !/[A-Za-z0-9_]/.test(prev) : !/[\p{L}\p{Nd}]/u.test(prev) && /\s/u.test(prev);
    out += sep ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

/** Docker's additions to the builtins. */
export const DOCKER_FUNCS: Record<string, Fn> = {
  // Go's encoding/json, without HTML escaping.
  json: fn(1, 1, ([v]) => goJson(v)),
  split: fn(2, 2, ([s, sep]) => (str(sep) === '' ? [...str(s)] : str(s).split(sep as string))),
  join: fn(2, 2, ([a, sep]) => {
    if (!Array.isArray(a)) throw new ArgError(a === undefined || a === null ? 'invalid value; expected []string' : `wrong type for value; expected []string; got ${typeName(a)}`);
    return a.map(formatV).join(str(sep));
  }),
  title: fn(1, 1, ([s]) => title(str(s))),
  lower: fn(1, 1, ([s]) => str(s).toLowerCase()),
  upper: fn(1, 1, ([s]) => str(s).toUpperCase()),
  pad: fn(3, 3, ([s, pre, post]) => (str(s) === '' ? '' : ' '.repeat(Math.max(0, int(pre))) + s + ' '.repeat(Math.max(0, int(post))))),
  truncate: fn(2, 2, ([s, n]) => {
    const len = int(n);
    if (len < 0) throw new CallError(`runtime error: slice bounds out of range [:${len}]`);
    return str(s).slice(0, len);
  }),
};

/** A Go struct's JSON field names are exported identifiers; any other key makes the object a map. */
const GO_FIELD = /^[A-Z][A-Za-z0-9]*$/;
/** Fields of Docker's inspect structs that are Go maps (sorted even when their keys look like field names). */
const GO_MAP_FIELDS = new Set(['Labels', 'Networks', 'Ports', 'PortBindings', 'ExposedPorts', 'Volumes', 'Options', 'DriverOpts', 'Data', 'Sysctls', 'Tmpfs', 'StorageOpt', 'Annotations', 'Containers']);

/**
 * JSON as Go's encoding/json writes it: a struct (an object whose keys are all exported Go
 * field names, as every inspect object is) keeps its field order; a map (labels, networks,
 * ports, options…) has its keys sorted by bytes, at every depth.
 */
export function goJson(v: unknown): string {
  const order = (x: unknown, field?: string): unknown => {
    if (Array.isArray(x)) return x.map((e) => order(e));
    if (x === null || typeof x !== 'object' || typeof (x as { toJSON?: unknown }).toJSON === 'function') return x;
    const keys = Object.keys(x);
    if ((field !== undefined && GO_MAP_FIELDS.has(field)) || !keys.every((k) => GO_FIELD.test(k))) keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const o: { [k: string]: unknown } = {};
    for (const k of keys) o[k] = order((x as { [k: string]: unknown })[k], k);
    return o;
  };
  return JSON.stringify(order(v) ?? null).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}
