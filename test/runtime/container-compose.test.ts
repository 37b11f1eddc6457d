import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runtimeConfig } from '../../runtime/config';
import { ContainerService } from '../../runtime/containers';
import { CliResult, cdkDocker, ok, tempDir, until } from '../helpers/cli';
import { busyboxRootfsTar } from '../helpers/images';
import { aardvarksUnder, privateNetworkConfig } from '../helpers/network';
import { requireCommand } from '../helpers/prereq';

jest.setTimeout(120_000);

/**
 * What compose files set on a container, on real runc + conmon + netavark, through the runtime
 * CLI as a user types it (`--dns`, `--sysctl`, `--ulimit`, `--device`, `--pid`, `--ipc`,
 * `--expose`) and through the service for what only the SDK gives (secret and config files).
 */
const OCTET = 177; // the default network 10.177.0.0/24 (no user networks: its pool 10.178 stays unused)
let work: string;
let env: NodeJS.ProcessEnv;
let svc: ContainerService;
const rt = (args: string[]): CliResult => cdkDocker(['runtime', ...args], work, env);
const inspect = (c: string, template: string) => ok(rt(['inspect', '-f', template, c])).trim();
const sh = (c: string, script: string) => ok(rt(['exec', c, 'sh', '-c', script]));

beforeAll(() => {
  for (const [cmd, pkg] of [['runc', 'runc'], ['conmon', 'conmon'], ['iptables-save', 'iptables'], ['ip', 'iproute2'], ['unshare', 'util-linux']]) requireCommand(cmd, pkg);
  requireCommand('netavark', 'netavark', ['/usr/lib/podman', '/usr/libexec/podman']);
  work = tempDir('gaps-compose-');
  env = { CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') };
  privateNetworkConfig(env.CDK_DOCKER_ROOT!, OCTET);
  const rootfs = busyboxRootfsTar(work, ['sh', 'cat', 'echo', 'sleep', 'test', 'stat', 'id']);
  ok(rt(['import', '-c', 'ENV PATH=/bin', '-c', 'EXPOSE 6379', '-c', 'CMD ["sh"]', rootfs, 'busybox:gaps']));
  svc = new ContainerService(runtimeConfig(env));
});

afterAll(async () => {
  if (!work) return;
  const all = rt(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (all.length) rt(['rm', '-f', ...all]);
  await until('the monitors to exit', () => !fs.readdirSync('/proc').some((p) => /^\d+$/.test(p) && read(`/proc/${p}/cmdline`).includes(work)), 15_000).catch(() => undefined);
  const left = footprint();
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

/** What this suite could leave on the host: iptables lines of its subnet, mounts, namespaces, aardvark-dns. */
function footprint(): string[] {
  const rules = execFileSync('iptables-save', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`10.${OCTET}.`))
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

test('run takes --dns, --dns-search, --dns-option, --sysctl, --ulimit, --device, --shm-size, --ipc and --expose, and the container sees them', async () => {
  ok(
    rt([
      'run', '-d', '--name', 'c1',
      '--dns', '10.177.0.53', '--dns-search', 'gaps.test', '--dns-option', 'ndots:3',
      '--sysctl', 'net.core.somaxconn=512', '--ulimit', 'nofile=512:1024', '--ulimit', 'nproc=100', '--ulimit', 'core=-1',
      '--device', '/dev/null:/dev/gaps-null:rw', '--shm-size', '32m', '--ipc', 'shareable', '--expose', '7000-7001/udp',
      'busybox:gaps', 'sh', '-c', 'ulimit -n > /tmp/u; ulimit -Hn >> /tmp/u; ulimit -u >> /tmp/u; ulimit -c >> /tmp/u; exec sleep 1000',
    ]),
  );
  const resolv = sh('c1', 'cat /etc/resolv.conf');
  expect(resolv).toMatch(/^nameserver 10\.177\.0\.53$/m);
  expect(resolv).toMatch(/^search gaps\.test$/m);
  expect(resolv).toMatch(/^options ndots:3$/m);
  // -1 is unlimited (RLIM_INFINITY, which the spec must carry as a uint64).
  // The container's own process (runc's exec may raise an exec'd one's soft limit to the hard one).
  await until('the container to write its limits', () => rt(['exec', 'c1', 'cat', '/tmp/u']).stdout.split('\n').length > 4, 10_000);
  expect(sh('c1', 'cat /proc/sys/net/core/somaxconn; cat /tmp/u')).toBe('512\n512\n1024\n100\nunlimited\n');
  expect(sh('c1', 'echo x > /dev/gaps-null && echo written; cat /dev/gaps-null; echo read')).toBe('written\nread\n');
  expect(sh('c1', 'cat /proc/mounts')).toMatch(/^\S+ \/dev\/shm tmpfs \S*size=32768k/m);
  // Docker's inspect names for them; the image's port and the exposed ones.
  expect(inspect('c1', '{{json .HostConfig.Dns}} {{json .HostConfig.Sysctls}} {{json .HostConfig.Ulimits}} {{.HostConfig.IpcMode}}')).toBe(
    '["10.177.0.53"] {"net.core.somaxconn":"512"} [{"Name":"nofile","Soft":512,"Hard":1024},{"Name":"nproc","Soft":100,"Hard":100},{"Name":"core","Soft":-1,"Hard":-1}] shareable',
  );
  expect(inspect('c1', '{{json .Config.ExposedPorts}}')).toBe('{"6379/tcp":{},"7000/udp":{},"7001/udp":{}}');
  expect(inspect('c1', '{{json .HostConfig.Devices}}')).toBe('[{"PathOnHost":"/dev/null","PathInContainer":"/dev/gaps-null","CgroupPermissions":"rw"}]');
  ok(rt(['rm', '-f', 'c1']));
});

test('--pid host and --ipc host share the host\'s PID namespace and /dev/shm', () => {
  const mark = path.join('/dev/shm', `gaps-${process.pid}`);
  fs.writeFileSync(mark, 'host');
  try {
    ok(rt(['run', '-d', '--name', 'c2', '--pid', 'host', '--ipc', 'host', 'busybox:gaps', 'sh', '-c', 'echo gaps-c2-main; sleep 1000']));
    expect(sh('c2', 'cat /proc/1/cmdline')).not.toContain('gaps-c2-main');
    expect(sh('c2', `cat ${mark}`)).toBe('host');
    ok(rt(['rm', '-f', 'c2']));
  } finally {
    fs.rmSync(mark, { force: true });
  }
});

test.each<[string[], string, number]>([
  [['--sysctl', 'vm.swappiness=10'], "sysctl 'vm.swappiness' is not allowed: only net.*, fs.mqueue.*, kernel.msg*, kernel.sem and kernel.shm* are namespaced", 1],
  [['--network', 'host', '--sysctl', 'net.core.somaxconn=1'], "sysctl 'net.core.somaxconn' is not allowed in the host network namespace", 1],
  [['--ipc', 'host', '--sysctl', 'kernel.shmmax=1'], "sysctl 'kernel.shmmax' is not allowed with the host IPC namespace", 1],
  [['--ulimit', 'nofile=10:5'], 'ulimit soft limit must be less than or equal to hard limit: 10 > 5', 1],
  [['--ulimit', 'files=10'], 'invalid ulimit type: files', 1],
  [['--ulimit', 'nofile'], 'invalid argument "nofile" for "--ulimit" flag: use NAME=SOFT[:HARD], for example nofile=1024:2048', 125],
  [['--device', '/dev/gaps-missing'], 'error gathering device information while adding custom device "/dev/gaps-missing": no such file or directory', 1],
  [['--device', '/etc/hostname'], 'error gathering device information while adding custom device "/etc/hostname": not a device node', 1],
  [['--device', '/dev/null:/dev/x:rwx'], 'invalid argument "/dev/null:/dev/x:rwx" for "--device" flag: invalid device mode: rwx', 125],
  [['--dns', 'dns.example'], 'dns.example is not an ip address', 1],
  [['--pid', 'private'], '--pid: invalid PID mode "private": use host', 1],
  [['--ipc', 'none'], '--ipc: invalid IPC mode "none": use host, private or shareable', 1],
  [['--expose', '70000'], 'invalid argument "70000" for "--expose" flag: use PORT[/PROTO] or START-END[/PROTO], for example 8080/udp', 125],
])('create %j is refused: %s (exit %i, 125 for a flag that cannot be read, as Docker\'s CLI); nothing is created', (flags, message, code) => {
  const r = rt(['create', ...flags, 'busybox:gaps', 'true']);
  expect(r.code).toBe(code);
  expect(r.stderr.trim().split('\n')).toEqual([`Error: ${message}`]);
  expect(rt(['ps', '-aq']).stdout).toBe('');
});

test('files given at create are read-only in the container, even for root and a read-only rootfs, with their mode and owner, after a restart too', async () => {
  const c = await svc.create({
    image: 'busybox:gaps',
    name: 'c3',
    cmd: ['sleep', '1000'],
    readOnly: true,
    files: [
      { target: '/run/secrets/db_password', content: Buffer.from('s3cret\n'), mode: 0o440, uid: 0, gid: 65534 },
      { target: '/etc/app/app.conf', content: Buffer.from('port=1\n'), mode: 0o444, uid: 1000, gid: 1000 },
    ],
  });
  ok(rt(['start', 'c3']));
  expect(sh('c3', 'cat /run/secrets/db_password; stat -c "%a %u %g" /run/secrets/db_password /etc/app/app.conf; cat /etc/app/app.conf')).toBe('s3cret\n440 0 65534\n444 1000 1000\nport=1\n');
  const write = rt(['exec', 'c3', 'sh', '-c', 'echo x > /run/secrets/db_password']);
  expect(write.code).not.toBe(0);
  expect(write.stderr).toContain('Read-only file system');
  // Nothing of the value in what inspect shows; the file is the container's own, root's only.
  expect(ok(rt(['inspect', 'c3']))).not.toContain('s3cret');
  const stored = path.join(env.CDK_DOCKER_ROOT!, 'containers', c.Id);
  expect(fs.statSync(stored).mode & 0o777).toBe(0o700);
  expect(fs.statSync(path.join(stored, 'files')).mode & 0o777).toBe(0o700);
  ok(rt(['restart', '-t', '1', 'c3']));
  expect(sh('c3', 'cat /etc/app/app.conf')).toBe('port=1\n');
  // cp reads them as the container sees them, and cannot write them.
  const copy = path.join(work, 'copied.conf');
  ok(rt(['cp', 'c3:/etc/app/app.conf', copy]));
  expect(fs.readFileSync(copy, 'utf8')).toBe('port=1\n');
  fs.writeFileSync(copy, 'port=2\n');
  expect(rt(['cp', copy, 'c3:/etc/app/app.conf']).code).not.toBe(0);
  expect(sh('c3', 'cat /etc/app/app.conf')).toBe('port=1\n');
  // Removing the container removes its files.
  ok(rt(['rm', '-f', 'c3']));
  expect(fs.existsSync(stored)).toBe(false);
});

test('a file target with a ".." segment is refused before anything is written', async () => {
  await expect(svc.create({ image: 'busybox:gaps', cmd: ['true'], files: [{ target: '/run/../../etc/passwd', content: Buffer.from('x'), mode: 0o444, uid: 0, gid: 0 }] })).rejects.toThrow(
    'invalid file target "/run/../../etc/passwd": it must be an absolute path without "." or ".." segments',
  );
  expect(svc.records()).toEqual([]);
});
