/** IPv4 helpers shared by network validation and the runtime's IPAM. */

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

export function isIpv4(s: string): boolean {
  return IPV4.test(s);
}

export function ipv4ToInt(s: string): number {
  return s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export interface Cidr {
  /** Network address (host bits zero). */
  readonly network: number;
  readonly prefix: number;
  /** Number of addresses. */
  readonly size: number;
}

/** Parses `a.b.c.d/n`; returns a problem string on failure. */
export function parseCidr(s: string): Cidr | string {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m || !isIpv4(m[1]) || Number(m[2]) > 32) return `"${s}" is not an IPv4 CIDR such as "172.28.0.0/16"`;
  const prefix = Number(m[2]);
  const size = 2 ** (32 - prefix);
  const addr = ipv4ToInt(m[1]);
  const network = addr - (addr % size);
  if (network !== addr) return `"${s}" has host bits set; the network is "${intToIpv4(network)}/${prefix}"`;
  return { network, prefix, size };
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ip >= c.network && ip < c.network + c.size;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.network < b.network + b.size && b.network < a.network + a.size;
}
