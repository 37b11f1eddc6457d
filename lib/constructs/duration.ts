import { parseGoDuration } from '../core/duration';
import { InvalidArgumentError } from '../core/errors';

/**
 * A length of time. Create with `Duration.seconds(5)`, `Duration.millis(500)`,
 * `Duration.minutes(1)` or parse Docker's syntax with `Duration.parse("1m30s")`.
 * Props that take a Duration also accept those strings.
 */
export class Duration {
  public static millis(amount: number): Duration {
    return new Duration(amount);
  }
  public static seconds(amount: number): Duration {
    return new Duration(amount * 1000);
  }
  public static minutes(amount: number): Duration {
    return new Duration(amount * 60_000);
  }
  public static hours(amount: number): Duration {
    return new Duration(amount * 3_600_000);
  }

  /** Parses Go/Docker durations: `"30s"`, `"1m30s"`, `"500ms"`, `"1.5h"`. A bare number is seconds. */
  public static parse(text: string): Duration {
    const s = text.trim();
    if (/^\d+(\.\d+)?$/.test(s)) return Duration.seconds(Number(s));
    try {
      return new Duration(parseGoDuration(s) / 1e6);
    } catch {
      if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) throw new InvalidArgumentError(`invalid duration "${text}": longer than Go's longest duration, 2562047h; use a shorter one such as "30s"`);
      throw new InvalidArgumentError(`invalid duration "${text}": use a number with a unit, such as "30s", "1m30s" or "500ms"`);
    }
  }

  /** Accepts a Duration or Docker's string syntax. */
  public static of(value: Duration | string): Duration {
    return typeof value === 'string' ? Duration.parse(value) : value;
  }

  private constructor(private readonly ms: number) {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new InvalidArgumentError(`invalid duration ${ms} ms: it must be a finite number of zero or more`);
    }
  }

  /** Whole milliseconds (rounded). */
  public toMilliseconds(): number {
    return Math.round(this.ms);
  }

  /** Whole seconds (rounded up, so a non-zero duration never becomes zero). */
  public toSeconds(): number {
    return Math.ceil(this.ms / 1000);
  }

  public toString(): string {
    const ms = this.toMilliseconds();
    if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
    if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
    if (ms % 1000 === 0) return `${ms / 1000}s`;
    return `${ms}ms`;
  }
}
