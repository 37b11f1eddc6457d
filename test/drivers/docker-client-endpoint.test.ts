/**
 * Where the Docker Engine client connects and with which registry credentials, resolved from the
 * environment, cdk-docker.json's options, Docker contexts and `config.json` exactly as the
 * Docker CLI does — each checked against Debian's docker 20.10 client where it can tell
 * (`docker context inspect`), with no engine running.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../../lib/core/errors';
import {
  DEFAULT_DOCKER_HOST,
  contextDirName,
  encodeRegistryHeader,
  registryAuth,
  registryAuthHeaders,
  registryConfigHeaders,
  resolveDockerEndpoint,
  splitArgs,
} from '../../lib/drivers/docker';
import { removeTempDirs, tempDir } from '../helpers/cli';
import { DOCKER_2010 } from '../helpers/dockerd';

afterAll(() => removeTempDirs());

/** A private HOME whose ~/.docker holds `config` (if given) and the named contexts. */
function home(config?: object, contexts: Record<string, { Host: string; SkipTLSVerify?: boolean; tls?: Record<string, string> }> = {}): { HOME: string; docker: string } {
  const h = tempDir('cdk-docker-endpoint-');
  const docker = path.join(h, '.docker');
  fs.mkdirSync(docker);
  if (config) fs.writeFileSync(path.join(docker, 'config.json'), JSON.stringify(config));
  for (const [name, ep] of Object.entries(contexts)) {
    const meta = path.join(docker, 'contexts', 'meta', contextDirName(name));
    fs.mkdirSync(meta, { recursive: true });
    fs.writeFileSync(path.join(meta, 'meta.json'), JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: ep.Host, SkipTLSVerify: ep.SkipTLSVerify ?? false } } }));
    if (ep.tls) {
      const tls = path.join(docker, 'contexts', 'tls', contextDirName(name), 'docker');
      fs.mkdirSync(tls, { recursive: true });
      for (const [f, text] of Object.entries(ep.tls)) fs.writeFileSync(path.join(tls, f), text);
    }
  }
  return { HOME: h, docker };
}

/** What the Docker CLI 20.10 resolves for this environment: `docker context inspect` of its current context. */
function dockerCliHost(env: NodeJS.ProcessEnv): string {
  const out = execFileSync(DOCKER_2010, ['context', 'inspect', '--format', '{{json .Endpoints.docker}}'], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  return (JSON.parse(out) as { Host: string }).Host;
}

const message = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('the order of the Docker CLI', () => {
  test('with nothing set: the default socket', () => {
    const h = home();
    expect(resolveDockerEndpoint({}, { HOME: h.HOME })).toEqual({ host: DEFAULT_DOCKER_HOST, kind: 'unix', socketPath: '/var/run/docker.sock', context: 'default', source: 'the default' });
    expect(dockerCliHost({ HOME: h.HOME })).toBe(DEFAULT_DOCKER_HOST);
  });

  test('currentContext in config.json, then DOCKER_CONTEXT over it, then DOCKER_HOST over both', () => {
    const h = home({ currentContext: 'remote' }, { remote: { Host: 'tcp://10.9.8.7:2375' }, other: { Host: 'unix:///run/other.sock' } });
    expect(resolveDockerEndpoint({}, { HOME: h.HOME })).toMatchObject({ host: 'tcp://10.9.8.7:2375', context: 'remote', source: 'context "remote"' });
    expect(dockerCliHost({ HOME: h.HOME })).toBe('tcp://10.9.8.7:2375');
    expect(resolveDockerEndpoint({}, { HOME: h.HOME, DOCKER_CONTEXT: 'other' })).toMatchObject({ host: 'unix:///run/other.sock', context: 'other' });
    expect(resolveDockerEndpoint({}, { HOME: h.HOME, DOCKER_CONTEXT: 'other', DOCKER_HOST: 'unix:///run/env.sock' })).toMatchObject({ host: 'unix:///run/env.sock', context: 'default', source: 'DOCKER_HOST' });
    // An empty DOCKER_HOST still means the default context, as the Docker CLI (LookupEnv).
    expect(resolveDockerEndpoint({}, { HOME: h.HOME, DOCKER_HOST: '' })).toMatchObject({ host: DEFAULT_DOCKER_HOST, context: 'default' });
    // DOCKER_CONFIG moves the whole directory.
    expect(resolveDockerEndpoint({}, { HOME: '/nonexistent', DOCKER_CONFIG: h.docker })).toMatchObject({ context: 'remote' });
  });

  test('cdk-docker.json\'s host or context overrides the environment; both at once are refused', () => {
    const h = home({ currentContext: 'remote' }, { remote: { Host: 'tcp://10.9.8.7:2375' } });
    const env = { HOME: h.HOME, DOCKER_HOST: 'unix:///run/env.sock' };
    expect(resolveDockerEndpoint({ host: 'unix:///run/json.sock' }, env)).toMatchObject({ host: 'unix:///run/json.sock', source: 'cdk-docker.json' });
    expect(resolveDockerEndpoint({ context: 'remote' }, env)).toMatchObject({ host: 'tcp://10.9.8.7:2375', context: 'remote' });
    expect(resolveDockerEndpoint({ context: 'default' }, { HOME: h.HOME })).toMatchObject({ host: DEFAULT_DOCKER_HOST, context: 'default' });
    expect(message(() => resolveDockerEndpoint({ host: 'unix:///a.sock', context: 'remote' }, env))).toBe(
      'the Docker engine options give both host "unix:///a.sock" and context "remote"; give one of them',
    );
  });

  test('a context that does not exist names where it came from and how to list contexts', () => {
    const h = home({ currentContext: 'gone' });
    expect(message(() => resolveDockerEndpoint({}, { HOME: h.HOME, DOCKER_CONTEXT: 'nope' }))).toBe(
      `Docker context "nope" (DOCKER_CONTEXT) does not exist (no ${h.docker}/contexts/meta/${contextDirName('nope')}/meta.json); list contexts with \`docker context ls\`, or create it with \`docker context create nope --docker host=…\``,
    );
    expect(message(() => resolveDockerEndpoint({}, { HOME: h.HOME }))).toContain(`Docker context "gone" (currentContext of ${h.docker}/config.json) does not exist`);
    const bad = home({}, {});
    fs.mkdirSync(path.join(bad.docker, 'contexts', 'meta', contextDirName('broken')), { recursive: true });
    fs.writeFileSync(path.join(bad.docker, 'contexts', 'meta', contextDirName('broken'), 'meta.json'), '{not json');
    expect(message(() => resolveDockerEndpoint({ context: 'broken' }, { HOME: bad.HOME }))).toMatch(/^Docker context "broken" \S+meta\.json is not valid JSON \(.*\); list contexts with/);
  });
});

describe('addresses', () => {
  const at = (host: string, env: NodeJS.ProcessEnv = {}) => resolveDockerEndpoint({}, { HOME: '/nonexistent', DOCKER_HOST: host, ...env });

  test('unix, tcp with the Docker CLI\'s default ports, ssh with user, port and socket path', () => {
    expect(at('unix:///tmp/d.sock')).toMatchObject({ kind: 'unix', socketPath: '/tmp/d.sock' });
    expect(at('unix://')).toMatchObject({ kind: 'unix', socketPath: '/var/run/docker.sock' });
    expect(at('tcp://10.0.0.5')).toMatchObject({ kind: 'tcp', host: 'tcp://10.0.0.5:2375', hostname: '10.0.0.5', port: 2375, tls: undefined });
    expect(at('tcp://[::1]:2375')).toMatchObject({ kind: 'tcp', host: 'tcp://[::1]:2375', hostname: '::1' });
    expect(at('ssh://deploy@build.example:2222')).toMatchObject({
      kind: 'ssh',
      host: 'ssh://deploy@build.example:2222',
      ssh: { destination: 'deploy@build.example', user: 'deploy', hostname: 'build.example', port: 2222, args: ['-o', 'ConnectTimeout=30', '-T', '-l', 'deploy', '-p', '2222', '--', 'build.example', 'docker', 'system', 'dial-stdio'] },
    });
    expect(at('ssh://box/run/user/1000/docker.sock').ssh!.args.slice(-4)).toEqual(['docker', '--host=unix:///run/user/1000/docker.sock', 'system', 'dial-stdio']);
    expect(at('ssh://box', { CDK_DOCKER_SSH_OPTS: '-F "/tmp/my ssh/config" -o StrictHostKeyChecking=yes' }).ssh!.args.slice(0, 4)).toEqual(['-F', '/tmp/my ssh/config', '-o', 'StrictHostKeyChecking=yes']);
    expect(splitArgs(`-i 'a b' -o"X=1"`)).toEqual(['-i', 'a b', '-oX=1']);
  });

  test('bad addresses are refused with the forms that work', () => {
    const forms = 'set it to unix:///path/to/docker.sock, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]';
    expect(message(() => at('localhost:2375'))).toBe(`Docker host "localhost:2375" (DOCKER_HOST) has no scheme; ${forms}`);
    expect(message(() => at('npipe:////./pipe/docker_engine'))).toBe(`Docker host "npipe:////./pipe/docker_engine" (DOCKER_HOST) has an unsupported scheme "npipe"; ${forms}`);
    expect(message(() => at('unix://relative.sock'))).toBe(`Docker host "unix://relative.sock" (DOCKER_HOST): the socket path must be absolute; ${forms}`);
    expect(message(() => at('tcp://host:2375/path'))).toBe(`Docker host "tcp://host:2375/path" (DOCKER_HOST): a tcp address takes no path; ${forms}`);
    expect(message(() => at('ssh://u:pw@host'))).toBe('Docker host "ssh://u:pw@host" (DOCKER_HOST): ssh addresses take no password (use a key or an ssh agent)');
  });
});

describe('TLS material', () => {
  test('DOCKER_TLS_VERIFY reads ca.pem, cert.pem, key.pem from DOCKER_CERT_PATH, default ~/.docker, port 2376', () => {
    const h = home();
    for (const f of ['ca', 'cert', 'key']) fs.writeFileSync(path.join(h.docker, `${f}.pem`), `${f} pem`);
    const ep = resolveDockerEndpoint({}, { HOME: h.HOME, DOCKER_HOST: 'tcp://engine.example', DOCKER_TLS_VERIFY: '1' });
    expect(ep).toMatchObject({ host: 'tcp://engine.example:2376', port: 2376, tls: { verify: true, source: h.docker } });
    expect([ep.tls!.ca, ep.tls!.cert, ep.tls!.key].map(String)).toEqual(['ca pem', 'cert pem', 'key pem']);
    // As the Docker CLI, any non-empty value turns verification on.
    expect(resolveDockerEndpoint({}, { HOME: h.HOME, DOCKER_HOST: 'tcp://e:1', DOCKER_TLS_VERIFY: '0' }).tls!.verify).toBe(true);
    // DOCKER_TLS alone: TLS without verification.
    expect(resolveDockerEndpoint({}, { HOME: h.HOME, DOCKER_HOST: 'tcp://e:1', DOCKER_TLS: '1' }).tls!.verify).toBe(false);
    // cdk-docker.json's tlsVerify: false turns TLS off whatever the environment says.
    expect(resolveDockerEndpoint({ tlsVerify: false }, { HOME: h.HOME, DOCKER_HOST: 'tcp://e:1', DOCKER_TLS_VERIFY: '1' }).tls).toBeUndefined();
  });

  test('missing or half client material is refused, naming the directory and the fix', () => {
    const dir = tempDir('cdk-docker-certs-');
    expect(message(() => resolveDockerEndpoint({}, { HOME: '/nonexistent', DOCKER_HOST: 'tcp://e:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir }))).toBe(
      `DOCKER_TLS_VERIFY asks to verify the engine's certificate but ${dir}/ca.pem does not exist; put the CA certificate there or set DOCKER_CERT_PATH to the directory that has ca.pem, cert.pem and key.pem`,
    );
    fs.writeFileSync(path.join(dir, 'ca.pem'), 'ca');
    fs.writeFileSync(path.join(dir, 'cert.pem'), 'cert');
    expect(message(() => resolveDockerEndpoint({ host: 'tcp://e:2376', tlsVerify: true, certPath: dir }, {}))).toBe(`${dir} has cert.pem but no key.pem; a client certificate needs both`);
  });

  test('a context\'s TLS files and SkipTLSVerify', () => {
    const h = home({}, { secure: { Host: 'tcp://10.1.1.1:2376', tls: { 'ca.pem': 'CA', 'cert.pem': 'C', 'key.pem': 'K' } }, lax: { Host: 'tcp://10.1.1.2:2376', SkipTLSVerify: true }, clear: { Host: 'tcp://10.1.1.3:2375' } });
    const secure = resolveDockerEndpoint({ context: 'secure' }, { HOME: h.HOME });
    expect(secure.tls).toMatchObject({ verify: true });
    expect(String(secure.tls!.ca)).toBe('CA');
    expect(resolveDockerEndpoint({ context: 'lax' }, { HOME: h.HOME }).tls).toMatchObject({ verify: false, ca: undefined });
    expect(resolveDockerEndpoint({ context: 'clear' }, { HOME: h.HOME }).tls).toBeUndefined();
  });
});

describe('registry credentials', () => {
  const decode = (h: string) => JSON.parse(Buffer.from(h.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as unknown;

  test('X-Registry-Auth from auths, for the image\'s registry, base64url', () => {
    const h = home({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hub?pass>>').toString('base64') },
        '127.0.0.1:5000': { username: 'alice', password: 's3cret' },
        'https://tokens.example': { identitytoken: 'refresh-me' },
      },
    });
    const env = { HOME: h.HOME };
    const hub = registryAuthHeaders('nginx:1.25', env)['X-Registry-Auth'];
    expect(hub).not.toMatch(/[+/]/);
    expect(decode(hub)).toEqual({ username: 'hubuser', password: 'hub?pass>>', serveraddress: 'https://index.docker.io/v1/' });
    expect(decode(registryAuthHeaders('127.0.0.1:5000/team/app:2', env)['X-Registry-Auth'])).toEqual({ username: 'alice', password: 's3cret', serveraddress: '127.0.0.1:5000' });
    expect(registryAuth('tokens.example', env)).toEqual({ identitytoken: 'refresh-me', serveraddress: 'tokens.example' });
    expect(registryAuthHeaders('quay.io/x/y', env)).toEqual({ 'X-Registry-Auth': 'e30=' });
    expect(decode(registryConfigHeaders(env)['X-Registry-Config'])).toEqual({
      '127.0.0.1:5000': { username: 'alice', password: 's3cret', serveraddress: '127.0.0.1:5000' },
      'https://index.docker.io/v1/': { username: 'hubuser', password: 'hub?pass>>', serveraddress: 'https://index.docker.io/v1/' },
      'tokens.example': { identitytoken: 'refresh-me', serveraddress: 'tokens.example' },
    });
    expect(registryConfigHeaders({ HOME: home().HOME })).toEqual({});
    expect(encodeRegistryHeader({ a: '>>>?' })).toBe('eyJhIjoiPj4-PyJ9');
  });

  test('a credential helper (credHelpers, then credsStore) is asked as the Docker CLI asks it', () => {
    const bin = tempDir('cdk-docker-credhelper-');
    // A helper speaking the docker-credential protocol: `get`, the server on stdin, JSON out.
    fs.writeFileSync(
      path.join(bin, 'docker-credential-cdktest'),
      '#!/bin/sh\nread server\ncase "$server" in\n  registry.example) echo \'{"ServerURL":"registry.example","Username":"bob","Secret":"from-helper"}\' ;;\n  tok.example) echo \'{"ServerURL":"tok.example","Username":"<token>","Secret":"tkn"}\' ;;\n  *) echo "credentials not found in native keychain"; exit 1 ;;\nesac\n',
      { mode: 0o755 },
    );
    fs.writeFileSync(path.join(bin, 'docker-credential-broken'), '#!/bin/sh\necho "keychain locked" >&2\nexit 3\n', { mode: 0o755 });
    const env = (config: object) => ({ HOME: home(config).HOME, PATH: `${bin}:${process.env.PATH}` });
    expect(registryAuth('registry.example', env({ credHelpers: { 'registry.example': 'cdktest' } }))).toEqual({ username: 'bob', password: 'from-helper', serveraddress: 'registry.example' });
    expect(registryAuth('tok.example', env({ credsStore: 'cdktest' }))).toEqual({ identitytoken: 'tkn', serveraddress: 'tok.example' });
    expect(registryAuth('elsewhere.example', env({ credsStore: 'cdktest', auths: { 'elsewhere.example': {} } }))).toBeUndefined();
    expect(message(() => registryAuth('r.example', env({ credsStore: 'broken' })))).toBe('the credential helper docker-credential-broken failed for r.example: keychain locked; check it with `echo r.example | docker-credential-broken get`');
    const missing = env({ credsStore: 'absent' });
    expect(message(() => registryAuth('r.example', missing))).toBe(`${missing.HOME}/.docker/config.json names the credential helper "absent" but docker-credential-absent is not on the PATH; install it or remove "absent" from credsStore/credHelpers`);
  });
});
