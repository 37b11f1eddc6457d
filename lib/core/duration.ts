import { InvalidArgumentError } from './errors';

/** The longest Go duration, 2^63 - 1 ns (about 292 years; a double rounds it to 2^63). */
const MAX_GO_DURATION_NS = 2 ** 63;

const NANOS: { readonly [unit: string]: number } = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/**
 * Go's `time.ParseDuration` as Docker's flags and Dockerfile options take it (`30s`, `1m30s`,
 * `1.5h`, `500ms`, `0`), in nanoseconds; anything else, or anything longer than Go's int64 of
 * nanoseconds, is `time: invalid duration "…"`.
 */
export function parseGoDuration(text: string): number {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let i = 0;
  while (i < text.length) {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) break;
    total += Number(m[1]) * NANOS[m[2]];
    i = re.lastIndex;
  }
  if (text.length === 0 || i !== text.length) throw new InvalidArgumentError(`time: invalid duration "${text}"`);
  // Go's Duration is an int64 of nanoseconds: a longer one is an error there too, not a wrap.
  if (total > MAX_GO_DURATION_NS) throw new InvalidArgumentError(`time: invalid duration "${text}"`);
  return Math.round(total);
}

/**
 * A duration as Docker shows ages (`Up 2 minutes`, `3 hours ago`): docker/go-units
 * HumanDuration — seconds and minutes cut down, hours rounded to the nearest, and days, weeks and
 * months whole ones of those rounded hours.
 */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(s / 60);
  const hours = Math.floor(Math.max(0, ms) / 3_600_000 + 0.5);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(Math.floor(Math.max(0, ms) / 3_600_000) / 24 / 365)} years`;
}
