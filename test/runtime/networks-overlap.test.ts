import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NetworkStore } from '../../runtime/networks';
import { DEFAULT_POOL } from '../../runtime/networks/ipam';
import { CliResult, cdkDocker, ok, tempDir, until } from '../helpers/cli';
import { busyboxRootfsTar } from '../helpers/images';
import { privateNetworkConfig } from '../helpers/network';
import { requireCommand, sh } from '../helpers/prereq';

jest.setTimeout(120_000);

/**
 * Two state roots on one host, and interfaces that are not ours, never share a subnet (issue 11
 * item 11). Through the CLI, with real netavark bridges: a second root with the same `bip` is
 * refused naming the first root, automatic allocation gives two roots with the same pool
 * disjoint subnets, a network whose subnet another root took later is refused at start, and an
 * interface holding a subnet (a bridge that is down, as another tool's would be) blocks create
 * and start, named in the error. A
 * refused start leaves no namespace, veth, bridge, iptables rule or address reservation.
 *
 * Roots a and b share the octet 220 (bip 10.220.0.1/24, pool 10.221.0.0/16); root c has the
 * bip 10.224.0.1/24 and the same pool 10.221.0.0/16; the foreign bridge holds 10.224.x/10.225.x. (A
 * bridge, not a dummy: this kernel has no dummy driver, `ip link add … type dummy` fails.)
 */

/** The host-wide subnet registry (runtime/networks/registry.ts), written as a user would find it. */
const REGISTRY = '/var/lib/cdk-docker-subnets';
/** A bridge that is not ours (as Docker's docker0 or libvirt's virbr0 would be). */
const DUMMY = `cdkt224-${process.pid % 100_000}`;
const OURS = /10\.22[0145]\./;

let work: string;
let image: string;
const env: { [root in 'a' | 'b' | 'c']: NodeJS.ProcessEnv } = { a: {}, b: {}, c: {} };
const rootOf = (r: 'a' | 'b' | 'c') => env[r].CDK_DOCKER_ROOT!;
const rt = (r: 'a' | 'b' | 'c', args: string[]): CliResult => cdkDocker(['runtime', ...args], work, env[r]);
let iptablesBefore: number;

/** iptables-save lines that mention this suite's subnets. */
function ourIptablesLines(): string[] {
  return execFileSync('iptables-save', { encoding: 'utf8' }).split('\n').filter((l) => OURS.test(l));
}

/** The one line a refused command prints, checked to be one line and no stack trace. */
function refusal(r: CliResult, code = 1): string {
  expect(r.code).toBe(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0];
}

function bridgeOf(r: 'a' | 'b' | 'c', network: string): string {
  return (JSON.parse(ok(rt(r, ['network', 'inspect', network]))) as Array<{ Options: { [k: string]: string } }>)[0].Options['com.docker.network.bridge.name'];
}

function subnetOf(r: 'a' | 'b' | 'c', network: string): string {
  return ok(rt(r, ['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', network])).trim();
}

/** What a refused start of root c could have left: namespaces, links on the bridge, the bridge, NAT rules, reservations. */
function leftovers(network: string, bridge: string): string[] {
  const netnsDir = path.join(work, 'c-run', 'netns');
  const netns = fs.existsSync(netnsDir) ? fs.readdirSync(netnsDir).map((n) => `netns ${n}`) : [];
  const links = (JSON.parse(execFileSync('ip', ['-j', 'link'], { encoding: 'utf8' })) as Array<{ ifname: string; master?: string }>)
    .filter((l) => l.ifname === bridge || l.master === bridge)
    .map((l) => `link ${l.ifname}`);
  const attached = Object.keys((JSON.parse(ok(rt('c', ['network', 'inspect', network]))) as Array<{ Containers: object }>)[0].Containers).map((c) => `endpoint ${c}`);
  return [...netns, ...links, ...attached];
}

function removeDummy(): void {
  try {
    sh('ip', ['link', 'delete', DUMMY]);
  } catch {
    // not there
  }
}

beforeAll(() => {
  for (const [cmd, pkg] of [['runc', 'runc'], ['conmon', 'conmon'], ['iptables-save', 'iptables'], ['ip', 'iproute2'], ['unshare', 'util-linux']]) requireCommand(cmd, pkg);
  requireCommand('netavark', 'netavark', ['/usr/lib/podman', '/usr/libexec/podman']);
  if (process.getuid?.() !== 0) throw new Error('the network tests need root (netavark creates bridges and iptables rules): run them as root');
  iptablesBefore = ourIptablesLines().length;
  work = tempDir('cdk-docker-overlap-');
  for (const r of ['a', 'b', 'c'] as const) env[r] = { CDK_DOCKER_ROOT: path.join(work, r), CDK_DOCKER_RUNROOT: path.join(work, `${r}-run`) };
  privateNetworkConfig(rootOf('a'), 220);
  privateNetworkConfig(rootOf('b'), 220);
  privateNetworkConfig(rootOf('c'), 224);
  // Root c: its own default subnet, but the same pool for user networks as roots a and b.
  fs.writeFileSync(path.join(rootOf('c'), 'config.json'), JSON.stringify({ bip: '10.224.0.1/24', 'default-address-pools': [{ base: '10.221.0.0/16', size: 24 }] }));
  image = busyboxRootfsTar(work, ['sh', 'sleep', 'true']);
  for (const r of ['a', 'b', 'c'] as const) ok(rt(r, ['import', '-c', 'ENV PATH=/bin', '-c', 'CMD ["sh"]', image, 'busybox:overlap']));
});

afterAll(async () => {
  removeDummy();
  if (!work) return;
  for (const r of ['a', 'b', 'c'] as const) {
    if (!fs.existsSync(rootOf(r))) continue;
    const all = rt(r, ['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
    if (all.length) rt(r, ['rm', '-f', ...all]);
    for (const n of rt(r, ['network', 'ls', '-q', '--filter', 'type=custom']).stdout.split('\n').filter(Boolean)) rt(r, ['network', 'rm', n]);
  }
  await until('the monitors to exit', () => !fs.readdirSync('/proc').some((p) => /^\d+$/.test(p) && safe(`/proc/${p}/cmdline`).includes(work)), 15_000).catch(() => undefined);
  fs.rmSync(work, { recursive: true, force: true });
  dropClaims([work]);
  expect(ourIptablesLines().length).toBe(iptablesBefore);
});

/**
 * Removes the registry's claims of roots under `dirs` (deleted roots' claims are stale and the
 * next reader drops them; a test removes its own at once).
 */
function dropClaims(dirs: readonly string[]): void {
  if (!fs.existsSync(REGISTRY)) return;
  for (const f of fs.readdirSync(REGISTRY)) {
    const text = safe(path.join(REGISTRY, f));
    if (dirs.some((d) => text.includes(`"${d}`))) fs.rmSync(path.join(REGISTRY, f), { force: true });
  }
}

function safe(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

test('automatic allocation gives two state roots with the same pool disjoint subnets', () => {
  ok(rt('a', ['network', 'create', 'auto']));
  ok(rt('c', ['network', 'create', 'auto']));
  const a = subnetOf('a', 'auto');
  const c = subnetOf('c', 'auto');
  expect(a).toMatch(/^10\.221\.\d+\.0\/24$/);
  expect(c).toMatch(/^10\.221\.\d+\.0\/24$/);
  expect(c).not.toBe(a);
  // Neither bridge exists yet: only the registry can have told root c.
  expect(fs.existsSync(`/sys/class/net/${bridgeOf('a', 'auto')}`)).toBe(false);
  ok(rt('a', ['network', 'rm', 'auto']));
  ok(rt('c', ['network', 'rm', 'auto']));
});

test('the default networks of two state roots without a bip get different subnets of the default pool', async () => {
  // Two roots that exist only for this test: their claims go stale with them (no pool /16 held longer).
  const dirs = [tempDir('cdk-docker-overlap-d1-'), tempDir('cdk-docker-overlap-d2-')];
  try {
    const subnets: string[] = [];
    for (const [i, d] of dirs.entries()) {
      const store = new NetworkStore(d, undefined, { defaultBridge: `cdkt224d${i}-${process.pid % 10_000}` });
      subnets.push((await store.ensureDefault()).IPAM.Config[0].Subnet);
    }
    expect(DEFAULT_POOL).toContain(subnets[0]);
    expect(DEFAULT_POOL).toContain(subnets[1]);
    expect(subnets[1]).not.toBe(subnets[0]);
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    dropClaims(dirs);
  }
});

test('a second state root with the same bip is refused, naming the first root, whether its bridge is down or up', () => {
  ok(rt('a', ['network', 'ls'])); // makes root a's default network 10.220.0.0/24; no bridge yet
  const down = refusal(rt('b', ['network', 'ls']));
  expect(down).toContain(`default network "bridge" (bip 10.220.0.1/24 in ${path.join(rootOf('b'), 'config.json')})`);
  expect(down).toContain(`overlaps 10.220.0.0/24 of network "bridge" of the state root ${rootOf('a')}`);
  expect(down).toContain(`choose another "bip" in ${path.join(rootOf('b'), 'config.json')}`);

  ok(rt('a', ['run', '-d', '--name', 'holder', 'busybox:overlap', 'sleep', '1000']));
  try {
    const up = refusal(rt('b', ['run', '--rm', 'busybox:overlap', 'true']), 125); // docker run's code for the engine's refusal
    expect(up).toContain(`of network "bridge" of the state root ${rootOf('a')}`);
    // Nothing half-made in root b: no network record.
    expect(fs.readdirSync(path.join(rootOf('b'), 'networks')).filter((f) => f.endsWith('.json'))).toEqual([]);
  } finally {
    ok(rt('a', ['rm', '-f', 'holder']));
  }
});

test('a network whose subnet another root took after it was made is refused at start, naming that root, with nothing left behind', () => {
  ok(rt('c', ['network', 'create', '--subnet', '10.221.200.0/24', 'early']));
  // As a network made by an older version (or with another registry) would be: no claim of root c.
  if (fs.existsSync(REGISTRY)) for (const f of fs.readdirSync(REGISTRY)) if (safe(path.join(REGISTRY, f)).includes(rootOf('c'))) fs.rmSync(path.join(REGISTRY, f));
  ok(rt('a', ['network', 'create', '--subnet', '10.221.200.0/24', 'later']));
  ok(rt('a', ['run', '-d', '--name', 'holdnet', '--network', 'later', 'busybox:overlap', 'sleep', '1000']));
  const bridge = bridgeOf('c', 'early');
  const lines = ourIptablesLines().length;
  try {
    ok(rt('c', ['create', '--name', 'late', '--network', 'early', 'busybox:overlap', 'sleep', '1000']));
    const msg = refusal(rt('c', ['start', 'late']));
    expect(msg).toBe(
      `Error: cannot start container late on network "early": its subnet 10.221.200.0/24 overlaps 10.221.200.0/24 of network "later" of the state root ${rootOf('a')} (bridge ${bridgeOf('a', 'later')}); remove one of the two networks or recreate network "early" with another --subnet`,
    );
    expect(leftovers('early', bridge)).toEqual([]);
    expect(ourIptablesLines().length).toBe(lines);
    expect(ok(rt('c', ['inspect', '-f', '{{.State.Status}}', 'late'])).trim()).toBe('created');
  } finally {
    ok(rt('a', ['rm', '-f', 'holdnet']));
    ok(rt('a', ['network', 'rm', 'later']));
  }
  // The subnet is free again: the start goes through and claims it for root c.
  ok(rt('c', ['start', 'late']));
  expect(fs.readdirSync(REGISTRY).some((f) => f === '10.221.200.0-24.json' && safe(path.join(REGISTRY, f)).includes(`"${rootOf('c')}"`))).toBe(true);
  ok(rt('c', ['rm', '-f', 'late']));
  ok(rt('c', ['network', 'rm', 'early']));
});

test('an interface holding a subnet (a bridge that is down) blocks network create and container start, named in the error; the refused start leaves nothing behind', () => {
  ok(rt('c', ['network', 'create', '--subnet', '10.225.3.0/24', 'd1']));
  ok(rt('c', ['network', 'ls'])); // root c's default network 10.224.0.0/24 exists
  const bridge = bridgeOf('c', 'd1');
  removeDummy();
  sh('ip', ['link', 'add', DUMMY, 'type', 'bridge']);
  sh('ip', ['addr', 'add', '10.225.3.1/24', 'dev', DUMMY]);
  sh('ip', ['addr', 'add', '10.224.0.1/24', 'dev', DUMMY]);
  sh('ip', ['addr', 'add', '10.225.9.1/24', 'dev', DUMMY]);
  // Down: no route, only the address says the subnet is taken.
  expect((JSON.parse(execFileSync('ip', ['-j', 'link', 'show', DUMMY], { encoding: 'utf8' })) as Array<{ operstate: string }>)[0].operstate).toBe('DOWN');

  expect(refusal(rt('c', ['network', 'create', '--subnet', '10.225.9.0/25', 'd2']))).toBe(
    `Error: create d2: subnet 10.225.9.0/25 overlaps 10.225.9.0/24, which interface ${DUMMY} holds (address 10.225.9.1/24); choose another --subnet (ip route and ip addr show what is in use)`,
  );
  const lines = ourIptablesLines().length;
  ok(rt('c', ['create', '--name', 'blocked', '--network', 'd1', 'busybox:overlap', 'sleep', '1000']));
  expect(refusal(rt('c', ['start', 'blocked']))).toBe(
    `Error: cannot start container blocked on network "d1": its subnet 10.225.3.0/24 is in use on the host: interface ${DUMMY} holds 10.225.3.1/24; remove that address (ip addr del 10.225.3.1/24 dev ${DUMMY}) or recreate network "d1" with another --subnet`,
  );
  expect(leftovers('d1', bridge)).toEqual([]);
  expect(ourIptablesLines().length).toBe(lines);
  expect(ok(rt('c', ['inspect', '-f', '{{.State.Status}}', 'blocked'])).trim()).toBe('created');
  // The default network too.
  const esc = (t: string) => t.replace(/[.()]/g, (c) => `\\${c}`);
  expect(refusal(rt('c', ['run', '--rm', 'busybox:overlap', 'true']), 125)).toMatch(
    new RegExp(`^Error: cannot start container \\S+ on network "bridge": its subnet 10\\.224\\.0\\.0/24 is in use on the host: interface ${DUMMY} holds 10\\.224\\.0\\.1/24; ${esc(`remove that address (ip addr del 10.224.0.1/24 dev ${DUMMY}) or use another network (--network)`)}$`),
  );

  removeDummy();
  ok(rt('c', ['start', 'blocked']));
  expect(fs.existsSync(`/sys/class/net/${bridge}`)).toBe(true);
  ok(rt('c', ['rm', '-f', 'blocked']));
  ok(rt('c', ['network', 'rm', 'd1']));
});
