/** Sizes as Docker prints them (github.com/docker/go-units). */

function scaled(n: number, base: number, units: readonly string[], precision: number): string {
  let v = n;
  let i = 0;
  while (v >= base && i < units.length - 1) {
    v /= base;
    i++;
  }
  // Go's %.Ng: N significant digits, trailing zeros dropped.
  return `${Number(v.toPrecision(precision))}${units[i]}`;
}

/** units.HumanSizeWithPrecision: decimal units (`1.5MB`); Docker uses 4 digits, 3 in `images`. */
export function humanSize(n: number, precision = 4): string {
  return scaled(n, 1000, ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'], precision);
}

/** units.BytesSize: binary units (`1.5MiB`), as `stats` prints memory. */
export function bytesSize(n: number): string {
  return scaled(n, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'], 4);
}
