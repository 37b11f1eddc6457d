import { InvalidArgumentError } from '../../lib/util/errors';
import type { PruneVolumesOptions, VolumeListFilters } from './types';

/**
 * Splits `--filter KEY=VALUE` arguments by key, refusing keys not in `accepted` (Docker's
 * messages, naming the `kind` of object: volume, network).
 */
export function groupFilters(args: readonly string[], accepted: readonly string[], kind = 'volume'): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const arg of args) {
    const i = arg.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`bad format of filter "${arg}" (expected name=value, e.g. ${accepted.map((k) => `${k}=…`).join(', ')})`);
    const key = arg.slice(0, i).trim().toLowerCase();
    if (!accepted.includes(key)) throw new InvalidArgumentError(`Invalid filter '${key}': the ${kind} filters are ${accepted.join(', ')}`);
    out.set(key, [...(out.get(key) ?? []), arg.slice(i + 1)]);
  }
  return out;
}

function bool(key: string, values: string[]): boolean {
  const parsed = new Set(values.map((v) => {
    const s = v.toLowerCase();
    if (s === 'true' || s === '1') return true;
    if (s === 'false' || s === '0') return false;
    throw new InvalidArgumentError(`Invalid filter '${key}=${v}': use ${key}=true or ${key}=false`);
  }));
  if (parsed.size > 1) throw new InvalidArgumentError(`Invalid filter '${key}': both true and false given`);
  return [...parsed][0];
}

/** Parses `volume ls --filter` arguments: `dangling=true|false`, `label=KEY[=VALUE]`, `name=X`, `driver=D`. */
export function parseListFilters(args: readonly string[]): VolumeListFilters {
  const g = groupFilters(args, ['dangling', 'label', 'name', 'driver']);
  return {
    dangling: g.has('dangling') ? bool('dangling', g.get('dangling')!) : undefined,
    label: g.get('label'),
    name: g.get('name'),
    driver: g.get('driver'),
  };
}

/** Parses `volume prune --filter` arguments: `label=…`, `label!=…`, `all=true|false`. */
export function parsePruneFilters(args: readonly string[], all = false): PruneVolumesOptions {
  const g = groupFilters(args, ['label', 'label!', 'all']);
  if (g.has('all') && all) throw new InvalidArgumentError('conflicting options: cannot specify both --all and --filter all=1');
  return {
    all: g.has('all') ? bool('all', g.get('all')!) : all,
    label: g.get('label'),
    labelNot: g.get('label!'),
  };
}

/** Whether `labels` has `KEY` (`filter` without "=") or `KEY=VALUE`. */
export function matchLabel(labels: { readonly [key: string]: string }, filter: string): boolean {
  const i = filter.indexOf('=');
  if (i < 0) return Object.prototype.hasOwnProperty.call(labels, filter);
  const key = filter.slice(0, i);
  return Object.prototype.hasOwnProperty.call(labels, key) && labels[key] === filter.slice(i + 1);
}

/** Docker's name filter: an exact match, or a regular expression that matches. */
export function matchName(name: string, filter: string): boolean {
  if (name === filter) return true;
  try {
    return new RegExp(filter).test(name);
  } catch {
    return false;
  }
}
