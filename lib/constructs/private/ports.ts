import type { PortMapping, Protocol } from '../../plan/types';

const PROTOCOLS: Protocol[] = ['tcp', 'udp', 'sctp'];

/** A published port as users write it in props. */
export interface PortOptions {
  /** Port inside the container. */
  readonly containerPort: number;
  /**
   * Port on the host.
   * @default - a free port chosen at apply
   */
  readonly hostPort?: number;
  /**
   * Host address to bind.
   * @default "0.0.0.0" (all addresses)
   */
  readonly hostIp?: string;
  /**
   * @default "tcp"
   */
  readonly protocol?: Protocol | 'TCP' | 'UDP' | 'SCTP';
  /**
   * On a Swarm: `ingress` publishes the port on every node through the routing mesh; `host`
   * only on the node that runs each task. Other engines publish on their host either way.
   * @default "ingress"
   * @see https://docs.docker.com/engine/swarm/ingress/
   */
  readonly mode?: 'ingress' | 'host';
}

/**
 * Parses Docker's `-p` syntax — `"80"`, `"8080:80"`, `"127.0.0.1:8080:80/tcp"`,
 * `"127.0.0.1::80"`, `"[::1]:8080:80"`, ranges `"8000-8001:80-81"` — or the object form, into
 * canonical mappings. Throws a string message (the caller prefixes the construct path).
 */
export function parsePort(input: PortOptions | string | number): PortMapping[] {
  if (typeof input === 'number') return [canonical(input, 0, '0.0.0.0', 'tcp', String(input))];
  if (typeof input === 'object' && input !== null) {
    const protocol = checkProtocol(String(input.protocol ?? 'tcp'), JSON.stringify(input));
    if (input.mode !== undefined && input.mode !== 'ingress' && input.mode !== 'host') {
      throw new PortError(`${JSON.stringify(input)}: mode "${String(input.mode)}" is not one of "ingress", "host"`);
    }
    const mapping = canonical(input.containerPort, input.hostPort ?? 0, input.hostIp ?? '0.0.0.0', protocol, JSON.stringify(input));
    return [input.mode === 'host' ? { ...mapping, mode: 'host' } : mapping];
  }
  const text = String(input);
  let rest = text.trim();
  let protocol: Protocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    protocol = checkProtocol(rest.slice(slash + 1), `"${text}"`);
    rest = rest.slice(0, slash);
  }
  let hostIp = '0.0.0.0';
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') throw new PortError(`"${text}": an IPv6 host address must be written as "[::1]:8080:80"`);
    hostIp = rest.slice(1, close);
    rest = rest.slice(close + 2);
  }
  const parts = rest.split(':');
  let hostPart = '';
  let containerPart: string;
  if (parts.length === 1) {
    containerPart = parts[0];
  } else if (parts.length === 2) {
    [hostPart, containerPart] = parts;
  } else if (parts.length === 3 && hostIp === '0.0.0.0') {
    [hostIp, hostPart, containerPart] = parts;
    if (hostIp === '') throw new PortError(`"${text}": the host address before the first ":" is empty`);
  } else {
    throw new PortError(`"${text}" is not a port mapping: use "[hostIp:][hostPort:]containerPort[/protocol]", for example "127.0.0.1:8080:80/tcp"`);
  }
  const containers = parseRange(containerPart, text, 'containerPort');
  const hosts = hostPart === '' ? containers.map(() => 0) : parseRange(hostPart, text, 'hostPort');
  if (hosts.length !== containers.length) {
    throw new PortError(`"${text}": the host range has ${hosts.length} ports but the container range has ${containers.length}; give ranges of the same length`);
  }
  return containers.map((c, i) => canonical(c, hosts[i], hostIp, protocol, text));
}

/** Error raised by parsePort; its message is shown after the construct path. */
export class PortError extends Error {}

function parseRange(part: string, text: string, what: 'containerPort' | 'hostPort'): number[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(part);
  if (!m) throw new PortError(`"${text}": ${what} "${part}" is not a number or a range like 8000-8010`);
  const start = checkPort(Number(m[1]), what, text, what === 'hostPort');
  const end = m[2] === undefined ? start : checkPort(Number(m[2]), what, text, what === 'hostPort');
  if (end < start) throw new PortError(`"${text}": the range ${part} ends before it starts; write it as ${end}-${start}`);
  const out: number[] = [];
  for (let p = start; p <= end; p++) out.push(p);
  return out;
}

/** The user's input as messages quote it: short syntax in quotes, the object form as JSON. */
function quote(text: string): string {
  return text.startsWith('{') ? text : `"${text}"`;
}

function checkPort(port: number, what: string, text: string, zeroOk = false): number {
  if (!Number.isInteger(port)) throw new PortError(`${quote(text)}: ${what} ${port} must be a whole number from 1 to 65535`);
  if (port < (zeroOk ? 0 : 1) || port > 65535) throw new PortError(`${quote(text)}: ${what} ${port} is out of range 1-65535`);
  return port;
}

function checkProtocol(p: string, text: string): Protocol {
  const lower = p.toLowerCase();
  if ((PROTOCOLS as string[]).includes(lower)) return lower as Protocol;
  const guess = PROTOCOLS.map((c) => [c, distance(lower, c)] as const).sort((a, b) => a[1] - b[1])[0];
  const hint = guess[1] <= 1 ? ` — did you mean "${guess[0]}"?` : ' — use "tcp", "udp" or "sctp"';
  throw new PortError(`${text}: unknown protocol "${p}"${hint}`);
}

function canonical(containerPort: number, hostPort: number, hostIp: string, protocol: Protocol, text: string): PortMapping {
  checkPort(containerPort, 'containerPort', text);
  checkPort(hostPort, 'hostPort', text, true);
  if (!isIp(hostIp)) throw new PortError(`${quote(text)}: hostIp "${hostIp}" is not an IPv4 or IPv6 address`);
  return { containerPort, protocol, hostIp, hostPort };
}

export function isIp(s: string): boolean {
  return /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(s) || (/^[0-9a-fA-F:]+$/.test(s) && s.includes(':'));
}

/**
 * Edit distance counting a swap of two neighbours as one edit (optimal string alignment), for
 * "did you mean" hints: "tpc" is 1 from "tcp", "icmp" is 2.
 */
export function distance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) dp[i][j] = Math.min(dp[i][j], dp[i - 2][j - 2] + 1);
    }
  }
  return dp[a.length][b.length];
}

/** Whether two mappings would claim the same host address and port. */
export function portsClash(a: PortMapping, b: PortMapping): boolean {
  if (a.hostPort === 0 || b.hostPort === 0) return false;
  if (a.hostPort !== b.hostPort || a.protocol !== b.protocol) return false;
  const wildcard = (ip: string) => ip === '0.0.0.0' || ip === '::';
  return a.hostIp === b.hostIp || wildcard(a.hostIp) || wildcard(b.hostIp);
}
