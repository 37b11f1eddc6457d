import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConflictError, InvalidArgumentError } from '../../lib/core/errors';
import { runtimeConfig } from '../../runtime/config';
import { ContainerService } from '../../runtime/containers';
import { CliResult, cdkDocker, ok, tempDir, until } from '../helpers/cli';
import { TestDockerd, startDockerd } from '../helpers/dockerd';
import { busyboxRootfsTar } from '../helpers/images';
import { aardvarksUnder, privateNetworkConfig } from '../helpers/network';
import { requireCommand } from '../helpers/prereq';

jest.setTimeout(120_000);

/**
 * Names and files a container's network gives it, on real runc + conmon + netavark +
 * aardvark-dns: resolv.conf following `network connect`/`disconnect` of a running container,
 * Docker's legacy links (`--link`) on the default network and on user networks, /etc/mtab, and
 * no IPv6 address on IPv4-only networks, compared with a real (private) dockerd.
 */
const OCTET = 238; // the default network 10.238.0.0/24, user networks 10.239.x.0/24
const DOCKER_SUBNET = '10.242.200.0/24';
let work: string;
let env: NodeJS.ProcessEnv;
let svc: ContainerService;
const rt = (args: string[]): CliResult => cdkDocker(['runtime', ...args], work, env);
const inspect = (c: string, template: string) => ok(rt(['inspect', '-f', template, c])).trim();
const userSubnet = (n: number) => `10.${OCTET + 1}.${n}.0/24`;

beforeAll(() => {
  for (const [cmd, pkg] of [['runc', 'runc'], ['conmon', 'conmon'], ['iptables-save', 'iptables'], ['ip', 'iproute2'], ['unshare', 'util-linux']]) requireCommand(cmd, pkg);
  requireCommand('netavark', 'netavark', ['/usr/lib/podman', '/usr/libexec/podman']);
  requireCommand('aardvark-dns', 'aardvark-dns', ['/usr/lib/podman', '/usr/libexec/podman']);
  work = tempDir('cdk-docker-cdns-');
  env = { CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') };
  privateNetworkConfig(env.CDK_DOCKER_ROOT!, OCTET);
  const rootfs = busyboxRootfsTar(work, ['sh', 'cat', 'echo', 'sleep', 'ip', 'nslookup', 'env', 'readlink', 'ls', 'nc', 'grep']);
  ok(rt(['import', '-c', 'ENV PATH=/bin', '-c', 'EXPOSE 6379', '-c', 'EXPOSE 6380', '-c', 'EXPOSE 53/udp', '-c', 'CMD ["sh"]', rootfs, 'busybox:dns']));
  svc = new ContainerService(runtimeConfig(env));
});

afterAll(async () => {
  if (!work) return;
  const all = rt(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (all.length) rt(['rm', '-f', ...all]);
  for (const n of rt(['network', 'ls', '-q', '--filter', 'type=custom']).stdout.split('\n').filter(Boolean)) rt(['network', 'rm', n]);
  await until('the monitors to exit', () => !fs.readdirSync('/proc').some((p) => /^\d+$/.test(p) && read(`/proc/${p}/cmdline`).includes(work)), 15_000).catch(() => undefined);
  const left = footprint();
  for (const pid of aardvarksUnder(work)) process.kill(pid, 'SIGTERM');
  fs.rmSync(work, { recursive: true, force: true });
  expect(left).toEqual([]);
});

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** What this suite could leave on the host: iptables lines of its subnets, mounts, namespaces, aardvark-dns. */
function footprint(): string[] {
  const rules = execFileSync('iptables-save', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`10.${OCTET}.`) || l.includes(`10.${OCTET + 1}.`) || l.includes('10.242.200.'))
    .map((l) => `iptables ${l}`);
  const mounts = read('/proc/self/mountinfo')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && m.startsWith(work))
    .map((m) => `mount ${m}`);
  const nsDir = path.join(work, 'run', 'netns');
  const netns = fs.existsSync(nsDir) ? fs.readdirSync(nsDir).map((n) => `netns ${n}`) : [];
  return [...rules, ...mounts, ...netns, ...aardvarksUnder(work).map((p) => `aardvark-dns ${p}`)];
}

/** The host-side inode of a container's resolv.conf (the file bind-mounted into it). */
const resolvInode = (c: string) => fs.statSync(inspect(c, '{{.ResolvConfPath}}')).ino;

test('network connect gives a container of the default network the DNS of the new network; disconnect takes it back', async () => {
  ok(rt(['network', 'create', '--subnet', userSubnet(1), 'app']));
  ok(rt(['run', '-d', '--name', 'c2', '--network', 'app', '--network-alias', 'cache', 'busybox:dns', 'sleep', '1000']));
  ok(rt(['run', '-d', '--name', 'c1', 'busybox:dns', 'sleep', '1000']));
  const c2Ip = inspect('c2', '{{.NetworkSettings.Networks.app.IPAddress}}');
  const before = ok(rt(['exec', 'c1', 'cat', '/etc/resolv.conf']));
  expect(before).not.toContain(`nameserver 10.${OCTET + 1}.1.1`);
  expect(rt(['exec', 'c1', 'nslookup', 'c2']).code).not.toBe(0);
  const inode = resolvInode('c1');

  ok(rt(['network', 'connect', 'app', 'c1']));
  // The container reads the new file at the same path: the bind mount's inode was written.
  expect(ok(rt(['exec', 'c1', 'cat', '/etc/resolv.conf']))).toMatch(new RegExp(`^nameserver 10\\.${OCTET + 1}\\.1\\.1\\n`));
  expect(resolvInode('c1')).toBe(inode);
  // As Docker's, /etc/hosts gets a line for the new address (and loses it on disconnect).
  const appLine = `${inspect('c1', '{{.NetworkSettings.Networks.app.IPAddress}}')}\t${inspect('c1', '{{.Config.Hostname}}')}\n`;
  expect(ok(rt(['exec', 'c1', 'cat', '/etc/hosts']))).toContain(appLine);
  // The interface connect added has no IPv6 address either (the namespace's default is off).
  expect(ok(rt(['exec', 'c1', 'ip', '-6', 'addr']))).toBe('');
  // aardvark-dns learns of c1 when netavark signals it: a moment at most.
  for (const name of ['c2', 'cache']) await until(`c1 to resolve ${name}`, () => rt(['exec', 'c1', 'nslookup', name]).stdout.includes(`Address: ${c2Ip}`), 10_000);

  ok(rt(['network', 'disconnect', 'app', 'c1']));
  // Back to the host's resolvers, as Docker copies them for the default network.
  expect(ok(rt(['exec', 'c1', 'cat', '/etc/resolv.conf']))).toBe(before);
  expect(resolvInode('c1')).toBe(inode);
  expect(ok(rt(['exec', 'c1', 'cat', '/etc/hosts']))).not.toContain(appLine);
  expect(rt(['exec', 'c1', 'nslookup', 'c2']).code).not.toBe(0);
  ok(rt(['rm', '-f', 'c1', 'c2']));
});

test('leaving one of two user networks switches resolv.conf to the other one, whose names then resolve', async () => {
  ok(rt(['network', 'create', '--subnet', userSubnet(2), 'front']));
  ok(rt(['network', 'create', '--subnet', userSubnet(3), 'back']));
  ok(rt(['run', '-d', '--name', 'api', '--network', 'back', 'busybox:dns', 'sleep', '1000']));
  ok(rt(['run', '-d', '--name', 'roamer', '--network', 'front', 'busybox:dns', 'sleep', '1000']));
  ok(rt(['network', 'connect', 'back', 'roamer']));
  expect(ok(rt(['exec', 'roamer', 'grep', 'nameserver', '/etc/resolv.conf']))).toBe(`nameserver 10.${OCTET + 1}.2.1\nnameserver 10.${OCTET + 1}.3.1\n`);
  ok(rt(['network', 'disconnect', 'front', 'roamer']));
  expect(ok(rt(['exec', 'roamer', 'grep', 'nameserver', '/etc/resolv.conf']))).toBe(`nameserver 10.${OCTET + 1}.3.1\n`);
  const apiIp = inspect('api', '{{.NetworkSettings.Networks.back.IPAddress}}');
  await until('roamer to resolve api', () => rt(['exec', 'roamer', 'nslookup', 'api']).stdout.includes(`Address: ${apiIp}`), 10_000);
  ok(rt(['rm', '-f', 'api', 'roamer']));
  ok(rt(['network', 'rm', 'front', 'back']));
});

test('legacy links on the default network: the hosts line and environment of Docker, Links in inspect, Docker\'s errors', async () => {
  await svc.create({ image: 'busybox:dns', name: 'db', cmd: ['sleep', '1000'], env: ['DB_PASS=s3cret', 'HOME=/data'] });
  await svc.create({ image: 'busybox:dns', name: 'web', cmd: ['sleep', '1000'], links: [{ name: 'db', alias: 'redis' }] });
  expect(inspect('web', '{{json .HostConfig.Links}}')).toBe('["/db:/web/redis"]');

  // The linked container must run when the linking one starts; the failed start leaves nothing.
  await expect(svc.start('web')).rejects.toThrow(new ConflictError('Cannot link to a non running container: /db AS /web/redis; start db first'));
  expect(fs.existsSync(path.join(work, 'run', 'netns', svc.resolve('web')))).toBe(false);

  await svc.start('db');
  await svc.start('web');
  const dbIp = inspect('db', '{{.NetworkSettings.Networks.bridge.IPAddress}}');
  const dbHost = inspect('db', '{{.Config.Hostname}}');
  const hosts = ok(rt(['exec', 'web', 'cat', '/etc/hosts']));
  expect(hosts).toContain(`\n${dbIp}\tredis ${dbHost} db\n`);
  const envLines = ok(rt(['exec', 'web', 'env'])).split('\n');
  expect(envLines).toEqual(
    expect.arrayContaining([
      `REDIS_PORT=tcp://${dbIp}:6379`,
      `REDIS_PORT_6379_TCP=tcp://${dbIp}:6379`,
      `REDIS_PORT_6379_TCP_ADDR=${dbIp}`,
      `REDIS_PORT_6379_TCP_PORT=6379`,
      `REDIS_PORT_6379_TCP_PROTO=tcp`,
      `REDIS_PORT_6380_TCP=tcp://${dbIp}:6380`,
      `REDIS_PORT_6379_TCP_START=tcp://${dbIp}:6379`,
      `REDIS_PORT_6379_TCP_END=tcp://${dbIp}:6380`,
      `REDIS_PORT_53_UDP=udp://${dbIp}:53`,
      'REDIS_NAME=/web/redis',
      'REDIS_ENV_DB_PASS=s3cret',
    ]),
  );
  expect(envLines.filter((l) => /^REDIS_ENV_(HOME|PATH)=/.test(l))).toEqual([]);
  // The name resolves to the linked container's address through /etc/hosts.
  expect(ok(rt(['exec', 'web', 'sh', '-c', 'nc -w 2 redis 6379 </dev/null 2>&1 || true']))).toContain(`(${dbIp})`);

  // The linked container restarts with another address: the linking one's /etc/hosts follows it.
  await svc.stop('db', 0);
  await svc.start('db');
  const newIp = inspect('db', '{{.NetworkSettings.Networks.bridge.IPAddress}}');
  expect(newIp).not.toBe(dbIp);
  const after = ok(rt(['exec', 'web', 'cat', '/etc/hosts']));
  expect(after).toContain(`\n${newIp}\tredis ${dbHost} db\n`);
  expect(after).not.toContain(`${dbIp}\t`);

  // Docker's refusals at create, each naming the link.
  await expect(svc.create({ image: 'busybox:dns', name: 'bad1', links: [{ name: 'nosuch', alias: 'x' }] })).rejects.toThrow(InvalidArgumentError);
  await expect(svc.create({ image: 'busybox:dns', name: 'bad1', links: [{ name: 'nosuch', alias: 'x' }] })).rejects.toThrow(/^could not get container for nosuch: No such container: nosuch/);
  await expect(svc.create({ image: 'busybox:dns', name: 'bad2', networkMode: 'host', links: [{ name: 'db', alias: 'x' }] })).rejects.toThrow(/^conflicting options: host type networking can't be used with links/);
  await expect(svc.create({ image: 'busybox:dns', name: 'bad3', links: [{ name: 'db', alias: 'x\n10.0.0.1 evil' }] })).rejects.toThrow(InvalidArgumentError);
  expect(svc.records().map((r) => r.Name).sort()).toEqual(['db', 'web']);
  ok(rt(['rm', '-f', 'web', 'db']));
});

test('a link on a user network is a name only the linking container has', async () => {
  ok(rt(['network', 'create', '--subnet', userSubnet(4), 'userlinks']));
  ok(rt(['run', '-d', '--name', 'store', '--network', 'userlinks', 'busybox:dns', 'sleep', '1000']));
  await svc.create({ image: 'busybox:dns', name: 'shop', networkMode: 'userlinks', cmd: ['sleep', '1000'], links: [{ name: 'store', alias: 'warehouse' }] });
  await svc.start('shop');
  const ip = inspect('store', '{{.NetworkSettings.Networks.userlinks.IPAddress}}');
  expect(ok(rt(['exec', 'shop', 'cat', '/etc/hosts']))).toContain(`\n${ip}\twarehouse\n`);
  expect(ok(rt(['exec', 'shop', 'env']))).not.toContain('WAREHOUSE_');
  const other = ok(rt(['run', '--rm', '--network', 'userlinks', 'busybox:dns', 'cat', '/etc/hosts']));
  expect(other).not.toContain('warehouse');
  ok(rt(['rm', '-f', 'shop', 'store']));
  ok(rt(['network', 'rm', 'userlinks']));
});

/** `ip addr` reduced to what does not vary between runs: each interface's address lines, addresses masked. */
function addressLines(ipAddr: string): string[] {
  const out: string[] = [];
  let iface = '';
  for (const line of ipAddr.split('\n')) {
    const head = /^\d+: ([^:@]+)/.exec(line);
    if (head) iface = head[1];
    const addr = /^\s+(inet6?) (\S+) (?:brd \S+ )?scope (\S+)/.exec(line);
    if (addr) out.push(`${iface} ${addr[1]} ${addr[2].replace(/^10\.\d+\.\d+\.\d+/, 'IP')} scope ${addr[3]}`);
  }
  return out;
}

describe('side by side with Docker 20.10', () => {
  let dockerd: TestDockerd | undefined;

  beforeAll(async () => {
    dockerd = await startDockerd();
    ok(rt(['save', '-o', path.join(work, 'dns.tar'), 'busybox:dns']));
    dockerd.docker(['load', '-i', path.join(work, 'dns.tar')]);
    dockerd.docker(['network', 'create', '--subnet', DOCKER_SUBNET, 'v4only']);
  });

  afterAll(async () => {
    if (!dockerd) return;
    try {
      dockerd.docker(['network', 'rm', 'v4only']);
    } finally {
      await dockerd.stop();
    }
  });

  test('/etc/mtab links to /proc/mounts and no interface has an IPv6 address, as in Docker', () => {
    ok(rt(['network', 'create', '--subnet', userSubnet(5), 'v4only']));
    const probe = ['sh', '-c', 'readlink /etc/mtab; ip addr'];
    for (const network of ['v4only', 'none']) {
      const docker = dockerd!.docker(['run', '--rm', '--network', network, 'busybox:dns', ...probe]);
      const ours = ok(rt(['run', '--rm', '--network', network, 'busybox:dns', ...probe]));
      expect(ours.split('\n')[0]).toBe('/proc/mounts');
      expect(addressLines(ours)).toEqual(addressLines(docker));
      expect(addressLines(ours).filter((l) => l.includes('inet6'))).toEqual([]);
    }
    // The default network too; and the runtime's mtab is not a change of the container.
    ok(rt(['run', '--name', 'plain', 'busybox:dns', 'sh', '-c', 'ip -6 addr; readlink /etc/mtab']));
    expect(ok(rt(['logs', 'plain']))).toBe('/proc/mounts\n');
    expect(ok(rt(['diff', 'plain']))).toBe('');
    ok(rt(['rm', '-f', 'plain']));
    ok(rt(['network', 'rm', 'v4only']));
  });
});
