import { InvalidArgumentError } from '../core/errors';
import { MAX_BYTES, describeBytes, describeNumber } from '../core/limits';

const MULTIPLIERS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * An amount of memory or storage. Create with `Size.mebibytes(512)` or parse Docker's syntax
 * (`"512m"`, `"1.5g"`, `"64k"`, binary units as `docker run --memory` reads them).
 * Props that take a Size also accept those strings.
 */
export class Size {
  public static bytes(amount: number): Size {
    return new Size(amount);
  }
  public static kibibytes(amount: number): Size {
    return new Size(amount * 1024);
  }
  public static mebibytes(amount: number): Size {
    return new Size(amount * 1024 ** 2);
  }
  public static gibibytes(amount: number): Size {
    return new Size(amount * 1024 ** 3);
  }

  /** Parses `"512m"`, `"1.5g"`, `"64kb"`, `"1024"` (bytes). Units are binary, as Docker's. */
  public static parse(text: string): Size {
    const r = _parseSizeText(text);
    if ('problem' in r) throw new InvalidArgumentError(`invalid size "${text}": ${r.problem}`);
    return new Size(r.bytes);
  }

  /** Accepts a Size or Docker's string syntax. */
  public static of(value: Size | string): Size {
    return typeof value === 'string' ? Size.parse(value) : value;
  }

  private constructor(private readonly amount: number) {
    if (!Number.isFinite(amount) || amount < 0) {
      throw new InvalidArgumentError(`invalid size ${amount} bytes: it must be a finite number of zero or more`);
    }
    if (amount > MAX_BYTES) throw new InvalidArgumentError(`invalid size: ${tooLarge(amount)}`);
  }

  /** Whole bytes (rounded down, as Docker does). */
  public toBytes(): number {
    return Math.floor(this.amount);
  }

  public toString(): string {
    const b = this.toBytes();
    for (const [unit, mult] of [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) {
      if (b >= mult && b % mult === 0) return `${b / mult}${unit}`;
    }
    return `${b}b`;
  }
}

/**
 * Docker's size syntax: the byte count of `text`, or what is wrong with it (without the text,
 * which the caller quotes with the flag or prop it came from).
 * @internal
 */
export function _parseSizeText(text: string): { bytes: number } | { problem: string } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return { problem: 'use a number with an optional unit b, k, m, g or t, such as "512m" or "1.5g"' };
  const bytes = Number(m[1]) * MULTIPLIERS[m[2].toLowerCase()];
  if (!(bytes <= MAX_BYTES)) return { problem: tooLarge(bytes) };
  return { bytes: Math.floor(bytes) };
}

/** A size above MAX_BYTES: the kernel and runc take 64-bit counts, but a plan's JSON keeps 2^53 - 1 exactly. */
function tooLarge(bytes: number): string {
  return `${describeNumber(bytes)} bytes is more than the largest size, ${describeBytes(MAX_BYTES)} (${MAX_BYTES} bytes); use a smaller size such as "512m"`;
}
