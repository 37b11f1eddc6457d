/**
 * Parsers for the container props that compose files use for the host side of a container
 * (expose, extra_hosts, dns, sysctls, ulimits, devices): each returns the canonical plan form or
 * throws an OptionError whose message is shown after the construct path.
 */
import type { Device, Logging, Ulimit } from '../../plan/types';
import { InvalidArgumentError } from '../../core/errors';
import { formatPlatform, parsePlatform } from '../../core/platform';
import { MAX_BYTES } from '../../core/limits';
import { PortError, isIp, parsePort } from './ports';

/** A bad value; its message is shown after the construct path. */
export class OptionError extends Error {}

/** `8080`, `"8080"`, `"8080/udp"`, `"8000-8010"` → `["8080/tcp"]`… (ranges expanded). */
export function parseExpose(value: number | string): string[] {
  const text = String(value);
  if (typeof value !== 'number' && typeof value !== 'string') throw new OptionError(`expose ${JSON.stringify(value)} must be a port number or a string such as "8080/udp"`);
  if (text.includes(':')) throw new OptionError(`expose "${text}" is a port mapping; expose takes a container port such as "8080" or "8080/udp" (publish with ports)`);
  try {
    return parsePort(value).map((p) => `${p.containerPort}/${p.protocol}`);
  } catch (e) {
    if (e instanceof PortError) throw new OptionError(`expose ${e.message}`);
    throw e;
  }
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,252})$/;

/** extraHosts: a host name → an IPv4/IPv6 address or `host-gateway`. */
export function checkExtraHost(host: string, address: unknown): string {
  if (!HOSTNAME.test(host) || host.endsWith('.')) throw new OptionError(`extraHosts: "${host}" is not a host name (letters, digits, ".", "-" and "_")`);
  if (typeof address !== 'string' || !(address === 'host-gateway' || isIp(address))) {
    throw new OptionError(`extraHosts.${host}: "${String(address)}" is not an IPv4 or IPv6 address; give an address such as "10.0.0.5", or "host-gateway" for the host`);
  }
  return address;
}

/** dns: IP addresses of name servers. */
export function checkDnsServer(address: unknown): string {
  if (typeof address !== 'string' || !isIp(address)) throw new OptionError(`dns: "${String(address)}" is not an IPv4 or IPv6 address; give a name server's address such as "1.1.1.1"`);
  return address;
}

/** dnsSearch: domain names (`"."` = none, as Docker's --dns-search). */
export function checkDnsSearch(domain: unknown): string {
  if (typeof domain !== 'string' || !(domain === '.' || /^([A-Za-z0-9_-]+\.)*[A-Za-z0-9_-]+\.?$/.test(domain)) || domain.length > 253) {
    throw new OptionError(`dnsSearch: "${String(domain)}" is not a domain name, such as "example.com"`);
  }
  return domain;
}

/** dnsOptions: resolv.conf options such as `ndots:2`, `timeout:1`, `rotate`. */
export function checkDnsOption(option: unknown): string {
  if (typeof option !== 'string' || !/^[A-Za-z0-9_.:-]+$/.test(option)) {
    throw new OptionError(`dnsOptions: "${String(option)}" is not a resolv.conf option, such as "ndots:2" or "rotate"`);
  }
  return option;
}

/** The sysctls a container may set in its own namespaces (Docker's `ValidateSysctl`). */
export const IPC_SYSCTLS = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];

/** Whether a sysctl is of the IPC namespace (refused with `ipc: host`). */
export function isIpcSysctl(key: string): boolean {
  return IPC_SYSCTLS.includes(key) || key.startsWith('fs.mqueue.');
}

/** sysctls: a namespaced key and a one-line value. */
export function checkSysctl(key: string, value: unknown): string {
  if (!/^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/.test(key)) throw new OptionError(`sysctls: "${key}" is not a kernel parameter name, such as "net.core.somaxconn"`);
  if (!(key.startsWith('net.') || isIpcSysctl(key))) {
    throw new OptionError(`sysctls: "${key}" is not namespaced: a container can set only net.*, fs.mqueue.*, kernel.msg*, kernel.sem and kernel.shm* (Docker's rule); set it on the host instead`);
  }
  if (typeof value !== 'string' || /[\n\r\0]/.test(value)) throw new OptionError(`sysctls.${key} must be a string on one line, such as "1024"; convert numbers with String()`);
  return value;
}

/** Resource limits Docker's --ulimit knows. */
export const ULIMIT_NAMES = ['as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

/** ulimits: a number (soft = hard) or `{ soft, hard }`; -1 = unlimited. */
export function parseUlimit(name: string, value: unknown): Ulimit {
  if (!ULIMIT_NAMES.includes(name)) throw new OptionError(`ulimits: "${name}" is not a resource limit; use one of ${ULIMIT_NAMES.join(', ')}`);
  const check = (n: unknown, what: string): number => {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < -1 || n > MAX_BYTES) {
      throw new OptionError(`ulimits.${name}${what} ${String(n)} must be a whole number of 0 or more, or -1 for unlimited`);
    }
    return n;
  };
  let soft: number;
  let hard: number;
  if (typeof value === 'number') {
    soft = hard = check(value, '');
  } else if (value !== null && typeof value === 'object' && 'soft' in value && 'hard' in value) {
    soft = check((value as Ulimit).soft, '.soft');
    hard = check((value as Ulimit).hard, '.hard');
  } else {
    throw new OptionError(`ulimits.${name} must be a number or { soft, hard }, such as 65536 or { soft: 1024, hard: 65536 }`);
  }
  if (hard !== -1 && (soft === -1 || soft > hard)) throw new OptionError(`ulimits.${name}: the soft limit ${soft} is above the hard limit ${hard}; make soft at most hard`);
  return { soft, hard };
}

/** A host device to give the container. */
export interface DeviceOptions {
  /** Absolute path of the device node on the host, such as `/dev/fuse`. */
  readonly hostPath: string;
  /**
   * Absolute path in the container.
   * @default - the host path
   */
  readonly containerPath?: string;
  /**
   * cgroup permissions: `r` (read), `w` (write), `m` (mknod), any of them.
   * @default "rwm"
   */
  readonly permissions?: string;
}

/** devices: `"/dev/x"`, `"/dev/x:/dev/y"`, `"/dev/x:/dev/y:rw"`, `"/dev/x:rw"` or DeviceOptions. */
export function parseDevice(input: string | DeviceOptions): Device {
  let hostPath: string;
  let containerPath: string | undefined;
  let permissions: string | undefined;
  const quoted = typeof input === 'string' ? `"${input}"` : JSON.stringify(input);
  if (typeof input === 'string') {
    const parts = input.split(':');
    if (parts.length > 3) throw new OptionError(`devices: ${quoted} is not a device: use "hostPath[:containerPath][:permissions]", such as "/dev/fuse" or "/dev/sda:/dev/xvda:rw"`);
    hostPath = parts[0];
    if (parts.length === 2 && /^[rwm]+$/.test(parts[1])) permissions = parts[1];
    else containerPath = parts[1];
    if (parts.length === 3) permissions = parts[2];
  } else if (input !== null && typeof input === 'object' && typeof input.hostPath === 'string') {
    ({ hostPath, containerPath, permissions } = input);
  } else {
    throw new OptionError(`devices: ${String(quoted)} is not a device: give a path such as "/dev/fuse" or { hostPath: "/dev/fuse" }`);
  }
  const absolute = (p: string): boolean => p.startsWith('/') && !p.includes('\0') && !p.split('/').some((s) => s === '..');
  if (!absolute(hostPath)) throw new OptionError(`devices: ${quoted}: the host path "${hostPath}" must be an absolute path, such as "/dev/fuse"`);
  containerPath = containerPath === undefined || containerPath === '' ? hostPath : containerPath;
  if (!absolute(containerPath)) throw new OptionError(`devices: ${quoted}: the container path "${containerPath}" must be an absolute path, such as "/dev/fuse"`);
  const perms = permissions ?? 'rwm';
  if (!/^[rwm]{1,3}$/.test(perms) || new Set(perms).size !== perms.length) {
    throw new OptionError(`devices: ${quoted}: permissions "${perms}" must be made of "r", "w" and "m", each at most once, such as "rwm" or "r"`);
  }
  return { hostPath, containerPath, permissions: ['r', 'w', 'm'].filter((c) => perms.includes(c)).join('') };
}

/** A file's path in the container: absolute, no `.`/`..` or empty segment (the plan's `fileTarget`). */
export function isFileTarget(p: string): boolean {
  return /^(\/(?!\.\.?(\/|$))[^/\0]+)+$/.test(p) && p.length <= 4096;
}

/** A uid or gid given as compose gives it, a string of digits (a number is taken too). */
export function parseId(value: string | number | undefined, what: string, maxId: number): number {
  if (value === undefined) return 0;
  const text = String(value);
  if (!/^\d+$/.test(text) || Number(text) > maxId) throw new OptionError(`${what} "${text}" must be a numeric id from 0 to ${maxId}, such as "1000"`);
  return Number(text);
}

const LOG_DRIVER = /^[a-z0-9][a-z0-9._/:-]*$/;
const LOG_OPTION = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** logging: a driver name (a plugin's `owner/name:tag` too) and string options, as given. */
export function parseLogging(value: { readonly driver: string; readonly options?: { readonly [key: string]: string } }): Logging {
  if (typeof value !== 'object' || value === null) throw new OptionError(`logging ${JSON.stringify(value)} must be an object such as { driver: "json-file" }`);
  const { driver, options } = value;
  if (typeof driver !== 'string' || !LOG_DRIVER.test(driver) || driver.length > 255) {
    throw new OptionError(`logging driver ${JSON.stringify(driver)} is not a log driver name, such as "json-file", "local" or "syslog"`);
  }
  const out: { [key: string]: string } = {};
  for (const [k, v] of Object.entries(options ?? {})) {
    if (!LOG_OPTION.test(k) || k.length > 255) throw new OptionError(`logging option ${JSON.stringify(k)} is not an option name, such as "max-size"`);
    if (typeof v !== 'string') throw new OptionError(`logging option ${k}: ${JSON.stringify(v)} is not a string; quote it, such as "${String(v)}"`);
    out[k] = v;
  }
  return { driver, options: out };
}

/** platform: `os/arch[/variant]`, normalised as Docker normalises it; an OS alone is refused (it would mean this host's architecture). */
export function parseContainerPlatform(value: string): string {
  if (typeof value !== 'string' || !value.includes('/')) {
    throw new OptionError(`platform ${JSON.stringify(value)} names no architecture; give os/arch, such as "linux/amd64" or "linux/arm64"`);
  }
  try {
    return formatPlatform(parsePlatform(value));
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new OptionError(`platform ${e.message}`);
    throw e;
  }
}

/** runtime: an OCI runtime name as the engine registers it (`runc`, `runsc`, `io.containerd.runc.v2`). */
export function checkRuntime(value: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value) || value.length > 255) {
    throw new OptionError(`runtime ${JSON.stringify(value)} is not a runtime name, such as "runc" or "runsc"`);
  }
  return value;
}
