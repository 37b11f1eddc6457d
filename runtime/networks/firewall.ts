import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { CdkDockerError } from '../../lib/core/errors';
import { packageRoot } from '../../lib/core/package-info';
import { findHelper } from '../host';
import { runTool, ToolError } from '../util/exec';
import type { NetavarkNetwork, PortMapping } from './types';

/**
 * The firewall of the runtime's bridge networks: NAT out of a network, isolation between
 * networks, and published ports.
 *
 * netavark 1.4 writes these rules one `iptables` process at a time — ~25 at a container's setup
 * and ~20 at its teardown, checks included, whether anything changes or not (~230 ms of a
 * `run --rm` on the default network here) — and has no firewall driver that leaves them to its
 * caller (`NETAVARK_FW=none` came with 1.6; Debian 12 has 1.4). So the runtime writes them itself: one
 * `iptables-save` to see what is there and one `iptables-restore --noflush` with what is missing
 * (or, at teardown, what is to go), atomic per table. netavark keeps everything else — bridge,
 * veth, addresses, routes, sysctls, aardvark-dns — and runs with `noFirewallPath()` first on its
 * PATH, where `iptables` changes nothing (NETAVARK_FW=iptables, so that a running firewalld does
 * not take over).
 *
 * The rules are netavark 1.4's own, byte for byte as `iptables-save` prints them, in its chains
 * (NETAVARK-<hash>, NETAVARK_FORWARD, NETAVARK_ISOLATION_1/2, NETAVARK-HOSTPORT-*, NETAVARK-DN-<hash>,
 * the hash being the first 13 hex digits of SHA-512 of the network's netavark name): what an
 * earlier version of cdk-docker had netavark make is removed by this one, and podman's netavark
 * shares the chains as before. Lifecycle, as netavark's: a network's rules are written with its
 * first container and removed when its bridge has none left (`complete`); a container's port rules
 * come and go with it; the chains every network shares stay. Unlike netavark 1.4, FORWARD's jump to
 * NETAVARK_ISOLATION_1 is removed only with the chain's last rule, so tearing one network down
 * never leaves the others unisolated.
 *
 * Callers hold the host lock (`HostLock`) so that no other process changes the tables between the
 * save and the restore; within a process, changes run one at a time (`serial`).
 */

type Table = 'filter' | 'nat';

const TABLES: readonly Table[] = ['filter', 'nat'];

/** One rule, `spec` as iptables-save prints it after `-A CHAIN`. */
interface Rule {
  readonly table: Table;
  readonly chain: string;
  readonly spec: string;
  /**
   * Where it is inserted (`-I CHAIN N`) instead of appended: a number, or `afterIsolation` (just
   * after FORWARD's jump to NETAVARK_ISOLATION_1 when there is one, else first).
   */
  readonly position?: number | 'afterIsolation';
  /** Rules every network shares stay when one goes (netavark's `TeardownPolicy::Never`). */
  readonly shared?: boolean;
  /** Removed only with the network (netavark's `OnComplete`), not with one container. */
  readonly network?: boolean;
}

interface Chain {
  readonly table: Table;
  readonly name: string;
  /** A chain of one network: removed once no rule is left in it and none jumps to it. */
  readonly own: boolean;
}

/** The chains and rules of one network, or of one container's published ports on it. */
export interface RuleSet {
  readonly chains: readonly Chain[];
  readonly rules: readonly Rule[];
}

/** The network as the firewall needs it: netavark's description. */
export type FirewallNetwork = Pick<NetavarkNetwork, 'name' | 'network_interface' | 'subnets' | 'internal' | 'options'>;

const FORWARD_CHAIN = 'NETAVARK_FORWARD';
const ISOLATION_1 = 'NETAVARK_ISOLATION_1';
const ISOLATION_2 = 'NETAVARK_ISOLATION_2';
const HOSTPORT_DNAT = 'NETAVARK-HOSTPORT-DNAT';
const HOSTPORT_SETMARK = 'NETAVARK-HOSTPORT-SETMARK';
const HOSTPORT_MASQ = 'NETAVARK-HOSTPORT-MASQ';
const ISOLATION_JUMP = `-j ${ISOLATION_1}`;
const MARK = '0x2000/0x2000';

/** netavark's name hash: the first 13 upper-case hex digits of SHA-512 of the network's name. */
export function networkHash(name: string): string {
  return createHash('sha512').update(name).digest('hex').toUpperCase().slice(0, 13);
}

/**
 * Every chain netavark 1.4 makes for networks `names` (and the shared ones): the no-op iptables
 * lists them when netavark asks whether a chain exists, so it runs no `-N` for them.
 */
export function netavarkChains(names: readonly string[]): string[] {
  const own = names.flatMap((n) => [`NETAVARK-${networkHash(n)}`, `NETAVARK-DN-${networkHash(n)}`]);
  return [ISOLATION_1, ISOLATION_2, FORWARD_CHAIN, HOSTPORT_SETMARK, HOSTPORT_MASQ, HOSTPORT_DNAT, ...own];
}

function ipv4Subnets(network: FirewallNetwork): string[] {
  return network.subnets.map((s) => s.subnet).filter((s) => !s.includes(':'));
}

/** The rules of a network itself (none for an internal one: no way out, no NAT). */
export function networkRules(network: FirewallNetwork): RuleSet {
  if (network.internal) return { chains: [], rules: [] };
  const own = `NETAVARK-${networkHash(network.name)}`;
  const bridge = network.network_interface;
  const isolate = network.options.isolate === 'true';
  const chains: Chain[] = [{ table: 'nat', name: own, own: true }, { table: 'filter', name: FORWARD_CHAIN, own: false }];
  if (isolate) chains.push({ table: 'filter', name: ISOLATION_1, own: false }, { table: 'filter', name: ISOLATION_2, own: false });
  const rules: Rule[] = [];
  for (const subnet of ipv4Subnets(network)) {
    rules.push(
      { table: 'nat', chain: own, spec: `-d ${subnet} -j ACCEPT`, network: true },
      { table: 'nat', chain: own, spec: '! -d 224.0.0.0/4 -j MASQUERADE', network: true },
      { table: 'nat', chain: 'POSTROUTING', spec: `-s ${subnet} -j ${own}`, network: true },
    );
    if (isolate) {
      rules.push(
        // Removed with NETAVARK_ISOLATION_1's last rule, whoever's (see `remove`).
        { table: 'filter', chain: 'FORWARD', spec: ISOLATION_JUMP, position: 1, shared: true },
        { table: 'filter', chain: ISOLATION_1, spec: `-i ${bridge} ! -o ${bridge} -j ${ISOLATION_2}`, position: 1, network: true },
        { table: 'filter', chain: ISOLATION_2, spec: `-o ${bridge} -j DROP`, position: 1, network: true },
      );
    }
    rules.push(
      { table: 'filter', chain: 'FORWARD', spec: `-m comment --comment "netavark firewall plugin rules" -j ${FORWARD_CHAIN}`, position: 'afterIsolation', shared: true },
      { table: 'filter', chain: FORWARD_CHAIN, spec: `-d ${subnet} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`, network: true },
      { table: 'filter', chain: FORWARD_CHAIN, spec: `-s ${subnet} -j ACCEPT`, network: true },
    );
  }
  return { chains, rules };
}

/**
 * The rules publishing `ports` of container `containerId` at `ip` on `network` (as netavark, on
 * every network of the container that is not internal). Host addresses are IPv4 (`checkPort`).
 */
export function portRules(network: FirewallNetwork, containerId: string, ip: string, ports: readonly PortMapping[]): RuleSet {
  const subnet = ipv4Subnets(network)[0];
  if (network.internal || ports.length === 0 || subnet === undefined) return { chains: [], rules: [] };
  const dn = `NETAVARK-DN-${networkHash(network.name)}`;
  const chains: Chain[] = [
    { table: 'nat', name: HOSTPORT_SETMARK, own: false },
    { table: 'nat', name: HOSTPORT_MASQ, own: false },
    { table: 'nat', name: dn, own: true },
    { table: 'nat', name: HOSTPORT_DNAT, own: false },
  ];
  const rules: Rule[] = [
    { table: 'nat', chain: HOSTPORT_SETMARK, spec: `-j MARK --set-xmark ${MARK}`, shared: true },
    { table: 'nat', chain: HOSTPORT_MASQ, spec: `-m comment --comment "netavark portfw masq mark" -m mark --mark ${MARK} -j MASQUERADE`, shared: true },
    { table: 'nat', chain: 'POSTROUTING', spec: `-j ${HOSTPORT_MASQ}`, position: 1, shared: true },
  ];
  const jumps: Rule[] = [];
  for (const p of ports) {
    const range = p.range ?? 1;
    const hostPorts = range > 1 ? `${p.hostPort}:${p.hostPort + range - 1}` : `${p.hostPort}`;
    const to = range > 1 ? `${p.containerPort}-${p.containerPort + range - 1}/${p.hostPort}` : `${p.containerPort}`;
    const match = `-p ${p.protocol} -m ${p.protocol} --dport ${hostPorts}`;
    const dst = p.hostIp && p.hostIp !== '0.0.0.0' ? ` -d ${p.hostIp}/32` : '';
    rules.push(
      { table: 'nat', chain: dn, spec: `-s ${subnet}${dst} ${match} -j ${HOSTPORT_SETMARK}` },
      { table: 'nat', chain: dn, spec: `-s 127.0.0.1/32${dst} ${match} -j ${HOSTPORT_SETMARK}` },
      { table: 'nat', chain: dn, spec: `${dst ? `${dst.trim()} ` : ''}${match} -j DNAT --to-destination ${ip}:${to}` },
    );
    jumps.push({ table: 'nat', chain: HOSTPORT_DNAT, spec: `${match} -m comment --comment "dnat name: ${network.name} id: ${containerId}" -j ${dn}` });
  }
  rules.push(
    ...jumps,
    { table: 'nat', chain: 'PREROUTING', spec: `-m addrtype --dst-type LOCAL -j ${HOSTPORT_DNAT}`, shared: true },
    { table: 'nat', chain: 'OUTPUT', spec: `-m addrtype --dst-type LOCAL -j ${HOSTPORT_DNAT}`, shared: true },
  );
  return { chains, rules };
}

// --- applying ------------------------------------------------------------------------------------

/** The filter and nat tables as iptables-save printed them: chain names and their rules in order. */
type Tables = Map<Table, Map<string, string[]>>;

function parseSave(text: string): Tables {
  const tables: Tables = new Map(TABLES.map((t) => [t, new Map<string, string[]>()]));
  let current: Map<string, string[]> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) current = tables.get(line.slice(1).trim() as Table);
    else if (!current || line.startsWith('#') || line === 'COMMIT') continue;
    else if (line.startsWith(':')) current.set(line.slice(1).split(' ')[0], current.get(line.slice(1).split(' ')[0]) ?? []);
    else if (line.startsWith('-A ')) {
      const rest = line.slice(3);
      const space = rest.indexOf(' ');
      const chain = space < 0 ? rest : rest.slice(0, space);
      const list = current.get(chain) ?? [];
      list.push(space < 0 ? '' : rest.slice(space + 1));
      current.set(chain, list);
    }
  }
  return tables;
}

/** What one restore will do, and the tables as they will be after it. */
class Change {
  public readonly lines = new Map<Table, string[]>(TABLES.map((t) => [t, []]));
  /** The chains and rules this change makes, to check and, if need be, undo (`install`). */
  public readonly created: { table: Table; name: string }[] = [];
  public readonly added: { table: Table; chain: string; spec: string }[] = [];
  constructor(public readonly tables: Tables) {}

  public chain(table: Table, name: string): string[] | undefined {
    return this.tables.get(table)?.get(name);
  }

  public addChain(table: Table, name: string): void {
    if (this.chain(table, name)) return;
    this.tables.get(table)!.set(name, []);
    this.lines.get(table)!.push(`:${name} - [0:0]`);
    this.created.push({ table, name });
  }

  public add(rule: Rule): void {
    // A built-in chain of a table not made yet: the restore makes it (no policy line: that would set it).
    let list = this.chain(rule.table, rule.chain);
    if (!list) this.tables.get(rule.table)!.set(rule.chain, (list = []));
    if (list.includes(rule.spec)) return;
    this.added.push({ table: rule.table, chain: rule.chain, spec: rule.spec });
    let at = rule.position === 'afterIsolation' ? list.indexOf(ISOLATION_JUMP) + 2 : rule.position;
    if (at !== undefined && at > list.length) at = undefined;
    if (at === undefined) {
      list.push(rule.spec);
      this.lines.get(rule.table)!.push(`-A ${rule.chain} ${rule.spec}`);
    } else {
      list.splice(at - 1, 0, rule.spec);
      this.lines.get(rule.table)!.push(`-I ${rule.chain} ${at} ${rule.spec}`);
    }
  }

  public delete(table: Table, chain: string, spec: string): void {
    const list = this.chain(table, chain);
    const i = list?.indexOf(spec) ?? -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    this.lines.get(table)!.push(`-D ${chain} ${spec}`);
  }

  /** Deletes chain `name` of `table` when it has no rule and no rule jumps to it. */
  public deleteChainIfUnused(table: Table, name: string): void {
    const chains = this.tables.get(table)!;
    if (chains.get(name)?.length !== 0) return;
    const jump = new RegExp(`(^|\\s)-[jg] ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`);
    for (const rules of chains.values()) if (rules.some((r) => jump.test(r))) return;
    chains.delete(name);
    this.lines.get(table)!.push(`-X ${name}`);
  }

  public get empty(): boolean {
    return TABLES.every((t) => this.lines.get(t)!.length === 0);
  }

  public text(): string {
    return restoreInput(this.lines);
  }
}

/** iptables-restore's input: each table with lines, then COMMIT. */
function restoreInput(lines: ReadonlyMap<Table, readonly string[]>): string {
  return TABLES.filter((t) => (lines.get(t)?.length ?? 0) > 0).map((t) => `*${t}\n${lines.get(t)!.join('\n')}\nCOMMIT\n`).join('');
}

let queue: Promise<unknown> = Promise.resolve();

/** Runs `fn` after every firewall change of this process begun before it. */
function serial<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

/** Writes whatever of `sets` is missing, in one iptables-restore. */
export function install(sets: readonly RuleSet[], what: string): Promise<void> {
  return serial(async () => {
    const change = new Change(parseSave(await save(what)));
    for (const s of sets) for (const c of s.chains) change.addChain(c.table, c.name);
    for (const s of sets) for (const r of s.rules) change.add(r);
    if (change.empty) return;
    await restore(change, what);
    // Each rule must read back as written: what is there is found by its text, so a rule this
    // iptables prints in another form would be written again by every setup and never removed.
    // Undone (iptables deletes by meaning, not text) and refused instead.
    const now = parseSave(await save(what));
    const unseen = change.added.find((r) => !now.get(r.table)?.get(r.chain)?.includes(r.spec));
    if (unseen) {
      const undo = new Map(TABLES.map((t) => [t, [
        ...change.added.filter((r) => r.table === t).map((r) => `-D ${r.chain} ${r.spec}`),
        ...change.created.filter((c) => c.table === t).map((c) => `-X ${c.name}`),
      ]]));
      await restoreText(restoreInput(undo), what).catch(() => undefined);
      throw new CdkDockerError(
        `cannot ${what}: iptables-save shows the rule "-A ${unseen.chain} ${unseen.spec}" (table ${unseen.table}) in another form than it was written, so it could not be removed again; nothing was kept. This iptables prints rules differently (iptables --version): please report it`,
      );
    }
  });
}

/**
 * Removes what of `sets` is there, in one iptables-restore: a container's rules always, a
 * network's own only with `complete` (the network has no container left), shared ones never —
 * except FORWARD's jump to NETAVARK_ISOLATION_1 once that chain is empty. A network's own chains
 * go once empty and unreferenced.
 */
export function remove(sets: readonly { set: RuleSet; complete: boolean }[], what: string): Promise<void> {
  const removable = sets.flatMap(({ set, complete }) => set.rules.filter((r) => !r.shared && (complete || !r.network)));
  // A container without ports leaving a network others stay on: not even an iptables-save.
  if (removable.length === 0) return Promise.resolve();
  return serial(async () => {
    const change = new Change(parseSave(await save(what)));
    for (const r of removable) change.delete(r.table, r.chain, r.spec);
    if (change.chain('filter', ISOLATION_1)?.length === 0) {
      while (change.chain('filter', 'FORWARD')?.includes(ISOLATION_JUMP)) change.delete('filter', 'FORWARD', ISOLATION_JUMP);
    }
    for (const { set } of sets) for (const c of set.chains) if (c.own) change.deleteChainIfUnused(c.table, c.name);
    await restore(change, what);
  });
}

function tool(name: 'iptables-save' | 'iptables-restore'): string {
  const found = findHelper(name);
  if (!found) throw new CdkDockerError(`${name} not found (the firewall of container networks needs it): install it with \`apt-get install iptables\``);
  return found;
}

function save(what: string): Promise<string> {
  const bin = tool('iptables-save');
  return new Promise((resolve, reject) => {
    execFile(bin, [], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new CdkDockerError(`cannot ${what}: iptables-save failed: ${firstLine(stderr) || err.message}; ${IPTABLES_HINT}`));
      else resolve(stdout);
    });
  });
}

const IPTABLES_HINT = 'check that iptables works here (iptables -L; apt-get install iptables) and that the kernel has the nat table';

function restore(change: Change, what: string): Promise<void> {
  return change.empty ? Promise.resolve() : restoreText(change.text(), what);
}

async function restoreText(input: string, what: string): Promise<void> {
  try {
    await runTool(tool('iptables-restore'), ['--noflush', '-w'], input);
  } catch (e) {
    if (!(e instanceof ToolError)) throw e;
    // "iptables-restore: line 3 failed": name the line.
    const said = e.brief.slice(e.brief.indexOf(': ') + 2);
    const line = /line (\d+) failed/.exec(said)?.[1];
    const failed = line ? ` (${input.split('\n')[Number(line) - 1]})` : '';
    throw new CdkDockerError(`cannot ${what}: iptables-restore failed: ${firstLine(said) || said}${failed}; ${IPTABLES_HINT}`);
  }
}

function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#') && !/iptables-legacy tables present/.test(l)) ?? '';
}

/**
 * The directory put first on netavark's PATH: its `iptables` and `ip6tables` print a version and
 * change nothing (see the module comment).
 */
export function noFirewallPath(): string {
  return path.join(packageRoot(), 'bin', 'no-firewall');
}
