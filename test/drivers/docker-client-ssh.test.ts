/**
 * The Docker Engine API client over ssh://, as the Docker CLI: `ssh … -- host docker system
 * dial-stdio`, HTTP over the ssh process's stdio. A private sshd on 127.0.0.1 (its own host key,
 * authorized key, port and pidfile, in the foreground, stopped by pid) gives a session whose
 * DOCKER_HOST (sshd's SetEnv) is a private dockerd's socket; the client's ssh options
 * (identity, known_hosts) come from CDK_DOCKER_SSH_OPTS.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { DockerClient, DockerUnreachableError, demuxToStrings } from '../../lib/drivers/docker';
import { ROOT, cdkDocker, ok, removeTempDirs, tempDir, writeJsApp } from '../helpers/cli';
import { TestDockerd, startDockerd } from '../helpers/dockerd';
import { daemonLog, requireCommand } from '../helpers/prereq';
import { BASE_ARCHIVE } from '../helpers/stack';

jest.setTimeout(60_000);

const IMAGE = 'busybox:examples';
let dockerd: TestDockerd;
let sshd: ChildProcess | undefined;
let sshdLog: ReturnType<typeof daemonLog>;
let dir: string;
let port: number;
let env: NodeJS.ProcessEnv;
let iptablesBefore: string;
const iptables = () => execFileSync('iptables-save', { encoding: 'utf8' }).split('\n').filter((l) => /docker/i.test(l)).join('\n');

/** ssh options for the client: our key, our known_hosts, no user config, never a prompt. */
const sshOpts = (knownHosts: string, identity: string) =>
  `-F /dev/null -i ${identity} -o IdentitiesOnly=yes -o UserKnownHostsFile=${knownHosts} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes`;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const p = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return p;
}

/** The pids of `ssh` processes whose parent is this process. */
function ourSshChildren(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return stat.includes('(ssh)') && Number(fields[1]) === process.pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

beforeAll(async () => {
  const sshdPath = requireCommand('sshd', 'openssh-server');
  requireCommand('ssh', 'openssh-client');
  requireCommand('ssh-keygen', 'openssh-client');
  requireCommand('iptables-save', 'iptables');
  execFileSync('bash', [path.join(ROOT, 'examples', 'base', 'make-busybox-archive.sh')], { stdio: 'ignore' });
  iptablesBefore = iptables();
  dir = tempDir('cdk-docker-client-ssh-');
  dockerd = await startDockerd({ label: 'client-ssh' });
  dockerd.docker(['load', '-i', BASE_ARCHIVE]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'cdk-docker-test', '-f', path.join(dir, 'id')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'stranger')]);
  fs.copyFileSync(path.join(dir, 'id.pub'), path.join(dir, 'authorized_keys'));
  port = await freePort();
  fs.writeFileSync(path.join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${fs.readFileSync(path.join(dir, 'host_key.pub'), 'utf8')}`);
  fs.writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_key')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      // The remote `docker system dial-stdio` talks to the private dockerd.
      `SetEnv DOCKER_HOST=${dockerd.host}`,
      '',
    ].join('\n'),
  );
  // sshd's privilege separation directory (the openssh-server package makes it at boot).
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  sshdLog = daemonLog(path.join(dir, 'sshd.log'));
  sshd = spawn(sshdPath, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', sshdLog.fd] });
  fs.closeSync(sshdLog.fd);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (sshd.exitCode !== null) throw new Error(`sshd exited (${sshd.exitCode}): ${sshdLog.tail()}`);
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`sshd did not listen within 10 s: ${sshdLog.tail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  env = { DOCKER_HOST: `ssh://root@127.0.0.1:${port}`, CDK_DOCKER_SSH_OPTS: sshOpts(path.join(dir, 'known_hosts'), path.join(dir, 'id')), HOME: dir };
});

afterAll(async () => {
  if (sshd && sshd.exitCode === null && sshd.signalCode === null) {
    const exited = new Promise((r) => sshd!.once('exit', r));
    process.kill(sshd.pid!, 'SIGTERM');
    await exited;
  }
  if (dockerd) {
    const all = dockerd.docker(['ps', '-aq']).split('\n').filter(Boolean);
    if (all.length) dockerd.docker(['rm', '-f', ...all]);
    await dockerd.stop();
  }
  removeTempDirs();
  if (iptablesBefore !== undefined) expect(iptables()).toEqual(iptablesBefore);
});

test('ssh://root@127.0.0.1:PORT reaches the engine through docker system dial-stdio', async () => {
  const c = await DockerClient.connect({}, env);
  try {
    expect(c.endpoint).toMatchObject({ kind: 'ssh', host: `ssh://root@127.0.0.1:${port}`, source: 'DOCKER_HOST' });
    expect(c.apiVersion).toBe('1.41');
    const info = await c.request<{ ID: string }>('GET', '/info');
    expect(info.ID).toBe(JSON.parse(dockerd.docker(['info', '--format', '{{json .ID}}'])));
  } finally {
    await c.close();
  }
  expect(ourSshChildren()).toEqual([]);
});

test('parallel requests, streamed logs and an exec with stdin over ssh; close() ends every ssh process', async () => {
  const c = await DockerClient.connect({}, env);
  try {
    const { Id } = await c.request<{ Id: string }>('POST', '/containers/create', { body: { Image: IMAGE, Cmd: ['sh', '-c', 'echo up; echo warn >&2; sleep 60'], HostConfig: { NetworkMode: 'none' } } });
    await c.request('POST', `/containers/${Id}/start`);
    // Several connections at once (one ssh process each, as the Docker CLI).
    const inspects = await Promise.all([1, 2, 3, 4].map(() => c.request<{ Id: string }>('GET', `/containers/${Id}/json`)));
    expect(inspects.map((i) => i.Id)).toEqual([Id, Id, Id, Id]);
    const exec = await c.request<{ Id: string }>('POST', `/containers/${Id}/exec`, { body: { AttachStdin: true, AttachStdout: true, AttachStderr: true, Cmd: ['sh', '-c', 'cat; echo bye >&2'] } });
    const conn = await c.hijack('POST', `/exec/${exec.Id}/start`, { body: { Detach: false, Tty: false } });
    conn.end('over ssh\n');
    expect(await demuxToStrings(conn)).toEqual({ stdout: 'over ssh\n', stderr: 'bye\n' });
    const logs = await c.stream('GET', `/containers/${Id}/logs`, { query: { stdout: true, stderr: true } });
    expect(await demuxToStrings(logs.body)).toEqual({ stdout: 'up\n', stderr: 'warn\n' });
    await c.request('DELETE', `/containers/${Id}`, { query: { force: true } });
    expect(ourSshChildren().length).toBeGreaterThan(0);
  } finally {
    await c.close();
  }
  expect(ourSshChildren()).toEqual([]);
});

test('the remote socket as the URL\'s path (ssh://host/path/to/docker.sock)', async () => {
  const sock = dockerd.host.slice('unix://'.length);
  const c = await DockerClient.connect({ host: `ssh://root@127.0.0.1:${port}${sock}` }, env);
  try {
    expect((await c.ping()).apiVersion).toBe('1.41');
  } finally {
    await c.close();
  }
});

describe('ssh failures, one line each', () => {
  const failure = async (options: object, e: NodeJS.ProcessEnv): Promise<Error> =>
    DockerClient.connect(options, e).then(
      async (c) => {
        await c.close();
        return new Error('connected');
      },
      (x: Error) => x,
    );

  test('an unknown host key', async () => {
    const empty = path.join(dir, 'empty_known_hosts');
    fs.writeFileSync(empty, '');
    const e = await failure({}, { ...env, CDK_DOCKER_SSH_OPTS: sshOpts(empty, path.join(dir, 'id')) });
    expect(e).toBeInstanceOf(DockerUnreachableError);
    expect(e.message).toBe(`cannot reach the Docker Engine at ssh://root@127.0.0.1:${port} over ssh: Host key verification failed.; check that \`ssh root@127.0.0.1 -p ${port} docker version\` works (keys, known_hosts, address)`);
  });

  test('a key the server does not authorize', async () => {
    const e = await failure({}, { ...env, CDK_DOCKER_SSH_OPTS: sshOpts(path.join(dir, 'known_hosts'), path.join(dir, 'stranger')) });
    expect(e).toBeInstanceOf(DockerUnreachableError);
    expect(e.message).toBe(`cannot reach the Docker Engine at ssh://root@127.0.0.1:${port} over ssh: root@127.0.0.1: Permission denied (publickey).; check that \`ssh root@127.0.0.1 -p ${port} docker version\` works (keys, known_hosts, address)`);
  });

  test('no engine behind the remote socket', async () => {
    const e = await failure({ host: `ssh://root@127.0.0.1:${port}/run/cdk-docker-no-such.sock` }, env);
    expect(e).toBeInstanceOf(DockerUnreachableError);
    expect(e.message).toBe(
      `cannot reach the Docker Engine at ssh://root@127.0.0.1:${port}/run/cdk-docker-no-such.sock over ssh: failed to open the raw stream connection: dial unix /run/cdk-docker-no-such.sock: connect: no such file or directory; start dockerd on 127.0.0.1 at /run/cdk-docker-no-such.sock, or name its socket in the address (ssh://host/path/to/docker.sock)`,
    );
  });
});

test('a stack applies, plans no changes and is destroyed through DOCKER_HOST=ssh://…', () => {
  const app = tempDir('cdk-docker-client-ssh-app-');
  writeJsApp(
    app,
    `const app = new cdk.App();
const stack = new cdk.Stack(app, 'overssh');
const img = new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(BASE_ARCHIVE)}, tag: 'busybox:examples' });
new cdk.Container(stack, 'job', { image: img, networkMode: 'none', command: ['sh', '-c', 'echo over ssh; exec sleep 100000'] });
app.synth();`,
  );
  const cli = (args: string[]) => cdkDocker([...args, '--engine', 'docker'], app, { ...env, DOCKER_CONTEXT: '', CDK_DOCKER_ROOT: path.join(app, 'root'), CDK_DOCKER_RUNROOT: path.join(app, 'run') });
  expect(ok(cli(['apply', '--auto-approve']))).toMatch(/Apply complete! Resources: \d+ added/);
  expect(dockerd.docker(['ps', '-q', '--filter', 'label=io.cdk-docker.stack=overssh'])).not.toBe('');
  expect(cli(['diff', '--detailed-exitcode']).code).toBe(0);
  expect(ok(cli(['logs', 'overssh', 'job']))).toBe('over ssh\n');
  expect(ok(cli(['destroy', '--auto-approve']))).toContain('Destroy complete!');
  expect(dockerd.docker(['ps', '-aq', '--filter', 'label=io.cdk-docker.stack=overssh'])).toBe('');
});
