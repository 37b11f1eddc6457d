import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSign, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { daemonLog, requireCommand } from './prereq';
import { tempDir } from './cli';

/**
 * A real `docker-registry` (Debian's distribution 2.8) on 127.0.0.1, with its storage in a
 * temporary directory; optionally with htpasswd basic auth or token auth (a small token
 * server in this process signs JWTs with a throw-away certificate).
 */
export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  readonly host: string;
  readonly dir: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitForHttp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      http.get(url, (res) => {
        res.resume();
        resolve(res.statusCode === 200 || res.statusCode === 401);
      }).on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not answer on ${url}: ${log()}`);
}

export interface RegistryOptions {
  /** htpasswd basic auth with these users. */
  readonly basicAuth?: { [user: string]: string };
  /** Token auth: users allowed by the token server (password check), all get pull+push. */
  readonly tokenAuth?: { [user: string]: string };
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const binary = requireCommand('docker-registry', 'docker-registry');
  const dir = tempDir('cdk-docker-registry-');
  const port = await freePort();
  const lines = ['version: 0.1', 'log: { level: error }', 'storage:', `  filesystem: { rootdirectory: ${dir}/data }`, '  delete: { enabled: true }', 'http:', `  addr: 127.0.0.1:${port}`];
  let tokenServer: http.Server | undefined;
  if (options.basicAuth) {
    const bcrypt = require('bcryptjs') as { hashSync(s: string, rounds: number): string };
    const htpasswd = Object.entries(options.basicAuth).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 5)}`).join('\n');
    fs.writeFileSync(path.join(dir, 'htpasswd'), `${htpasswd}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: test-realm', `    path: ${dir}/htpasswd`);
  }
  if (options.tokenAuth) {
    requireCommand('openssl', 'openssl');
    const key = path.join(dir, 'token.key');
    const cert = path.join(dir, 'token.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=cdk-docker-test-token'], { stdio: 'ignore' });
    const certDer = execFileSync('openssl', ['x509', '-in', cert, '-outform', 'DER']);
    const keyPem = fs.readFileSync(key, 'utf8');
    const tokenPort = await freePort();
    const users = options.tokenAuth;
    tokenServer = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${tokenPort}`);
      const auth = req.headers.authorization;
      let user = '';
      if (auth?.startsWith('Basic ')) {
        const [u, p] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
        if (users[u] !== p) {
          res.writeHead(401).end('{"details":"wrong credentials"}');
          return;
        }
        user = u;
      }
      if (!user) {
        // Anonymous: no access at all (a private registry).
        res.writeHead(401).end('{"details":"credentials required"}');
        return;
      }
      const access = url.searchParams.getAll('scope').map((s) => {
        const [type, name, actions] = s.split(':');
        return { type, name, actions: actions.split(',') };
      });
      const b64 = (o: object | Buffer) => (Buffer.isBuffer(o) ? o : Buffer.from(JSON.stringify(o))).toString('base64url');
      const now = Math.floor(Date.now() / 1000);
      const header = b64({ alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] });
      const claims = b64({ iss: 'cdk-docker-test-issuer', sub: user, aud: url.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access });
      const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(keyPem).toString('base64url');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${header}.${claims}.${signature}` }));
    });
    await new Promise<void>((resolve) => tokenServer!.listen(tokenPort, '127.0.0.1', resolve));
    lines.push('auth:', '  token:', `    realm: http://127.0.0.1:${tokenPort}/token`, '    service: cdk-docker-test-registry', '    issuer: cdk-docker-test-issuer', `    rootcertbundle: ${cert}`);
  }
  fs.writeFileSync(path.join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const log = daemonLog(path.join(dir, 'registry.log'));
  const child = spawn(binary, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', log.fd] });
  fs.closeSync(log.fd);
  await waitForHttp(`http://127.0.0.1:${port}/v2/`, child, log.tail);
  return {
    host: `127.0.0.1:${port}`,
    dir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (tokenServer) await new Promise((r) => tokenServer!.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
