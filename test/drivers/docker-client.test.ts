/**
 * The Docker Engine API client (lib/drivers/docker) against a real private dockerd over its unix
 * socket: negotiation, JSON requests and the engine's errors, progress streams, multiplexed and
 * raw streams, hijacked exec/attach with stdin, events, and what a user sees when the engine
 * cannot be reached or the socket is not theirs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { Duplex, PassThrough } from 'node:stream';
import {
  DockerApiVersionError,
  DockerClient,
  DockerConflictError,
  DockerEngineError,
  DockerEvent,
  DockerInvalidArgumentError,
  DockerNotFoundError,
  DockerPermissionError,
  DockerProgressMessage,
  DockerUnreachableError,
  MAX_API_VERSION,
  MIN_API_VERSION,
  demux,
  demuxFrames,
  demuxToStrings,
  registryAuthHeaders,
  resolveDockerEndpoint,
} from '../../lib/drivers/docker';
import { ConflictError, NotFoundError } from '../../lib/core/errors';
import { ROOT, removeTempDirs, tempDir } from '../helpers/cli';
import { TestDockerd, startDockerd } from '../helpers/dockerd';
import { startRegistry } from '../helpers/registry';
import { requireCommand } from '../helpers/prereq';
import { BASE_ARCHIVE } from '../helpers/stack';

jest.setTimeout(60_000);

const IMAGE = 'busybox:examples';
let dockerd: TestDockerd;
let client: DockerClient;
let iptablesBefore: string;
/** iptables-save lines a dockerd would add (its DOCKER chains): other suites change other rules at the same time. */
const iptables = () => execFileSync('iptables-save', { encoding: 'utf8' }).split('\n').filter((l) => /docker/i.test(l)).join('\n');

/** Creates a container (network none) and returns its id. */
async function create(cmd: string[], extra: object = {}, name?: string): Promise<string> {
  const res = await client.request<{ Id: string }>('POST', '/containers/create', {
    query: { name },
    body: { Image: IMAGE, Cmd: cmd, Labels: { 'io.cdk-docker.test': 'docker-client' }, HostConfig: { NetworkMode: 'none' }, ...extra },
  });
  return res.Id;
}

/** Reads a hijacked or response stream to its end. */
async function readAll(s: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  requireCommand('iptables-save', 'iptables');
  execFileSync('bash', [path.join(ROOT, 'examples', 'base', 'make-busybox-archive.sh')], { stdio: 'ignore' });
  iptablesBefore = iptables();
  dockerd = await startDockerd({ label: 'client' });
  client = new DockerClient(resolveDockerEndpoint({}, { DOCKER_HOST: dockerd.host }));
  await client.progress('POST', '/images/load', { query: { quiet: true }, input: fs.createReadStream(BASE_ARCHIVE) });
});

afterAll(async () => {
  if (client) await client.close();
  if (dockerd) {
    const all = dockerd.docker(['ps', '-aq']).split('\n').filter(Boolean);
    if (all.length) dockerd.docker(['rm', '-f', ...all]);
    await dockerd.stop();
  }
  removeTempDirs();
  if (iptablesBefore !== undefined) expect(iptables()).toEqual(iptablesBefore);
});

describe('negotiation', () => {
  test('the client speaks the engine API version of Debian\'s dockerd 20.10 and reports the engine', async () => {
    const n = await client.negotiate();
    expect(n.apiVersion).toBe(MIN_API_VERSION);
    expect(n.ping.apiVersion).toBe('1.41');
    expect(n.ping.osType).toBe('linux');
    expect(n.version.Version).toBe(dockerd.docker(['version', '--format', '{{.Server.Version}}']).trim());
    expect(client.apiVersion).toBe('1.41');
  });

  test('DockerClient.connect resolves the endpoint from the environment and negotiates', async () => {
    const c = await DockerClient.connect({}, { DOCKER_HOST: dockerd.host });
    try {
      expect(c.endpoint).toMatchObject({ kind: 'unix', host: dockerd.host, source: 'DOCKER_HOST' });
      expect(c.engineVersion?.ApiVersion).toBe('1.41');
    } finally {
      await c.close();
    }
  });

  test('an engine below API 1.41 is refused, naming the endpoint, its version and the fix', async () => {
    // An extra check with a stand-in engine: no Docker older than 20.10 is installable here.
    const dir = tempDir('cdk-docker-client-old-');
    const sock = path.join(dir, 'old.sock');
    const server = http.createServer((req, res) => {
      res.setHeader('API-Version', '1.40');
      res.setHeader('Content-Type', req.url === '/_ping' ? 'text/plain' : 'application/json');
      res.end(req.url === '/_ping' ? 'OK' : JSON.stringify({ Version: '19.03.15', ApiVersion: '1.40', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64' }));
    });
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const e = await DockerClient.connect({ host: `unix://${sock}` }, {}).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(DockerApiVersionError);
      expect((e as Error).message).toBe(`the Docker Engine at unix://${sock} speaks API 1.40 (Docker 19.03.15); cdk-docker needs API 1.41 or newer (Docker 20.10+): upgrade the engine`);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test('a newer engine is spoken to at MAX_API_VERSION; one whose minimum is above it is refused', async () => {
    // Stand-in engines again: only Docker 20.10 is installable here.
    const dir = tempDir('cdk-docker-client-new-');
    const paths: string[] = [];
    const engine = (sock: string, min: string) => {
      const server = http.createServer((req, res) => {
        paths.push(req.url!);
        res.setHeader('API-Version', '1.60');
        res.setHeader('Content-Type', req.url === '/_ping' ? 'text/plain' : 'application/json');
        res.end(req.url === '/_ping' ? 'OK' : req.url === '/version' ? JSON.stringify({ Version: '40.0.0', ApiVersion: '1.60', MinAPIVersion: min, Os: 'linux', Arch: 'amd64' }) : '[]');
      });
      return new Promise<http.Server>((r) => server.listen(sock, () => r(server)));
    };
    const servers = [await engine(path.join(dir, 'new.sock'), '1.44'), await engine(path.join(dir, 'newer.sock'), '1.55')];
    try {
      const c = await DockerClient.connect({ host: `unix://${dir}/new.sock` }, {});
      expect(c.apiVersion).toBe(MAX_API_VERSION);
      await c.request('GET', '/containers/json');
      await c.close();
      expect(paths).toEqual(['/_ping', '/version', `/v${MAX_API_VERSION}/containers/json`]);
      const e = await DockerClient.connect({ host: `unix://${dir}/newer.sock` }, {}).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(DockerApiVersionError);
      expect((e as Error).message).toBe(`the Docker Engine at unix://${dir}/newer.sock (Docker 40.0.0) needs API 1.55 or newer, and this cdk-docker speaks up to ${MAX_API_VERSION}: upgrade cdk-docker`);
    } finally {
      for (const s of servers) await new Promise((r) => s.close(r));
    }
  });
});

describe('requests and the engine\'s errors', () => {
  test('a JSON request returns the parsed answer, with filters encoded as the engine expects', async () => {
    const id = await create(['true'], { Labels: { 'io.cdk-docker.test': 'filters', color: 'blue' } });
    const list = await client.request<Array<{ Id: string; Labels: Record<string, string> }>>('GET', '/containers/json', {
      query: { all: true, filters: { label: ['color=blue'] } },
    });
    expect(list.map((c) => c.Id)).toEqual([id]);
    expect(await client.request('DELETE', `/containers/${id}`)).toBeUndefined();
  });

  test('404 is a DockerNotFoundError (a core NotFoundError) carrying the engine\'s message', async () => {
    const e = await client.request('GET', '/containers/no-such-thing/json').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DockerNotFoundError);
    expect(e).toBeInstanceOf(NotFoundError);
    expect((e as DockerNotFoundError).message).toBe(`Docker Engine at ${dockerd.host}: No such container: no-such-thing`);
    expect((e as DockerNotFoundError).statusCode).toBe(404);
    expect((e as DockerNotFoundError).endpoint).toBe(dockerd.host);
  });

  test('409 is a DockerConflictError: a second container of the same name', async () => {
    const id = await create(['true'], {}, 'twice');
    const e = await create(['true'], {}, 'twice').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DockerConflictError);
    expect(e).toBeInstanceOf(ConflictError);
    expect((e as Error).message).toBe(
      `Docker Engine at ${dockerd.host}: Conflict. The container name "/twice" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
    await client.request('DELETE', `/containers/${id}`);
  });

  test('400 is a DockerInvalidArgumentError: a name the engine refuses', async () => {
    const e = await create(['true'], {}, 'bad name!').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DockerInvalidArgumentError);
    expect((e as Error).message).toBe(`Docker Engine at ${dockerd.host}: Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  });

  test('304 (already started) is no error', async () => {
    const id = await create(['sleep', '30']);
    await client.request('POST', `/containers/${id}/start`);
    expect(await client.request('POST', `/containers/${id}/start`)).toBeUndefined();
    await client.request('DELETE', `/containers/${id}`, { query: { force: true } });
  });
});

describe('progress streams', () => {
  test('an image load reports each message to the callback and returns the output', async () => {
    const seen: DockerProgressMessage[] = [];
    const r = await client.progress('POST', '/images/load', { input: fs.createReadStream(BASE_ARCHIVE), onMessage: (m) => seen.push(m) });
    expect(r.output).toContain(`Loaded image: ${IMAGE}`);
    expect(seen.some((m) => m.stream?.includes(`Loaded image: ${IMAGE}`))).toBe(true);
  });

  test('a build streams its steps and its failure is thrown with the engine\'s words', async () => {
    const dir = tempDir('cdk-docker-client-build-');
    fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${IMAGE}\nRUN echo building\nRUN exit 3\n`);
    const tar = execFileSync('tar', ['-C', dir, '-c', 'Dockerfile']);
    const lines: string[] = [];
    const e = await client
      .progress('POST', '/build', { query: { networkmode: 'none', rm: true, forcerm: true, labels: { 'io.cdk-docker.test': 'build' } }, input: tar, onMessage: (m) => m.stream && lines.push(m.stream) })
      .catch((x: unknown) => x);
    expect(lines.join('')).toContain('building\n');
    expect(e).toBeInstanceOf(DockerEngineError);
    expect((e as DockerEngineError).statusCode).toBe(0);
    expect((e as Error).message).toBe(`Docker Engine at ${dockerd.host}: The command '/bin/sh -c exit 3' returned a non-zero code: 3`);
  });

  test('a successful build returns its image id among the aux values', async () => {
    const dir = tempDir('cdk-docker-client-build-');
    fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${IMAGE}\nLABEL built=yes\n`);
    const tar = execFileSync('tar', ['-C', dir, '-c', 'Dockerfile']);
    const r = await client.progress('POST', '/build', { query: { networkmode: 'none', t: ['client-built:1'] }, input: tar });
    const id = (r.aux.find((a) => (a as { ID?: string }).ID) as { ID: string }).ID;
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const inspected = await client.request<{ Id: string; Config: { Labels: Record<string, string> } }>('GET', '/images/client-built:1/json');
    expect(inspected.Id).toBe(id);
    expect(inspected.Config.Labels.built).toBe('yes');
  });
});

describe('registry credentials', () => {
  test('push and pull through a registry with basic auth, with X-Registry-Auth from config.json', async () => {
    const registry = await startRegistry({ basicAuth: { alice: 's3cret' } });
    try {
      const ref = `${registry.host}/client/busybox`;
      await client.request('POST', `/images/${IMAGE}/tag`, { query: { repo: ref, tag: '1' } });
      // Without credentials the registry refuses, and the engine says so inside the stream.
      const none = registryAuthHeaders(`${ref}:1`, { DOCKER_CONFIG: tempDir('cdk-docker-client-noauth-') });
      const anonymous = await client.progress('POST', `/images/${ref}/push`, { query: { tag: '1' }, headers: none }).catch((x: unknown) => x);
      expect(anonymous).toBeInstanceOf(DockerEngineError);
      expect((anonymous as Error).message).toBe(`Docker Engine at ${dockerd.host}: no basic auth credentials`);
      const config = tempDir('cdk-docker-client-auth-');
      fs.writeFileSync(path.join(config, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }));
      const headers = registryAuthHeaders(`${ref}:1`, { DOCKER_CONFIG: config });
      const pushed = await client.progress('POST', `/images/${ref}/push`, { query: { tag: '1' }, headers });
      const digest = (pushed.aux.find((a) => (a as { Digest?: string }).Digest) as { Digest: string }).Digest;
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      await client.request('DELETE', `/images/${ref}:1`);
      const statuses: string[] = [];
      await client.progress('POST', '/images/create', { query: { fromImage: ref, tag: '1' }, headers, onMessage: (m) => m.status && statuses.push(m.status) });
      expect(statuses).toContain(`Digest: ${digest}`);
      const inspected = await client.request<{ RepoDigests: string[] }>('GET', `/images/${ref}:1/json`);
      expect(inspected.RepoDigests).toEqual([`${ref}@${digest}`]);
    } finally {
      await registry.stop();
    }
  });
});

describe('container streams', () => {
  test('logs of a container without a TTY come apart into stdout and stderr', async () => {
    const id = await create(['sh', '-c', 'echo out1; echo err1 >&2; echo out2']);
    await client.request('POST', `/containers/${id}/start`);
    expect(await client.request('POST', `/containers/${id}/wait`)).toEqual({ StatusCode: 0, Error: null });
    const res = await client.stream('GET', `/containers/${id}/logs`, { query: { stdout: true, stderr: true } });
    expect(await demuxToStrings(res.body)).toEqual({ stdout: 'out1\nout2\n', stderr: 'err1\n' });
    const out = new PassThrough();
    const err = new PassThrough();
    await demux((await client.stream('GET', `/containers/${id}/logs`, { query: { stdout: true, stderr: true } })).body, out, err);
    out.end();
    err.end();
    expect((await readAll(out)).toString()).toBe('out1\nout2\n');
    expect((await readAll(err)).toString()).toBe('err1\n');
  });

  test('logs of a container with a TTY are raw', async () => {
    const id = await create(['sh', '-c', 'echo tty'], { Tty: true });
    await client.request('POST', `/containers/${id}/start`);
    await client.request('POST', `/containers/${id}/wait`);
    const res = await client.stream('GET', `/containers/${id}/logs`, { query: { stdout: true } });
    expect((await readAll(res.body)).toString()).toBe('tty\r\n');
  });

  test('a frame split across chunks, or several frames in one chunk, demultiplex the same', async () => {
    const frame = (kind: number, text: string) => Buffer.concat([Buffer.from([kind, 0, 0, 0, 0, 0, 0, text.length]), Buffer.from(text)]);
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'oops'), frame(1, 'world')]);
    async function* bytes() {
      for (let i = 0; i < all.length; i += 3) yield all.subarray(i, i + 3);
    }
    const frames = [];
    for await (const f of demuxFrames(bytes())) frames.push([f.stream, f.data.toString()]);
    expect(frames).toEqual([['stdout', 'hello '], ['stderr', 'oops'], ['stdout', 'world']]);
    async function* tty() {
      yield Buffer.from('tty output');
    }
    await expect(demuxToStrings(tty())).rejects.toThrow('not a multiplexed Docker stream (header 747479206f757470); a container with a TTY sends raw output');
  });

  test('exec with stdin through a hijacked connection: input in, output and exit code out', async () => {
    const id = await create(['sleep', '60']);
    await client.request('POST', `/containers/${id}/start`);
    const exec = await client.request<{ Id: string }>('POST', `/containers/${id}/exec`, {
      body: { AttachStdin: true, AttachStdout: true, AttachStderr: true, Cmd: ['sh', '-c', 'cat; echo done >&2; exit 4'] },
    });
    const conn: Duplex = await client.hijack('POST', `/exec/${exec.Id}/start`, { body: { Detach: false, Tty: false } });
    conn.write('line one\n');
    conn.end('line two\n');
    expect(await demuxToStrings(conn)).toEqual({ stdout: 'line one\nline two\n', stderr: 'done\n' });
    const inspected = await client.request<{ ExitCode: number; Running: boolean }>('GET', `/exec/${exec.Id}/json`);
    expect(inspected).toMatchObject({ ExitCode: 4, Running: false });
    await client.request('DELETE', `/containers/${id}`, { query: { force: true } });
  });

  test('exec with a TTY gives raw output', async () => {
    const id = await create(['sleep', '60']);
    await client.request('POST', `/containers/${id}/start`);
    const exec = await client.request<{ Id: string }>('POST', `/containers/${id}/exec`, { body: { AttachStdout: true, AttachStderr: true, Tty: true, Cmd: ['echo', 'raw'] } });
    const conn = await client.hijack('POST', `/exec/${exec.Id}/start`, { body: { Detach: false, Tty: true } });
    conn.end();
    expect((await readAll(conn)).toString()).toBe('raw\r\n');
    await client.request('DELETE', `/containers/${id}`, { query: { force: true } });
  });

  test('attach with stdin before start: the container reads what we send', async () => {
    const id = await create(['sh', '-c', 'read a; echo "got $a"'], { OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const conn = await client.hijack('POST', `/containers/${id}/attach`, { query: { stream: true, stdin: true, stdout: true, stderr: true } });
    await client.request('POST', `/containers/${id}/start`);
    conn.end('hello\n');
    expect(await demuxToStrings(conn)).toEqual({ stdout: 'got hello\n', stderr: '' });
    expect(await client.request('POST', `/containers/${id}/wait`)).toEqual({ StatusCode: 0, Error: null });
  });

  test('a hijack the engine refuses throws its error', async () => {
    const e = await client.hijack('POST', '/exec/no-such-exec/start', { body: { Detach: false, Tty: false } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DockerNotFoundError);
    expect((e as Error).message).toBe(`Docker Engine at ${dockerd.host}: No such exec instance: no-such-exec`);
  });
});

describe('events', () => {
  test('events since a time arrive in order for the filtered container, then the loop ends on break', async () => {
    const since = new Date(Date.now() - 1000);
    const id = await create(['sh', '-c', 'exit 2']);
    await client.request('POST', `/containers/${id}/start`);
    const seen: DockerEvent[] = [];
    for await (const ev of client.events({ since, filters: { type: ['container'], container: [id] } })) {
      seen.push(ev);
      if (ev.Action === 'die') break;
    }
    expect(seen.map((e) => e.Action)).toEqual(['create', 'start', 'die']);
    expect(seen[2].Actor).toMatchObject({ ID: id, Attributes: { exitCode: '2', 'io.cdk-docker.test': 'docker-client' } });
  });

  test('a bounded window (since..until) ends by itself', async () => {
    const since = new Date(Date.now() - 60_000);
    const actions = [];
    for await (const ev of client.events({ since, until: new Date(), filters: { type: ['image'] } })) actions.push(ev.Action);
    expect(actions).toContain('load');
  });

  test('an abort signal ends a waiting iteration without an error', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    // From a moment ago: the create is seen whether it reaches the engine before the stream or after.
    const since = new Date(Date.now() - 1000);
    const loop = (async () => {
      for await (const ev of client.events({ since, signal: controller.signal, filters: { type: ['volume'], volume: ['evented'] } })) seen.push(ev.Action);
    })();
    await client.request('POST', '/volumes/create', { body: { Name: 'evented' } });
    for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    await loop;
    expect(seen).toEqual(['create']);
    await client.request('DELETE', '/volumes/evented');
  });
});

describe('reaching the engine', () => {
  test('a socket that does not exist: unreachable, naming the endpoint and the fix', async () => {
    const host = `unix://${tempDir('cdk-docker-client-')}/none.sock`;
    const c = new DockerClient(resolveDockerEndpoint({}, { DOCKER_HOST: host }));
    const e = await c.request('GET', '/info').catch((x: unknown) => x);
    await c.close();
    expect(e).toBeInstanceOf(DockerUnreachableError);
    expect((e as Error).message).toBe(`cannot reach the Docker Engine at ${host}: no such socket; start dockerd (or point DOCKER_HOST at a running engine)`);
  });

  test('a socket nobody listens on: connection refused', async () => {
    const dir = tempDir('cdk-docker-client-');
    const sock = path.join(dir, 'dead.sock');
    // A socket file left by a process that died (as a crashed dockerd leaves it).
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`], { stdio: 'ignore' });
    expect(fs.statSync(sock).isSocket()).toBe(true);
    const e = await DockerClient.connect({ host: `unix://${sock}` }, {}).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DockerUnreachableError);
    expect((e as Error).message).toBe(`cannot reach the Docker Engine at unix://${sock}: connection refused (is dockerd running and listening there?); start it, or point cdk-docker.json's "engine" at a running engine`);
  });

  test('a tcp port nobody listens on: connection refused', async () => {
    const port = await freePort();
    const e = await DockerClient.connect({}, { DOCKER_HOST: `tcp://127.0.0.1:${port}` }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DockerUnreachableError);
    expect((e as Error).message).toBe(`cannot reach the Docker Engine at tcp://127.0.0.1:${port}: connection refused (is dockerd running and listening there?); start it, or point DOCKER_HOST at a running engine`);
  });

  test('a socket this user may not open: permission denied, with the fix', () => {
    // As an unprivileged user (root opens any socket): a child process running as nobody.
    const sockDir = path.dirname(dockerd.host.slice('unix://'.length));
    fs.chmodSync(sockDir, 0o755);
    const script = `
      const { DockerClient } = require(${JSON.stringify(path.join(ROOT, 'lib', 'drivers', 'docker'))});
      DockerClient.connect({}, { DOCKER_HOST: ${JSON.stringify(dockerd.host)} })
        .then(() => console.log('connected'), (e) => console.log(e.constructor.name + ': ' + e.message));`;
    const r = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), '-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: '/', env: { PATH: process.env.PATH } });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(
      `DockerPermissionError: permission denied on ${dockerd.host.slice('unix://'.length)} (${dockerd.host}); run as root, or add this user to the socket's group (usually "docker": sudo usermod -aG docker $USER, then log in again)`,
    );
    expect(new DockerPermissionError('x', 'y').code).toBe('DOCKER_PERMISSION');
  });
});

/** A tcp port on 127.0.0.1 that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}
