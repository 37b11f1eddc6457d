import { InvalidArgumentError } from './errors';

/**
 * Content digests (`algorithm:encoded`), parsed once, strictly, before any of them becomes a
 * file name. The grammar is the OCI image spec's (descriptor.md#digests):
 *
 *     digest     ::= algorithm ":" encoded
 *     algorithm  ::= component (separator component)*
 *     component  ::= [a-z0-9]+
 *     separator  ::= [+._-]
 *     encoded    ::= [a-zA-Z0-9=_-]+
 *
 * and of the registered algorithms only `sha256` (64 lowercase hex digits) is accepted: it is
 * the one the content store keeps and verifies. A `sha512` digest is grammatical but refused as
 * unsupported; anything else (`sha256:../../x`, wrong length, uppercase hex) is refused as
 * malformed. The error names where the value came from (`where`).
 */

/** A digest that failed to parse; the message names its source and the expected form. */
export class InvalidDigestError extends InvalidArgumentError {}

export interface Digest {
  readonly algorithm: 'sha256';
  /** The lowercase hex digits. */
  readonly hex: string;
  /** `sha256:<hex>` */
  readonly text: string;
}

const GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256 = /^sha256:([a-f0-9]{64})$/;

/** Longest value quoted back in a message (a hostile value may be huge). */
const QUOTE_MAX = 80;

function quote(value: unknown): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(s.length > QUOTE_MAX ? `${s.slice(0, QUOTE_MAX)}…` : s);
}

/**
 * Parses `value` as a sha256 digest. `where` names its source for the error
 * ("config diff_ids[0] of archive.tar", "Docker-Content-Digest of registry 127.0.0.1:5000").
 */
export function parseDigest(value: unknown, where: string): Digest {
  const m = typeof value === 'string' ? SHA256.exec(value) : null;
  if (m) return { algorithm: 'sha256', hex: m[1], text: value as string };
  const bad = (why: string): never => {
    throw new InvalidDigestError(`${where}: ${quote(value)} is not a valid digest (${why}); expected sha256: followed by 64 lowercase hex digits`);
  };
  if (typeof value !== 'string') return bad('not a string');
  if (!GRAMMAR.test(value)) return bad('not of the form algorithm:hex');
  const [algorithm, encoded] = [value.slice(0, value.indexOf(':')), value.slice(value.indexOf(':') + 1)];
  if (algorithm !== 'sha256') return bad(`the algorithm ${algorithm} is not supported`);
  if (/[A-F]/.test(encoded)) return bad('uppercase hex digits');
  if (encoded.length !== 64) return bad(`${encoded.length} characters instead of 64`);
  return bad('not hex');
}

/** Whether `value` is a valid sha256 digest. */
export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && SHA256.test(value);
}

/** The hex part of a digest, validated (a safe single path component). */
export function digestHex(value: unknown, where: string): string {
  return parseDigest(value, where).hex;
}
