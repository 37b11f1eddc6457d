import { InvalidArgumentError } from '../../lib/core/errors';

/**
 * Docker's `--filter KEY=VALUE` arguments, as the list and prune commands of containers, images,
 * networks and volumes take them. A *filter* is one `KEY=VALUE` argument; filters of different
 * keys must all match, values of one key any — but `label` (and `label!`) values must all match.
 * Each kind of object parses its own keys with `groupFilters` and matches with the helpers here.
 */

/** Filters a list reads; absent keys do not constrain. */
export type FilterGroups = Map<string, string[]>;

/**
 * Splits `--filter KEY=VALUE` arguments by key (lower-cased, as Docker does), refusing keys not
 * in `accepted` with Docker's message, naming the `kind` of object and the keys it takes.
 */
export function groupFilters(args: readonly string[], accepted: readonly string[], kind: string): FilterGroups {
  const out: FilterGroups = new Map();
  for (const arg of args) {
    const i = arg.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`bad format of filter "${arg}" (expected name=value, e.g. ${accepted.map((k) => `${k}=…`).join(', ')})`);
    const key = arg.slice(0, i).trim().toLowerCase();
    if (!accepted.includes(key)) throw new InvalidArgumentError(`invalid filter '${key}': the ${kind} filters are ${accepted.join(', ')}`);
    out.set(key, [...(out.get(key) ?? []), arg.slice(i + 1)]);
  }
  return out;
}

/** The one boolean of filter `key` (`true`/`1`, `false`/`0`); undefined when not given. */
export function boolFilter(groups: FilterGroups, key: string): boolean | undefined {
  const values = groups.get(key);
  if (values === undefined) return undefined;
  const parsed = new Set(values.map((v) => {
    const s = v.toLowerCase();
    if (s === 'true' || s === '1') return true;
    if (s === 'false' || s === '0') return false;
    throw new InvalidArgumentError(`invalid filter '${key}=${v}': use ${key}=true or ${key}=false`);
  }));
  if (parsed.size > 1) throw new InvalidArgumentError(`invalid filter '${key}': both true and false given`);
  return [...parsed][0];
}

/** The values of filter `key`, each one of `allowed` (Docker's message otherwise). */
export function enumFilter<T extends string>(groups: FilterGroups, key: string, allowed: readonly T[]): T[] | undefined {
  const values = groups.get(key);
  for (const v of values ?? []) {
    if (!(allowed as readonly string[]).includes(v)) throw new InvalidArgumentError(`invalid filter '${key}=${v}': use ${allowed.map((a) => `${key}=${a}`).join(', ')}`);
  }
  return values as T[] | undefined;
}

/** Label filters: `KEY` (has the label) or `KEY=VALUE`. */
export interface LabelFilters {
  /** Every one must match (`label=…`). */
  readonly label?: readonly string[];
  /** None may match (`label!=…`, prune only). */
  readonly labelNot?: readonly string[];
}

/** Whether `labels` has `KEY` (`filter` without "=") or `KEY=VALUE`. */
export function matchLabel(labels: { readonly [key: string]: string } | null | undefined, filter: string): boolean {
  const all = labels ?? {};
  const i = filter.indexOf('=');
  const key = i < 0 ? filter : filter.slice(0, i);
  return Object.prototype.hasOwnProperty.call(all, key) && (i < 0 || all[key] === filter.slice(i + 1));
}

/** Whether `labels` has every `label` and none of `labelNot`. */
export function matchLabels(labels: { readonly [key: string]: string } | null | undefined, f: LabelFilters): boolean {
  return (f.label ?? []).every((x) => matchLabel(labels, x)) && !(f.labelNot ?? []).some((x) => matchLabel(labels, x));
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

/** Docker's id filter: a prefix of the id. */
export function matchId(id: string, filter: string): boolean {
  return id.startsWith(filter);
}

/** True when `values` is not given, or `match` holds for one of them (values of one key OR). */
export function anyOf(values: readonly string[] | undefined, match: (value: string) => boolean): boolean {
  return values === undefined || values.some(match);
}

/**
 * Go's `path.Match` pattern as a RegExp (Docker's `reference` filter uses it): `*` is any run of
 * characters but "/", `?` one character but "/", `[a-z]` / `[^a-z]` a class, `\` escapes.
 * Undefined for a malformed pattern (Go's "syntax error in pattern").
 */
export function globPattern(pattern: string): RegExp | undefined {
  const lit = (c: string) => (/[A-Za-z0-9]/.test(c) ? c : `\\${c}`);
  let re = '';
  let i = 0;
  // One character of a class or the pattern, `\` taking the next one literally.
  const char = (): string | undefined => {
    if (pattern[i] === '\\') i++;
    return i < pattern.length ? pattern[i++] : undefined;
  };
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '*') {
      re += '[^/]*';
      i++;
    } else if (c === '?') {
      re += '[^/]';
      i++;
    } else if (c === '[') {
      i++;
      let cls = pattern[i] === '^' ? (i++, '^') : '';
      for (let n = 0; ; n++) {
        if (i >= pattern.length) return undefined;
        if (pattern[i] === ']' && n > 0) break;
        if (pattern[i] === ']' || pattern[i] === '-') return undefined;
        const lo = char();
        if (lo === undefined) return undefined;
        cls += lit(lo);
        if (pattern[i] === '-') {
          i++;
          if (pattern[i] === ']' || pattern[i] === '-') return undefined;
          const hi = char();
          if (hi === undefined || hi < lo) return undefined;
          cls += `-${lit(hi)}`;
        }
      }
      i++;
      re += `[${cls}]`;
    } else {
      const l = char();
      if (l === undefined) return undefined;
      re += lit(l);
    }
  }
  return new RegExp(`^${re}$`);
}
