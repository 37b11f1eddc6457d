import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { CliResult, cdkDocker, ok, sleep, tempDir, until } from '../helpers/cli';
import { busyboxRootfsTar } from '../helpers/images';
import { privateNetworkConfig } from '../helpers/network';
import { requireCommand } from '../helpers/prereq';

jest.setTimeout(90_000);

/**
 * Containers of the built-in runtime on real netavark networks, driven through the CLI: names
 * and aliases through aardvark-dns, isolation, internal networks, published ports reached from
 * the host, connect/disconnect, port conflicts, and no leftover after the containers go.
 */
let work: string;
let env: NodeJS.ProcessEnv;
let root: string;
let defaultSubnet: string;
const rt = (args: string[]): CliResult => cdkDocker(['runtime', ...args], work, env);
const inspect = (c: string, template: string) => ok(rt(['inspect', '-f', template, c])).trim();
// Each suite that runs containers has its own octet (see privateNetworkConfig).
const OCTET = 144;
const userSubnet = (n: number) => `10.${OCTET + 1}.${n}.0/24`;

/** An httpd container serving `text` at /index.html on port 80. */
const httpd = (text: string) => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`];

/** GET http://HOST:PORT/index.html from the host. */
function get(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/index.html', timeout: 3_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${host}:${port}`)));
    req.on('error', reject);
  });
}


/** The bridges of this suite's networks (other suites running at once have their own). */
const bridges = new Set<string>();
function netCreate(args: string[]): void {
  const name = args[args.length - 1];
  ok(rt(['network', 'create', ...args]));
  bridges.add((JSON.parse(ok(rt(['network', 'inspect', name]))) as Array<{ Options: { [k: string]: string } }>)[0].Options['com.docker.network.bridge.name']);
}

/** What this suite could leave on the host: links, namespaces, iptables lines, mounts. */
function footprint(): string[] {
  const ours = new Set([...bridges, `cdk0-${createHash('sha256').update(root).digest('hex').slice(0, 8)}`]);
  const links = (JSON.parse(execFileSync('ip', ['-j', 'link'], { encoding: 'utf8' })) as Array<{ ifname: string; master?: string }>)
    .filter((l) => ours.has(l.ifname) || (l.master !== undefined && ours.has(l.master)))
    .map((l) => `link ${l.ifname}`);
  const rules = execFileSync('iptables-save', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`10.${OCTET}.`) || l.includes(`10.${OCTET + 1}.`))
    .map((l) => `iptables ${l}`);
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && m.startsWith(work))
    .map((m) => `mount ${m}`);
  const netns = fs.existsSync(path.join(work, 'run', 'netns')) ? fs.readdirSync(path.join(work, 'run', 'netns')).map((n) => `netns ${n}`) : [];
  // aardvark-dns keeps a file per DNS-enabled network with a line per container on it.
  const dnsDir = path.join(work, 'run', 'networks', 'aardvark-dns');
  const dns = fs.existsSync(dnsDir)
    ? fs.readdirSync(dnsDir).flatMap((f) => (/^[0-9a-f]{64}$/.test(f) ? fs.readFileSync(path.join(dnsDir, f), 'utf8').split('\n').slice(1).filter(Boolean).map((l) => `aardvark ${f.slice(0, 12)} ${l}`) : []))
    : [];
  return [...links, ...rules, ...mounts, ...netns, ...dns];
}

beforeAll(() => {
  for (const [cmd, pkg] of [['runc', 'runc'], ['conmon', 'conmon'], ['iptables-save', 'iptables'], ['ip', 'iproute2'], ['unshare', 'util-linux']]) requireCommand(cmd, pkg);
  requireCommand('netavark', 'netavark', ['/usr/lib/podman', '/usr/libexec/podman']);
  requireCommand('aardvark-dns', 'aardvark-dns', ['/usr/lib/podman', '/usr/libexec/podman']);
  work = tempDir('cdk-docker-cnet-');
  root = path.join(work, 'root');
  env = { CDK_DOCKER_ROOT: root, CDK_DOCKER_RUNROOT: path.join(work, 'run') };
  ({ defaultSubnet } = privateNetworkConfig(root, OCTET));
  const rootfs = busyboxRootfsTar(work, ['sh', 'cat', 'echo', 'sleep', 'mkdir', 'httpd', 'wget', 'nc', 'ip', 'grep', 'hostname', 'true']);
  ok(rt(['import', '-c', 'ENV PATH=/bin', '-c', 'EXPOSE 80', '-c', 'CMD ["sh"]', rootfs, 'busybox:net']));
});

afterAll(async () => {
  if (!work) return;
  const all = rt(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (all.length) rt(['rm', '-f', ...all]);
  for (const n of rt(['network', 'ls', '-q', '--filter', 'type=custom']).stdout.split('\n').filter(Boolean)) rt(['network', 'rm', n]);
  await until('the monitors to exit', () => !fs.readdirSync('/proc').some((p) => /^\d+$/.test(p) && safe(`/proc/${p}/cmdline`).includes(work)), 15_000).catch(() => undefined);
  const left = footprint();
  fs.rmSync(work, { recursive: true, force: true });
  expect(left).toEqual([]);
});

function safe(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

test('the default network: an address from its subnet while running, /etc/hosts and inspect show it, no DNS, released on stop', () => {
  const out = ok(rt(['run', '--rm', '--name', 'plain', '--add-host', 'db.local:10.1.2.3', 'busybox:net', 'sh', '-c', 'ip -4 -o addr show eth0; hostname; cat /etc/hosts']));
  const ip = /inet (10\.\d+\.\d+\.\d+)\/24/.exec(out)?.[1];
  expect(ip).toBeDefined();
  expect(ip!.startsWith(`10.${OCTET}.0.`)).toBe(true);
  const hostname = out.split('\n')[1];
  expect(out).toContain(`${ip}\t${hostname}\n`);
  expect(out).toContain('10.1.2.3\tdb.local\n');

  const id = ok(rt(['run', '-d', '--name', 'holder', 'busybox:net', 'sleep', '1000'])).trim();
  const addr = inspect('holder', '{{.NetworkSettings.Networks.bridge.IPAddress}}');
  expect(addr.startsWith(`10.${OCTET}.0.`)).toBe(true);
  expect(inspect('holder', '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Networks.bridge.Gateway}} {{.HostConfig.NetworkMode}}')).toBe(`${addr} 10.${OCTET}.0.1 bridge`);
  expect(JSON.parse(ok(rt(['network', 'inspect', 'bridge'])))[0]).toMatchObject({ IPAM: { Config: [{ Subnet: defaultSubnet }] }, Containers: { [id]: { Name: 'holder' } } });
  ok(rt(['stop', '-t', '0', 'holder']));
  expect(inspect('holder', '{{.NetworkSettings.Networks.bridge.IPAddress}}')).toBe('');
  expect(JSON.parse(ok(rt(['network', 'inspect', 'bridge'])))[0].Containers).toEqual({});
  ok(rt(['rm', 'holder']));
});

test('on a user network containers reach each other by name and alias; resolv.conf points at aardvark; other networks are isolated', async () => {
  netCreate(['--subnet', userSubnet(1), 'front']);
  netCreate(['--subnet', userSubnet(2), 'back']);
  ok(rt(['run', '-d', '--name', 'web', '--network', 'front', '--network-alias', 'www', 'busybox:net', ...httpd('hello-web')]));
  await until('web to serve', () => rt(['exec', 'web', 'wget', '-qO-', 'http://127.0.0.1/index.html']).stdout === 'hello-web\n');
  const client = ok(rt(['run', '--rm', '--network', 'front', 'busybox:net', 'sh', '-c', 'wget -qO- http://web/index.html; wget -qO- http://www/index.html; cat /etc/resolv.conf']));
  expect(client).toMatch(/^hello-web\nhello-web\nnameserver 10\.\d+\.1\.1\n/);
  const webIp = inspect('web', '{{.NetworkSettings.Networks.front.IPAddress}}');
  expect(webIp.startsWith(`10.${OCTET + 1}.1.`)).toBe(true);
  // From another network and from the default one, neither the name nor the address answers.
  for (const other of ['back', 'bridge']) {
    const r = rt(['run', '--rm', '--network', other, 'busybox:net', 'sh', '-c', `wget -T 2 -qO- http://${webIp}/index.html || echo unreachable`]);
    expect(r.stdout).toBe('unreachable\n');
  }
});

test('an internal network has no way out, but its containers still talk', async () => {
  netCreate(['--internal', '--subnet', userSubnet(3), 'sealed']);
  ok(rt(['run', '-d', '--name', 'inner', '--network', 'sealed', 'busybox:net', ...httpd('inside')]));
  await until('inner to serve', () => rt(['exec', 'inner', 'wget', '-qO-', 'http://127.0.0.1/index.html']).stdout === 'inside\n');
  const out = ok(rt(['run', '--rm', '--network', 'sealed', 'busybox:net', 'sh', '-c', 'wget -qO- http://inner/index.html; ip route; wget -T 2 -qO- http://192.0.2.1/ || echo no-egress']));
  expect(out).toMatch(/^inside\n/);
  expect(out).not.toMatch(/^default /m);
  expect(out).toMatch(/no-egress\n$/);
  ok(rt(['rm', '-f', 'inner']));
});

test('published ports answer from the host: fixed, random (-p 80) and -P; port and ps show them', async () => {
  const fixed = await freePort();
  ok(rt(['run', '-d', '--name', 'pub', '-p', `127.0.0.1:${fixed}:80`, '-p', '80', 'busybox:net', ...httpd('published')]));
  await until('the fixed port', async () => (await get('127.0.0.1', fixed)) === 'published\n');
  const ports = ok(rt(['port', 'pub'])).trim().split('\n');
  expect(ports[0]).toBe(`80/tcp -> 127.0.0.1:${fixed}`);
  const random = Number(/^80\/tcp -> 0\.0\.0\.0:(\d+)$/.exec(ports[1])?.[1]);
  expect(random).toBeGreaterThan(0);
  // 0.0.0.0 is every address: the host's own and loopback.
  expect(await get('127.0.0.1', random)).toBe('published\n');
  const hostIp = (JSON.parse(execFileSync('ip', ['-j', '-4', 'addr'], { encoding: 'utf8' })) as Array<{ ifname: string; addr_info: Array<{ local: string }> }>).find((i) => i.ifname !== 'lo' && i.addr_info.length && !i.ifname.startsWith('cdk') && !i.ifname.startsWith('docker'))?.addr_info[0].local;
  if (hostIp) expect(await get(hostIp, random)).toBe('published\n');
  expect(ok(rt(['port', 'pub', '80/tcp']))).toBe(`127.0.0.1:${fixed}\n0.0.0.0:${random}\n`);
  expect(ok(rt(['ps', '--filter', 'name=pub']))).toContain(`127.0.0.1:${fixed}->80/tcp, 0.0.0.0:${random}->80/tcp`);
  expect(JSON.parse(inspect('pub', '{{json .NetworkSettings.Ports}}'))).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(fixed) }, { HostIp: '0.0.0.0', HostPort: String(random) }] });

  ok(rt(['run', '-d', '--name', 'all', '-P', 'busybox:net', ...httpd('all-ports')]));
  const p = Number(/:(\d+)$/.exec(ok(rt(['port', 'all', '80'])).trim())?.[1]);
  await until('-P port', async () => (await get('127.0.0.1', p)) === 'all-ports\n');
  ok(rt(['rm', '-f', 'pub', 'all']));
  await expect(get('127.0.0.1', fixed)).rejects.toThrow();
});

test('port ranges and UDP: -p A-B:80-81 maps each port, /udp forwards datagrams', async () => {
  const [a, u] = [await freePort(), await freePort()];
  const range = `${a}-${a + 1}`;
  ok(rt(['run', '-d', '--name', 'ranged', '-p', `127.0.0.1:${range}:80-81`, '-p', `${u}:5353/udp`, 'busybox:net', 'httpd', '-f', '-p', '81', '-h', '/']));
  expect(ok(rt(['port', 'ranged'])).trim().split('\n').sort()).toEqual([`5353/udp -> 0.0.0.0:${u}`, `80/tcp -> 127.0.0.1:${a}`, `81/tcp -> 127.0.0.1:${a + 1}`].sort());
  await until('the second port of the range', async () => (await get('127.0.0.1', a + 1).catch((e: Error) => e.message)).includes('404'));
  // busybox has no UDP listener: a receiver runs in the container's network namespace instead.
  const netns = inspect('ranged', '{{.NetworkSettings.SandboxKey}}');
  const receiver = spawn('nsenter', [`--net=${netns}`, process.execPath, '-e', "const s=require('dgram').createSocket('udp4');s.on('message',(m)=>{process.stdout.write(m);process.exit(0)});s.bind(5353,()=>console.log('ready'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
  let got = '';
  receiver.stdout!.on('data', (d) => (got += d));
  const ended = new Promise((r) => receiver.once('exit', r));
  const dgram = await import('node:dgram');
  const sock = dgram.createSocket('udp4');
  try {
    await until('the receiver', () => got.startsWith('ready'));
    await until('the datagram to arrive', async () => {
      await new Promise<void>((r) => sock.send('ping-udp', u, '127.0.0.1', () => r()));
      await sleep(100);
      return got.includes('ping-udp');
    });
  } finally {
    sock.close();
    receiver.kill();
    await ended;
  }
  ok(rt(['rm', '-f', 'ranged']));
});

test('a host port in use fails the run, naming the port, and leaves no container and no network state', async () => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
  const port = (holder.address() as net.AddressInfo).port;
  try {
    const before = footprint();
    const r = rt(['run', '-d', '--name', 'clash', '-p', `127.0.0.1:${port}:80`, 'busybox:net', 'sleep', '100']);
    expect(r.code).toBe(125); // as docker run: the engine failed before the container ran
    expect(r.stderr).toContain(`Bind for 127.0.0.1:${port} failed: port is already allocated`);
    expect(ok(rt(['ps', '-aq', '--filter', 'name=clash']))).toBe('');
    expect(footprint()).toEqual(before);
    // Another container's port counts as taken too.
    const other = await freePort();
    ok(rt(['run', '-d', '--name', 'first', '-p', `${other}:80`, 'busybox:net', 'sleep', '100']));
    expect(rt(['run', '-d', '--name', 'second', '-p', `127.0.0.1:${other}:80`, 'busybox:net', 'sleep', '100']).stderr).toContain(`Bind for 127.0.0.1:${other} failed: port is already allocated`);
    ok(rt(['rm', '-f', 'first']));
  } finally {
    holder.close();
  }
});

test('network connect and disconnect act on a running container; rm of a network in use is refused', async () => {
  netCreate(['--subnet', userSubnet(4), 'extra']);
  ok(rt(['run', '-d', '--name', 'svc', '--network', 'extra', 'busybox:net', ...httpd('svc')]));
  ok(rt(['run', '-d', '--name', 'roamer', '--network', 'back', 'busybox:net', 'sleep', '1000']));
  expect(rt(['exec', 'roamer', 'sh', '-c', 'wget -T 2 -qO- http://svc/index.html || echo unreachable']).stdout).toBe('unreachable\n');
  ok(rt(['network', 'connect', '--alias', 'wanderer', '--ip', `10.${OCTET + 1}.4.77`, 'extra', 'roamer']));
  expect(ok(rt(['exec', 'roamer', 'sh', '-c', 'ip -4 -o addr show eth1']))).toContain(`inet 10.${OCTET + 1}.4.77/24`);
  await until('svc by name from roamer', () => rt(['exec', 'roamer', 'wget', '-qO-', 'http://svc/index.html']).stdout === 'svc\n');
  // The alias resolves on that network (nothing listens on port 1: the refusal names the address).
  expect(ok(rt(['exec', 'svc', 'sh', '-c', 'nc -w 2 wanderer 1 </dev/null 2>&1 || true']))).toBe(`nc: can't connect to remote host (10.${OCTET + 1}.4.77): Connection refused\n`);
  expect(inspect('roamer', '{{.NetworkSettings.Networks.extra.IPAddress}}')).toBe(`10.${OCTET + 1}.4.77`);
  expect(rt(['network', 'connect', 'extra', 'roamer']).stderr).toContain('already exists in network extra');
  expect(rt(['network', 'rm', 'extra'])).toMatchObject({ code: 1, stderr: expect.stringContaining('has active endpoints') });
  ok(rt(['network', 'disconnect', 'extra', 'roamer']));
  expect(rt(['exec', 'roamer', 'sh', '-c', 'ip link show eth1 || echo gone']).stdout).toContain('gone');
  expect(rt(['network', 'disconnect', 'extra', 'roamer']).stderr).toContain('is not connected to network extra');
  ok(rt(['rm', '-f', 'svc', 'roamer']));
  // Disconnected from its only network, a container still has its namespace to undo at rm.
  const lonely = ok(rt(['run', '-d', '--name', 'lonely', '--network', 'extra', 'busybox:net', 'sleep', '1000'])).trim();
  ok(rt(['network', 'disconnect', 'extra', 'lonely']));
  ok(rt(['rm', '-f', 'lonely']));
  expect(fs.readdirSync(path.join(work, 'run', 'netns'))).not.toContain(lonely);
  ok(rt(['network', 'rm', 'extra']));
});

test('--network container:C shares its namespace; --ip is honoured or refused with the reason; unknown networks are named', async () => {
  ok(rt(['run', '-d', '--name', 'main', '--network', 'front', '--ip', `10.${OCTET + 1}.1.50`, 'busybox:net', ...httpd('shared')]));
  await until('main to serve', () => rt(['exec', 'main', 'wget', '-qO-', 'http://127.0.0.1/index.html']).stdout === 'shared\n');
  expect(ok(rt(['run', '--rm', '--network', 'container:main', 'busybox:net', 'wget', '-qO-', 'http://127.0.0.1/index.html']))).toBe('shared\n');
  expect(rt(['run', '--rm', '--network', 'front', '--ip', `10.${OCTET + 1}.1.50`, 'busybox:net', 'true']).stderr).toMatch(/10\.\d+\.1\.50.*(in use|taken|main)/);
  expect(rt(['run', '--rm', '--network', 'front', '--ip', '10.9.9.9', 'busybox:net', 'true']).stderr).toMatch(/10\.9\.9\.9.*(outside|not in)/);
  expect(rt(['run', '--rm', '--ip', `10.${OCTET}.0.99`, 'busybox:net', 'true']).stderr).toContain('user defined networks only');
  expect(rt(['run', '--rm', '--network', 'nosuch', 'busybox:net', 'true'])).toMatchObject({ code: 125, stderr: expect.stringContaining('nosuch not found') });
  expect(rt(['run', '--rm', '--network', 'container:main', '-p', '81:81', 'busybox:net', 'true']).stderr).toContain('conflicting options');
  ok(rt(['rm', '-f', 'main', 'web']));
});

test('a container killed with its monitor is repaired by the next command: no namespace, veth or address left', async () => {
  const id = ok(rt(['run', '-d', '--name', 'doomed', '--network', 'back', '-p', '80', 'busybox:net', 'sleep', '1000'])).trim();
  expect(fs.readdirSync(path.join(work, 'run', 'netns'))).toContain(id);
  const monitor = Number(inspect('doomed', '{{.State.Pid}}'));
  expect(monitor).toBeGreaterThan(0);
  const conmon = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && safe(`/proc/${p}/cmdline`).startsWith('/usr/bin/conmon') && safe(`/proc/${p}/cmdline`).includes(`-n\0doomed\0`));
  expect(conmon.length).toBe(1);
  process.kill(monitor, 'SIGKILL');
  process.kill(Number(conmon[0]), 'SIGKILL');
  await until('the next command to see it exited', () => inspect('doomed', '{{.State.Status}}') === 'exited');
  expect(inspect('doomed', '{{.NetworkSettings.Networks.back.IPAddress}}')).toBe('');
  expect(fs.readdirSync(path.join(work, 'run', 'netns'))).not.toContain(id);
  expect(JSON.parse(ok(rt(['network', 'inspect', 'back'])))[0].Containers).toEqual({});
  ok(rt(['rm', 'doomed']));
  ok(rt(['network', 'rm', 'front', 'back', 'sealed']));
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
