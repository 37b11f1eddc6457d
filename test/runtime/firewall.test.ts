import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findHelper } from '../../runtime/host';
import * as firewall from '../../runtime/networks/firewall';
import { netavarkEnv } from '../../runtime/networks/netavark';
import { NetworkStore, NetworkRecord } from '../../runtime/networks';
import type { PortMapping } from '../../runtime/networks/types';
import { removeTempDirs, tempDir } from '../helpers/cli';
import { requireCommand, sh } from '../helpers/prereq';

/**
 * The runtime's own firewall (runtime/networks/firewall.ts) beside netavark 1.4's, on the real
 * iptables: for one network and a container publishing ports, the lines it writes are those
 * netavark writes itself, in the same order; each removes what the other wrote; netavark run as
 * the runtime runs it (`netavarkEnv`) writes nothing; a restore that fails names its line and
 * changes nothing. Subnets in 10.226.0.0/16; the namespace and network are removed in afterAll.
 * Other suites change the tables meanwhile, so only the lines naming this suite's network and
 * container are compared.
 */

const tag = randomBytes(3).toString('hex');
const ns = `cdkt-fw-${tag}`;
const containerId = `${tag}f1e2d3`.padEnd(64, 'a');
let work: string;
let store: NetworkStore;
let record: NetworkRecord;
let ip: string;
const ports: PortMapping[] = [
  { hostIp: '0.0.0.0', hostPort: 0, containerPort: 80, protocol: 'tcp' },
  { hostIp: '127.0.0.1', hostPort: 0, containerPort: 53, protocol: 'udp' },
  { hostIp: '0.0.0.0', hostPort: 0, containerPort: 9000, protocol: 'tcp', range: 3 },
];

/** iptables-save without comments and counters. */
function saved(): string {
  return sh('iptables-save', []).split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]$/, '')).join('\n');
}

/** The lines that name this suite's network (subnet, bridge, chain hash) or container. */
function ours(): string[] {
  const hash = firewall.networkHash(record.netavark.name);
  const keys = [record.IPAM.Config[0].Subnet, record.netavark.network_interface, hash, containerId];
  return saved().split('\n').filter((l) => keys.some((k) => l.includes(k)));
}

/**
 * Runs netavark itself: with the real iptables, or (`asRuntime`) as the runtime runs it. With
 * `logTo`, each call netavark makes to the runtime's no-op iptables is appended to that file.
 */
function netavark(command: 'setup' | 'teardown', asRuntime: boolean, logTo?: string): void {
  const input = JSON.stringify({
    container_id: containerId,
    container_name: `fw-${tag}`,
    networks: { [record.netavark.name]: { interface_name: 'eth0', static_ips: [ip] } },
    network_info: { [record.netavark.name]: record.netavark },
    port_mappings: ports.map((p) => ({ host_ip: p.hostIp === '0.0.0.0' ? '' : p.hostIp, host_port: p.hostPort, container_port: p.containerPort, protocol: p.protocol, range: p.range ?? 1 })),
  });
  const config = path.join(work, 'run', 'networks');
  fs.mkdirSync(config, { recursive: true });
  let env = asRuntime ? netavarkEnv(process.env, [record.netavark.name], command) : { ...process.env, NETAVARK_FW: 'iptables' };
  if (logTo) {
    const dir = path.join(work, 'log-iptables');
    fs.mkdirSync(dir, { recursive: true });
    for (const name of ['iptables', 'ip6tables']) {
      fs.writeFileSync(path.join(dir, name), `#!/bin/sh\necho "$*" >> ${logTo}\nexec ${path.join(firewall.noFirewallPath(), name)} "$@"\n`, { mode: 0o755 });
    }
    env = { ...env, PATH: `${dir}:${env.PATH}` };
  }
  const r = spawnSync(findHelper('netavark')!, ['--config', config, '--rootless', 'false', '--aardvark-binary', findHelper('aardvark-dns')!, command, `/run/netns/${ns}`], { input, encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`netavark ${command}: ${r.stdout}${r.stderr}`);
}

const networkSet = () => firewall.networkRules(record.netavark);
const portSet = () => firewall.portRules(record.netavark, containerId, ip, ports);

beforeAll(async () => {
  requireCommand('iptables-save', 'iptables');
  requireCommand('iptables-restore', 'iptables');
  requireCommand('ip', 'iproute2');
  if (!findHelper('netavark')) throw new Error('test prerequisite missing: netavark (install it with `apt-get install netavark aardvark-dns`, or run `bash .ci/setup`)');
  if (process.getuid?.() !== 0) throw new Error('the firewall tests need root (iptables, network namespaces): run them as root');
  work = tempDir('cdk-docker-firewall-');
  store = new NetworkStore(path.join(work, 'root'), undefined, { defaultBridge: `cdk0f${process.pid % 100_000}` });
  record = await store.create(`fw-${tag}`, { subnet: `10.226.${Math.floor(Math.random() * 256)}.0/24` });
  ip = await store.allocate(record.Name, containerId, { containerName: `fw-${tag}` });
  let port = 20000 + Math.floor(Math.random() * 20000);
  for (const [i, p] of ports.entries()) {
    ports[i] = { ...p, hostPort: port };
    port += p.range ?? 1;
  }
  sh('ip', ['netns', 'add', ns]);
});

afterAll(async () => {
  for (const asRuntime of [true, false]) {
    try {
      netavark('teardown', asRuntime);
    } catch {
      // torn down already
    }
  }
  await firewall.remove([{ set: portSet(), complete: false }, { set: networkSet(), complete: true }], 'clean up').catch(() => undefined);
  spawnSync('ip', ['netns', 'delete', ns]);
  await store.release(record.Name, containerId).catch(() => undefined);
  await store.remove(record.Name, { force: true }).catch(() => undefined);
  removeTempDirs();
});

test('the rules are netavark 1.4\'s own, line for line, and each of the two removes what the other wrote', async () => {
  netavark('setup', false);
  const byNetavark = ours();
  // NAT, forward, isolation and the three mappings (the range as one).
  expect(byNetavark.filter((l) => l.includes('-j DNAT'))).toHaveLength(3);
  expect(byNetavark.length).toBeGreaterThanOrEqual(12);

  await firewall.remove([{ set: portSet(), complete: false }, { set: networkSet(), complete: true }], 'remove netavark\'s rules');
  expect(ours()).toEqual([]);

  await firewall.install([networkSet(), portSet()], 'write the same rules');
  expect(ours()).toEqual(byNetavark);
  // Installing again changes nothing.
  await firewall.install([networkSet(), portSet()], 'write them again');
  expect(ours()).toEqual(byNetavark);

  netavark('teardown', false);
  expect(ours()).toEqual([]);
});

test('netavark run as the runtime runs it writes no iptables rule, and asks its iptables no more than it must', async () => {
  expect(ours()).toEqual([]);
  const log = path.join(work, 'iptables-calls.log');
  netavark('setup', true, log);
  expect(JSON.parse(sh('ip', ['-j', '-n', ns, 'addr', 'show', 'eth0']))[0].addr_info.map((a: { local: string }) => a.local)).toContain(ip);
  expect(ours()).toEqual([]);
  const setup = fs.readFileSync(log, 'utf8').trim().split('\n');
  fs.rmSync(log);
  netavark('teardown', true, log);
  expect(ours()).toEqual([]);
  const teardown = fs.readFileSync(log, 'utf8').trim().split('\n');
  // Told that its chains exist, netavark makes none; told in a teardown that its rules are not
  // there, it deletes none. What is left: the version, the listings and the checks.
  const verb = (l: string) => l.split(' ')[2] ?? l;
  expect(setup.filter((l) => ['-N', '-A', '-I', '-D', '-X'].includes(verb(l)))).toEqual([]);
  expect(setup.filter((l) => verb(l) === '-C').length).toBeGreaterThanOrEqual(10);
  expect(teardown.filter((l) => ['-N', '-A', '-I', '-D'].includes(verb(l)))).toEqual([]);
});

test('a container\'s ports go with it; the network\'s rules stay until it is complete', async () => {
  await firewall.install([networkSet(), portSet()], 'set up');
  const all = ours();
  await firewall.remove([{ set: portSet(), complete: false }, { set: networkSet(), complete: false }], 'tear one down');
  const left = ours();
  expect(left.some((l) => l.includes('-j DNAT') || l.includes(containerId))).toBe(false);
  expect(left).toEqual(all.filter((l) => !l.includes('NETAVARK-DN-') && !l.includes(containerId)));
  await firewall.remove([{ set: networkSet(), complete: true }], 'tear it down');
  expect(ours()).toEqual([]);
});

test('rules a killed teardown left go with their network', async () => {
  const other = await store.create(`fw2-${tag}`, { subnet: `10.226.${(Number(record.IPAM.Config[0].Subnet.split('.')[2]) + 1) % 256}.0/24` });
  const left = () => saved().split('\n').filter((l) => l.includes(other.IPAM.Config[0].Subnet) || l.includes(firewall.networkHash(other.netavark.name)));
  await firewall.install([firewall.networkRules(other.netavark)], 'set up');
  expect(left().length).toBeGreaterThanOrEqual(5);
  await store.remove(other.Name);
  expect(left()).toEqual([]);
});

test('a rule that reads back in another form than written is refused and undone, with the chain made for it', async () => {
  const subnet = record.IPAM.Config[0].Subnet;
  const chain = `CDKT-FORM-${tag}`;
  const odd = {
    chains: [{ table: 'nat', name: chain, own: true }],
    rules: [
      { table: 'nat', chain, spec: `-d ${subnet} -j ACCEPT` },
      // iptables-save prints it as `-p tcp -m tcp --dport 1`.
      { table: 'nat', chain: 'POSTROUTING', spec: `-s ${subnet} -p tcp --dport 1 -j ${chain}` },
    ],
  } as unknown as firewall.RuleSet;
  await expect(firewall.install([odd], 'set up the firewall of container x')).rejects.toThrow(
    `cannot set up the firewall of container x: iptables-save shows the rule "-A POSTROUTING -s ${subnet} -p tcp --dport 1 -j ${chain}" (table nat) in another form than it was written, so it could not be removed again; nothing was kept.`,
  );
  expect(ours()).toEqual([]);
  expect(saved()).not.toContain(chain);
});

test('a restore that fails names the line and changes nothing', async () => {
  const subnet = record.IPAM.Config[0].Subnet;
  const bad = {
    chains: [],
    rules: [
      { table: 'nat', chain: 'POSTROUTING', spec: `-s ${subnet} -j ACCEPT` },
      { table: 'nat', chain: `CDKT-NONE-${tag}`, spec: '-j ACCEPT' },
    ],
  } as unknown as firewall.RuleSet;
  await expect(firewall.install([bad], 'set up the firewall of container x')).rejects.toThrow(
    new RegExp(`^cannot set up the firewall of container x: iptables-restore failed: .*\\(-A CDKT-NONE-${tag} -j ACCEPT\\); check that iptables works here`),
  );
  // Not even the valid line before it (other suites change the tables meanwhile: only ours are compared).
  expect(ours()).toEqual([]);
  expect(saved()).not.toContain(`CDKT-NONE-${tag}`);
});
