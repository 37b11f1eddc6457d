import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ConflictError, InvalidArgumentError } from '../../lib/core/errors';
import { findHelper } from '../../runtime/host';
import { chooseSubnet, formatCidr, hostSubnets, overlaps, parseCidr } from '../../runtime/networks/ipam';
import { Netavark, NetworkStore, NetworkRecord } from '../../runtime/networks';
import { ROOT, tempDir } from '../helpers/cli';
import { aardvarksUnder } from '../helpers/network';
import { requireCommand, sh } from '../helpers/prereq';

/**
 * The networks half of the runtime on the real thing: IPAM in the store, then netavark
 * connecting network namespaces this test makes (`ip netns add cdkt-…`), with traffic between
 * them, DNS through aardvark-dns, a published port answered from the host, an internal network,
 * isolation, port conflicts, and a leak check of links, namespaces, iptables rules and aardvark
 * entries. Everything is made under unique names and removed in afterAll, even on failure.
 */

const tag = randomBytes(3).toString('hex');
let work: string;
let root: string;
let runRoot: string;
let store: NetworkStore;
const DEFAULT_BRIDGE = `cdk0t${process.pid % 100_000}`;
let netavark: Netavark;
const namespaces: string[] = [];
const children: ChildProcess[] = [];
const setUp: { ns: string; id: string; name: string; networks: string[] }[] = [];
const madeNetworks: string[] = [];

/**
 * A random /24 in 10.204.0.0-10.207.255.0 that the host does not route (explicit, so parallel runs
 * do not collide). This suite's own range: other suites run at once and look for iptables lines of
 * theirs by subnet (build-crash, 10.231.0.0/16, once found 10.231.201.0/24 of this suite when it
 * drew from all of 10.200-10.249).
 */
async function freeSubnet(avoid: string[] = []): Promise<string> {
  const host = await hostSubnets();
  for (;;) {
    const c = `10.${204 + Math.floor(Math.random() * 4)}.${Math.floor(Math.random() * 256)}.0/24`;
    if (avoid.includes(c) || host.some((h) => overlaps(h.cidr, parseCidr(c, 'subnet')))) continue;
    return c;
  }
}

function addNamespace(suffix: string): string {
  const name = `cdkt-${tag}-${suffix}`;
  sh('ip', ['netns', 'add', name]);
  namespaces.push(name);
  sh('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  return name;
}

const nsPath = (ns: string) => `/run/netns/${ns}`;
const cid = (name: string) => `${tag}${name}`.padEnd(64, '0').replace(/[^0-9a-f]/g, 'c');

/** Exit status of a command in a namespace (0 = it worked). */
function inNs(ns: string, args: string[]): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }) };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { code: err.status ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

const ping = (ns: string, ip: string) => inNs(ns, ['busybox', 'ping', '-c', '1', '-W', '1', ip]).code;

/** Starts `busybox nc -ll -p PORT -e echo TEXT` in a namespace (a persistent one-line server). */
function serve(ns: string, port: number, text: string): void {
  const child = spawn('ip', ['netns', 'exec', ns, 'busybox', 'nc', '-ll', '-p', String(port), '-e', 'echo', text], { stdio: 'ignore' });
  children.push(child);
}

/** Connects from the host and returns what the server says (retrying while it starts). */
async function fetchLine(host: string, port: number): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise<string>((resolve, reject) => {
        let data = '';
        const s = net.connect({ host, port });
        s.setTimeout(3000, () => s.destroy(new Error('timeout')));
        s.on('data', (d) => (data += d.toString()));
        s.on('end', () => resolve(data.trim()));
        s.on('error', reject);
      });
    } catch (e) {
      if (attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function connect(ns: string, name: string, networks: { network: string; aliases?: string[] }[], ports: { hostIp: string; hostPort: number; containerPort: number; protocol: 'tcp' | 'udp' }[] = []) {
  const id = cid(name);
  for (const n of networks) await store.allocate(n.network, id, { containerName: name, aliases: n.aliases });
  const result = await netavark.setup(nsPath(ns), { containerId: id, containerName: name, networks, ports });
  setUp.push({ ns, id, name, networks: networks.map((n) => n.network) });
  return result;
}

// --- leak counters -------------------------------------------------------------------------------

/** Our links: the bridges of `networks` and every port enslaved to them (host-side veths), by ifindex. */
function ourLinks(bridges: string[]): number[] {
  const links = JSON.parse(sh('ip', ['-j', 'link', 'show'])) as { ifindex: number; ifname: string; master?: string }[];
  return links.filter((l) => bridges.includes(l.ifname) || (l.master !== undefined && bridges.includes(l.master))).map((l) => l.ifindex);
}
const ourNamespaces = () => sh('ip', ['netns', 'list']).split('\n').filter((l) => l.startsWith(`cdkt-${tag}-`)).length;
function ourRules(subnets: string[], ids: string[], chains: string[]): string[] {
  return sh('iptables-save', []).split('\n').filter((l) => subnets.some((s) => l.includes(s)) || ids.some((i) => l.includes(i)) || chains.some((c) => l.includes(c)));
}
function aardvarkEntries(): string[] {
  const dir = path.join(runRoot, 'networks', 'aardvark-dns');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f !== 'aardvark.pid').flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').slice(1).filter(Boolean));
}
/** Live aardvark-dns processes serving our config dir. */
const ourAardvarks = () => aardvarksUnder(path.join(runRoot, 'networks'));

beforeAll(() => {
  requireCommand('ip', 'iproute2');
  requireCommand('iptables-save', 'iptables');
  requireCommand('busybox', 'busybox-static', ['/bin']);
  if (!findHelper('netavark')) throw new Error('test prerequisite missing: netavark (install it with `apt-get install netavark aardvark-dns`, or run `bash .ci/setup`)');
  if (!findHelper('aardvark-dns')) throw new Error('test prerequisite missing: aardvark-dns (install it with `apt-get install aardvark-dns`, or run `bash .ci/setup`)');
  if (process.getuid?.() !== 0) throw new Error('the network tests need root (netavark creates bridges and iptables rules): run them as root');
  work = tempDir('cdk-docker-networks-');
  root = path.join(work, 'root');
  runRoot = path.join(work, 'run');
  // A bridge name of its own: `cdk0` is the default state root's, which may be in use on this host.
  store = new NetworkStore(root, undefined, { defaultBridge: DEFAULT_BRIDGE });
  netavark = new Netavark(store, { runRoot });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of setUp.reverse()) {
    await netavark.teardown(nsPath(s.ns), { containerId: s.id, containerName: s.name, networks: s.networks.map((network) => ({ network })) }).catch(() => undefined);
  }
  for (const ns of namespaces) {
    try {
      sh('ip', ['netns', 'delete', ns]);
    } catch {
      // already gone
    }
  }
  if (store) {
    for (const n of madeNetworks) {
      const r = await store.get(n).catch(() => undefined);
      if (!r) continue;
      for (const id of Object.keys(r.endpoints)) await store.release(r.Id, id).catch(() => undefined);
      await store.remove(r.Id, { force: true }).catch(() => undefined);
    }
    // An aardvark-dns netavark started for our config dir, should a failure have left it running.
    for (const pid of ourAardvarks()) process.kill(pid, 'SIGTERM');
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('IPAM', () => {
  test('the default network exists from the first use, with a pooled subnet and no DNS, and cannot be removed', async () => {
    const [def] = (await store.records()).filter((r) => r.Name === 'bridge');
    expect(def.netavark).toMatchObject({ name: def.Id, network_interface: DEFAULT_BRIDGE, dns_enabled: false, internal: false, ipv6_enabled: false, driver: 'bridge' });
    expect(def.IPAM.Config[0].Subnet).toMatch(/^10\.8[5-8]\.0\.0\/16$/);
    expect(def.Options['com.docker.network.bridge.default_bridge']).toBe('true');
    await expect(store.remove('bridge')).rejects.toThrow('bridge is a pre-defined network and cannot be removed');
    await expect(store.remove(def.Id)).rejects.toThrow('bridge is a pre-defined network and cannot be removed');
    await expect(store.create('none')).rejects.toThrow('none is a pre-defined network and cannot be created; choose another name');
  });

  test('automatic subnets skip other networks and the host\'s routes', async () => {
    const host = await hostSubnets();
    const a = await store.create(`auto1-${tag}`);
    const b = await store.create(`auto2-${tag}`);
    madeNetworks.push(a.Name, b.Name);
    const sa = parseCidr(a.IPAM.Config[0].Subnet, 's');
    const sb = parseCidr(b.IPAM.Config[0].Subnet, 's');
    expect(sa.prefix).toBe(24);
    expect(sa.base).not.toBe(sb.base);
    expect(a.netavark).toMatchObject({ dns_enabled: true, network_interface: `cdkbr-${a.Id.slice(0, 9)}`, options: { isolate: 'true' } });
    expect(a.IPAM.Config[0].Gateway).toBe(a.IPAM.Config[0].Subnet.replace(/0\/24$/, '1'));
    // The pool choice itself: routed and taken prefixes are skipped.
    const routed = [{ cidr: parseCidr('10.89.0.0/23', 'r'), dev: 'eth9' }, ...host];
    const taken = [{ cidr: parseCidr('10.89.2.0/24', 't'), network: 'x', bridge: 'brx' }];
    expect(formatCidr(chooseSubnet(['10.89.0.0/16'], 24, taken, routed))).toBe('10.89.3.0/24');
  });

  test('explicit subnets are checked: overlap names the network or the interface, gateway and range must be inside', async () => {
    const subnet = await freeSubnet();
    const base = subnet.replace(/\.0\/24$/, '');
    const r = await store.create(`explicit-${tag}`, { subnet, gateway: `${base}.254`, ipRange: `${base}.128/25`, labels: { team: 'a' } });
    madeNetworks.push(r.Name);
    expect(r.IPAM.Config).toEqual([{ Subnet: subnet, Gateway: `${base}.254`, IPRange: `${base}.128/25` }]);
    expect(r.netavark.subnets).toEqual([{ subnet, gateway: `${base}.254`, lease_range: { start_ip: `${base}.128`, end_ip: `${base}.254` } }]);

    const sixteen = `${base.split('.').slice(0, 2).join('.')}.0.0/16`;
    await expect(store.create(`clash-${tag}`, { subnet: sixteen })).rejects.toThrow(`create clash-${tag}: subnet ${sixteen} overlaps ${subnet} of network "explicit-${tag}"; choose another --subnet or remove that network (cdk-docker runtime network rm explicit-${tag})`);
    // Not another state root's bridge (cdk0-…, cdkbr-…): the registry names that one's root instead.
    const hostRoute = (await hostSubnets()).find((h) => h.dev !== 'lo' && !h.dev.startsWith('cdk') && h.cidr.prefix >= 8 && h.cidr.prefix < 32);
    if (!hostRoute) throw new Error('the host has no routed IPv4 subnet to test overlap with');
    const routed = formatCidr(hostRoute.cidr);
    await expect(store.create(`hostclash-${tag}`, { subnet: routed })).rejects.toThrow(new RegExp(`^create hostclash-${tag}: subnet ${routed.replace(/\./g, '\\.')} overlaps .* which the host routes through ${hostRoute.dev};`));
    await expect(store.create(`gw-${tag}`, { subnet: '10.199.7.0/24', gateway: '10.199.8.1' })).rejects.toThrow(new InvalidArgumentError(`create gw-${tag}: gateway 10.199.8.1 is not in subnet 10.199.7.0/24; give an address inside it (e.g. 10.199.7.1)`));
    await expect(store.create(`bits-${tag}`, { subnet: '10.199.7.5/24' })).rejects.toThrow('invalid subnet 10.199.7.5/24: it should be 10.199.7.0/24');
    await expect(store.create(`rng-${tag}`, { subnet: '10.199.7.0/24', ipRange: '10.199.9.0/25' })).rejects.toThrow(`create rng-${tag}: ip-range 10.199.9.0/25 is not inside subnet 10.199.7.0/24`);
    await expect(store.create(`explicit-${tag}`)).rejects.toThrow(ConflictError);
    expect((await store.records()).map((n) => n.Name)).not.toContain(`gw-${tag}`);
  });

  test('addresses: next free in the range, --ip honoured or refused with the reason, released and not reused at once', async () => {
    const r = await store.get(`explicit-${tag}`);
    const base = r.IPAM.Config[0].Subnet.replace(/\.0\/24$/, '');
    expect(await store.allocate(r.Name, cid('x1'), { containerName: 'x1' })).toBe(`${base}.128`);
    expect(await store.allocate(r.Name, cid('x2'), { containerName: 'x2' })).toBe(`${base}.129`);
    expect(await store.allocate(r.Name, cid('x1'))).toBe(`${base}.128`); // idempotent
    expect(await store.allocate(r.Name, cid('x3'), { containerName: 'x3', requestedIp: `${base}.7` })).toBe(`${base}.7`);
    await expect(store.allocate(r.Name, cid('x4'), { containerName: 'x4', requestedIp: `${base}.129` })).rejects.toThrow(`address ${base}.129 is already in use on network "explicit-${tag}" by container "x2"; give another --ip or leave it out`);
    await expect(store.allocate(r.Name, cid('x4'), { requestedIp: '10.199.1.1' })).rejects.toThrow(`address 10.199.1.1 is not in subnet ${base}.0/24 of network "explicit-${tag}"; give one inside it (--ip ${base}.2) or leave --ip out`);
    await expect(store.allocate(r.Name, cid('x4'), { requestedIp: `${base}.254` })).rejects.toThrow(`address ${base}.254 is the gateway of network "explicit-${tag}"`);
    await store.release(r.Name, cid('x1'));
    expect(await store.allocate(r.Name, cid('x5'), { containerName: 'x5' })).toBe(`${base}.130`);
    const inspected = await store.inspect(r.Name);
    expect(inspected.Containers[cid('x2')]).toEqual({ Name: 'x2', EndpointID: expect.stringMatching(/^[0-9a-f]{64}$/), MacAddress: '', IPv4Address: `${base}.129/24`, IPv6Address: '' });
    await expect(store.remove(r.Name)).rejects.toThrow(`error while removing network: network explicit-${tag} id ${r.Id} has active endpoints (x2, x3, x5)`);
    for (const x of ['x2', 'x3', 'x5']) await store.releaseAll(cid(x));
  });

  test('two processes allocating at once never get the same address', async () => {
    const r = await store.create(`race-${tag}`, { subnet: await freeSubnet() });
    madeNetworks.push(r.Name);
    const script = `const { NetworkStore } = require(${JSON.stringify(path.join(ROOT, 'dist', 'runtime', 'networks'))});
      (async () => { const s = new NetworkStore(process.argv[1]); const out = [];
        for (let i = 0; i < 8; i++) out.push(await s.allocate(${JSON.stringify(r.Name)}, (process.argv[2] + i).padEnd(64, '0'), { containerName: 'p' + process.argv[2] + i }));
        console.log(JSON.stringify(out)); })().catch((e) => { console.error(e); process.exit(1); });`;
    const run = (who: string) => new Promise<string[]>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script, root, who], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout) as string[]) : reject(new Error(stderr))));
    });
    const [a, b] = await Promise.all([run('a'), run('b')]);
    expect(new Set([...a, ...b]).size).toBe(16);
    expect(Object.keys((await store.get(r.Name)).endpoints)).toHaveLength(16);
    for (const id of Object.keys((await store.get(r.Name)).endpoints)) await store.release(r.Name, id);
    await store.remove(r.Name);
    expect((await store.list({ name: [`^race-${tag}$`] }))).toEqual([]);
  });
});

describe('netavark', () => {
  let A: NetworkRecord;
  let B: NetworkRecord;
  let I: NetworkRecord;
  let hostIp: string;
  let ourChains: string[] = [];
  let links: number[] = [];
  const hostPort = 20000 + Math.floor(Math.random() * 20000);

  beforeAll(async () => {
    const sa = await freeSubnet();
    const sb = await freeSubnet([sa]);
    const si = await freeSubnet([sa, sb]);
    A = await store.create(`neta-${tag}`, { subnet: sa });
    B = await store.create(`netb-${tag}`, { subnet: sb });
    I = await store.create(`neti-${tag}`, { subnet: si, internal: true });
    madeNetworks.push(A.Name, B.Name, I.Name);
    const addrs = JSON.parse(sh('ip', ['-j', '-4', 'addr', 'show', 'scope', 'global'])) as { ifname: string; addr_info: { local: string }[] }[];
    const ours = new Set([A, B, I].map((n) => n.netavark.network_interface));
    const found = addrs.find((a) => !ours.has(a.ifname) && !a.ifname.startsWith('cdk') && a.addr_info.length > 0);
    if (!found) throw new Error('the host has no global IPv4 address to test egress and published ports with');
    hostIp = found.addr_info[0].local;
  });

  test('two namespaces on a user network talk by address, by name and by alias; a published port answers on the host', async () => {
    const a1 = addNamespace('a1');
    const a2 = addNamespace('a2');
    const r1 = await connect(a1, 'web', [{ network: A.Name }], [{ hostIp: '', hostPort, containerPort: 8080, protocol: 'tcp' }]);
    const r2 = await connect(a2, 'db', [{ network: A.Name, aliases: ['database'] }], [{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 8080, protocol: 'tcp' }]);
    const aBase = A.IPAM.Config[0].Subnet.replace(/\.0\/24$/, '');
    expect(r1.interfaces).toEqual([{ network: A.Name, interfaceName: 'eth0', macAddress: expect.stringMatching(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/), ip: `${aBase}.2`, prefixLength: 24, gateway: `${aBase}.1` }]);
    expect(r1.dnsServers).toEqual([`${aBase}.1`]);
    expect(r1.ports).toEqual([{ hostIp: '0.0.0.0', hostPort, containerPort: 8080, protocol: 'tcp', range: 1 }]);
    expect(r2.ports[0].hostPort).toBeGreaterThan(0);
    expect((await store.inspect(A.Name)).Containers[cid('web')].MacAddress).toBe(r1.interfaces[0].macAddress);

    expect(ping(a1, r2.interfaces[0].ip)).toBe(0);
    for (const name of ['db', 'database']) {
      let res = inNs(a1, ['busybox', 'nslookup', name, `${aBase}.1`]);
      for (let i = 0; i < 20 && !res.out.includes(r2.interfaces[0].ip); i++) {
        await new Promise((r) => setTimeout(r, 100));
        res = inNs(a1, ['busybox', 'nslookup', name, `${aBase}.1`]);
      }
      expect(res.out).toContain(`Address: ${r2.interfaces[0].ip}`);
    }

    serve(a1, 8080, 'hello-from-web');
    serve(a2, 8080, 'hello-from-db');
    expect(await fetchLine(hostIp, hostPort)).toBe('hello-from-web');
    expect(await fetchLine('127.0.0.1', hostPort)).toBe('hello-from-web');
    expect(await fetchLine('127.0.0.1', r2.ports[0].hostPort)).toBe('hello-from-db');
    // Out of the network through NAT: the host's own address answers.
    expect(ping(a1, hostIp)).toBe(0);

    const subnets = [A, B, I].map((n) => n.IPAM.Config[0].Subnet);
    ourChains = [...new Set(ourRules(subnets, [], []).map((l) => /^-A (NETAVARK-[0-9A-F]+)\b/.exec(l)?.[1]).filter((c): c is string => !!c))];
    expect(ourChains.length).toBeGreaterThan(0);
    links = ourLinks([A.netavark.network_interface]);
    expect(links).toHaveLength(3); // the bridge and two veths
  });

  test('an internal network has no way out, and networks are isolated from each other', async () => {
    const i1 = addNamespace('i1');
    const b1 = addNamespace('b1');
    const ri = await connect(i1, 'lonely', [{ network: I.Name }]);
    const rb = await connect(b1, 'other', [{ network: B.Name }]);
    const a2ip = (await store.get(A.Name)).endpoints[cid('db')].ip;
    expect(ping(b1, hostIp)).toBe(0); // B has a way out…
    expect(ping(i1, hostIp)).not.toBe(0); // …I has none
    expect(ping(b1, a2ip)).not.toBe(0); // B cannot reach A
    expect(ping(`cdkt-${tag}-a1`, rb.interfaces[0].ip)).not.toBe(0); // nor A B
    expect(ping(b1, ri.interfaces[0].ip)).not.toBe(0);
    links = [...new Set([...links, ...ourLinks([A, B, I].map((n) => n.netavark.network_interface))])];
    expect(links).toHaveLength(7);
  });

  test('tearing one isolated network down leaves the others isolated (netavark 1.4 drops the shared FORWARD jump)', async () => {
    const gone = await store.create(`netg-${tag}`, { subnet: await freeSubnet([A, B, I].map((n) => n.IPAM.Config[0].Subnet)) });
    madeNetworks.push(gone.Name);
    const g1 = addNamespace('g1');
    await connect(g1, 'goner', [{ network: gone.Name }]);
    const jump = () => spawnSync('iptables', ['-w', '-C', 'FORWARD', '-j', 'NETAVARK_ISOLATION_1']).status;
    expect(jump()).toBe(0);
    const i = setUp.findIndex((x) => x.ns === g1);
    const [g] = setUp.splice(i, 1);
    await netavark.teardown(nsPath(g1), { containerId: g.id, containerName: g.name, networks: [{ network: gone.Name }] });
    await store.release(gone.Name, g.id);
    sh('ip', ['netns', 'del', g1]);
    namespaces.splice(namespaces.indexOf(g1), 1);
    // The network's bridge went with its last endpoint; A and B keep their rules, and the jump to them.
    expect(jump()).toBe(0);
    expect(ping(`cdkt-${tag}-a1`, (await store.get(B.Name)).endpoints[cid('other')].ip)).not.toBe(0);
  });

  test('a host port another container publishes, or another program holds, is refused before anything is made', async () => {
    const c1 = addNamespace('c1');
    const id = cid('late');
    await expect(netavark.setup(nsPath(c1), { containerId: id, containerName: 'late', networks: [{ network: B.Name }] }))
      .rejects.toThrow(`container late has no address on network "${B.Name}"; reserve one first (NetworkStore.allocate)`);
    await store.allocate(B.Name, id, { containerName: 'late' });
    await expect(netavark.setup(nsPath(c1), { containerId: id, containerName: 'late', networks: [{ network: B.Name }], ports: [{ hostIp: '', hostPort, containerPort: 80, protocol: 'tcp' }] }))
      .rejects.toThrow(`Bind for 0.0.0.0:${hostPort} failed: port is already allocated; publish on another host port or stop what holds it (ss -lntup shows it)`);
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const held = (holder.address() as net.AddressInfo).port;
    try {
      await expect(netavark.setup(nsPath(c1), { containerId: id, containerName: 'late', networks: [{ network: B.Name }], ports: [{ hostIp: '', hostPort: held, containerPort: 80, protocol: 'tcp' }] }))
        .rejects.toThrow(`Bind for 0.0.0.0:${held} failed: port is already allocated`);
    } finally {
      holder.close();
    }
    // Nothing was set up in the namespace.
    expect((JSON.parse(inNs(c1, ['ip', '-j', 'link', 'show']).out) as { ifname: string }[]).map((l) => l.ifname)).toEqual(['lo']);
    // netavark's own errors come back with what to do.
    await expect(netavark.setup('/run/netns/cdkt-does-not-exist', { containerId: id, containerName: 'late', networks: [{ network: B.Name }] }))
      .rejects.toThrow(/^netavark setup failed: invalid namespace path: .*; the network namespace \/run\/netns\/cdkt-does-not-exist is missing or not one; the container must be running$/);
    await store.release(B.Name, id);
  });

  test('a setup a crash interrupted (endpoint still marked settingUp) is undone by teardown, whether netavark had run or not', async () => {
    const entriesBefore = aardvarkEntries().length;
    const port = hostPort + 1;
    // netavark ran to the end but the process died before recording it: only the mark is there.
    const k1 = addNamespace('k1');
    const id = cid('killed');
    await store.allocate(A.Name, id, { containerName: 'killed' });
    await netavark.setup(nsPath(k1), { containerId: id, containerName: 'killed', networks: [{ network: A.Name }], ports: [{ hostIp: '', hostPort: port, containerPort: 80, protocol: 'tcp' }] });
    await store.updateEndpoint(A.Name, id, (e) => ({ ...e, mac: undefined, settingUp: true }));
    expect(aardvarkEntries().length).toBe(entriesBefore + 1);
    expect(ourRules([], [], [`--dport ${port}`]).length).toBeGreaterThan(0);
    await netavark.teardown(nsPath(k1), { containerId: id, containerName: 'killed', networks: [{ network: A.Name }] });
    expect(aardvarkEntries().length).toBe(entriesBefore);
    expect(ourRules([], [], [`--dport ${port}`])).toEqual([]);
    expect((await store.get(A.Name)).endpoints[id]).toEqual(expect.not.objectContaining({ settingUp: true, interfaceName: 'eth0' }));
    // Marked, but netavark never ran: nothing to undo, and no error about the missing pieces.
    await store.updateEndpoint(A.Name, id, (e) => ({ ...e, interfaceName: 'eth0', settingUp: true }));
    await netavark.teardown(nsPath(k1), { containerId: id, containerName: 'killed', networks: [{ network: A.Name }] });
    // Without the mark a failing teardown is still an error.
    await expect(netavark.teardown(nsPath(k1), { containerId: id, containerName: 'killed', networks: [{ network: A.Name }] })).rejects.toThrow(/^netavark teardown failed/);
    await store.release(A.Name, id);
    sh('ip', ['netns', 'delete', k1]);
    namespaces.splice(namespaces.indexOf(k1), 1);
  });

  test('teardown and network rm leave no link, namespace, iptables rule or aardvark entry behind', async () => {
    expect(aardvarkEntries()).toHaveLength(4); // web and db on A, other on B, lonely on I
    expect(ourNamespaces()).toBe(5);
    for (const s of [...setUp].reverse()) {
      await netavark.teardown(nsPath(s.ns), { containerId: s.id, containerName: s.name, networks: s.networks.map((network) => ({ network })) });
      for (const n of s.networks) await store.release(n, s.id);
    }
    setUp.length = 0;
    for (const c of children) c.kill('SIGKILL');
    for (const ns of namespaces.splice(0)) sh('ip', ['netns', 'delete', ns]);
    for (const n of [A, B, I]) await store.remove(n.Name);
    const subnets = [A, B, I].map((n) => n.IPAM.Config[0].Subnet);
    const ids = ['web', 'db', 'lonely', 'other', 'late'].map(cid);
    expect(ourRules(subnets, ids, ourChains)).toEqual([]);
    expect(aardvarkEntries()).toEqual([]);
    expect(ourAardvarks()).toEqual([]);
    expect(ourNamespaces()).toBe(0);
    const remaining = (JSON.parse(sh('ip', ['-j', 'link', 'show'])) as { ifindex: number }[]).filter((l) => links.includes(l.ifindex));
    expect(remaining).toEqual([]);
    for (const n of [A, B, I]) expect(fs.existsSync(`/sys/class/net/${n.netavark.network_interface}`)).toBe(false);
  });
});
