/**
 * IPv4 arithmetic shared by network validation (lib/constructs) and the runtime's IPAM
 * (runtime/networks/ipam.ts): addresses as unsigned 32-bit numbers, prefixes as base + length.
 */

/** An IPv4 prefix: `base` is the network address as an unsigned 32-bit number. */
export interface Cidr {
  readonly base: number;
  readonly prefix: number;
}

/** Parses a dotted-quad IPv4 address (no leading zeros, as Go's net.ParseIP); undefined when it is not one. */
export function tryParseIp(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith('0')))) return undefined;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function isIpv4(s: string): boolean {
  return tryParseIp(s) !== undefined;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * Reads `a.b.c.d/n`: the prefix with any host bits dropped, and the address as written;
 * undefined when the text is not IPv4 CIDR notation. Callers decide what host bits mean.
 */
export function readCidr(s: string): { cidr: Cidr; address: number } | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m || Number(m[2]) > 32) return undefined;
  const address = tryParseIp(m[1]);
  if (address === undefined) return undefined;
  const prefix = Number(m[2]);
  return { cidr: { base: (address & mask(prefix)) >>> 0, prefix }, address };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.base)}/${c.prefix}`;
}

/** The first and the last address of a prefix. */
export function bounds(c: Cidr): [number, number] {
  return [c.base, (c.base + 2 ** (32 - c.prefix) - 1) >>> 0];
}

/** Whether the prefix holds the address. */
export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}

/** Whether two prefixes share an address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/** Whether `inner` lies wholly inside `outer`. */
export function within(inner: Cidr, outer: Cidr): boolean {
  return inner.prefix >= outer.prefix && contains(outer, inner.base);
}

/** Parses `a.b.c.d/n` for prop validation; returns a problem string on failure. */
export function parseCidr(s: string): Cidr | string {
  const read = readCidr(s);
  if (!read) return `"${s}" is not an IPv4 CIDR such as "172.28.0.0/16"`;
  if (read.cidr.base !== read.address) return `"${s}" has host bits set; the network is "${formatCidr(read.cidr)}"`;
  return read.cidr;
}
