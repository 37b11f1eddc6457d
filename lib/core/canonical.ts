import { createHash, createHmac } from 'node:crypto';

/**
 * Returns a copy of `value` with object keys sorted and `undefined` members dropped, so that
 * equal data always serialises to the same bytes (and hashes to the same digest).
 */
export function canonicalize<T>(value: T): T {
  return sortValue(value) as T;
}

function sortValue(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map((v) => (v === undefined ? null : sortValue(v)));
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortValue(v);
    }
    return out;
  }
  return value;
}

/** Canonical JSON: sorted keys, no undefined, `indent` spaces (0 = compact). */
export function canonicalJson(value: unknown, indent = 0): string {
  return JSON.stringify(canonicalize(value), undefined, indent || undefined);
}

/** `sha256:<hex>` of a string or buffer. */
export function sha256(data: string | Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** `sha256:<hex>` of the canonical JSON of `value`. Never hash non-canonical JSON. */
export function hashObject(value: unknown): string {
  return sha256(canonicalJson(value));
}

/** `hmac-sha256:<hex>` of `data` under `key`. */
export function hmacSha256(key: string | Buffer, data: string | Buffer): string {
  return `hmac-sha256:${createHmac('sha256', key).update(data).digest('hex')}`;
}

/**
 * Orders strings by UTF-16 code units, as `sort()` without a comparator and Go's sort.Strings do:
 * the same order in every locale. Not `localeCompare`: its first call in a thread builds an ICU
 * collator (~5 ms here), which every no-op apply paid on its main thread.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
