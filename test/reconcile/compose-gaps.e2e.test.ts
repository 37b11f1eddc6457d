import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliResult, ROOT, cdkDocker, sleep, tempDir, writeJsApp } from '../helpers/cli';
import { privateNetworkConfig } from '../helpers/network';
import { requireCommand } from '../helpers/prereq';

jest.setTimeout(120_000);

/**
 * What compose files set, end to end as a user runs it on the built-in engine (real runc,
 * conmon, netavark; a private state root, octets 178-179): a stack with a secret file, a config
 * file, extra hosts, DNS, ulimits and a container in another's network is applied, reads back
 * as no change, and changing the secret's or the config's content is a replace that shows no
 * value.
 */
let work: string;
let dir: string;
let env: NodeJS.ProcessEnv;
const ARCHIVE = path.join(ROOT, 'examples', 'base', 'busybox.tar');
const SECRET = 'gaps-e2e-s3cret-0xC0FFEE\n';
const cli = (args: string[]): CliResult => cdkDocker(args, dir, env);
const rt = (args: string[]): CliResult => cdkDocker(['runtime', ...args], work, env);
function ok(r: CliResult): string {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

beforeAll(() => {
  for (const [c, p] of [['runc', 'runc'], ['conmon', 'conmon'], ['busybox', 'busybox-static']]) requireCommand(c, p, ['/bin']);
  requireCommand('netavark', 'netavark', ['/usr/lib/podman']);
  if (!fs.existsSync(ARCHIVE)) execFileSync('bash', [path.join(ROOT, 'examples', 'base', 'make-busybox-archive.sh')], { stdio: 'inherit' });
  work = tempDir('gaps-e2e-');
  dir = path.join(work, 'app');
  fs.mkdirSync(dir);
  env = { CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') };
  privateNetworkConfig(env.CDK_DOCKER_ROOT!, 178); // 10.178.0.0/24, user networks 10.179.x.0/24
  fs.writeFileSync(path.join(dir, 'db_password.txt'), SECRET);
  fs.writeFileSync(path.join(dir, 'app.conf'), 'port=8080\n');
  writeJsApp(
    dir,
    `const app = new cdk.App();
const stack = new cdk.Stack(app, 'gapse2e');
const img = new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(ARCHIVE)}, tag: 'busybox:gapse2e' });
const net = new cdk.Network(stack, 'net');
const db = new cdk.Container(stack, 'db', {
  image: img,
  command: ['sh', '-c', 'exec sleep 100000'],
  networks: [net],
  secrets: [{ secret: cdk.Secret.fromFile('db_password.txt'), target: 'db_password', mode: 0o400 }],
  configs: [{ config: cdk.Config.fromFile('app.conf'), target: '/etc/app/app.conf' }],
  extraHosts: { 'legacy.gaps.test': '10.178.9.9' },
  dnsSearch: ['gaps.test'],
  ulimits: { nofile: 4096 },
  expose: [5432],
});
new cdk.Container(stack, 'sidecar', { image: img, command: ['sh', '-c', 'exec sleep 100000'], networkMode: db });
app.synth();`,
  );
});

afterAll(async () => {
  if (!work) return;
  cli(['destroy', '--auto-approve']);
  const all = rt(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (all.length) rt(['rm', '-f', ...all]);
  for (const n of rt(['network', 'ls', '-q', '--filter', 'type=custom']).stdout.split('\n').filter(Boolean)) rt(['network', 'rm', n]);
  await sleep(300);
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(work));
  if (mounts.length === 0) fs.rmSync(work, { recursive: true, force: true });
  expect(mounts).toEqual([]);
});

test('apply gives the containers their files, hosts, DNS and limits; diff then finds nothing; a new secret or config is a replace that shows no value', () => {
  const applied = cli(['apply', '--auto-approve']);
  expect(applied.stderr).not.toMatch(/Error/);
  expect(applied.code).toBe(0);
  // The plan holds the secret's HMAC, never its value.
  expect(fs.readFileSync(path.join(dir, 'cdk.out', 'gapse2e.plan.json'), 'utf8')).not.toContain(SECRET.trim());

  expect(ok(cli(['exec', 'gapse2e', 'db', 'cat', '/run/secrets/db_password']))).toBe(SECRET);
  expect(ok(cli(['exec', 'gapse2e', 'db', 'stat', '-c', '%a', '/run/secrets/db_password', '/etc/app/app.conf']))).toBe('400\n444\n');
  expect(ok(cli(['exec', 'gapse2e', 'db', 'cat', '/etc/app/app.conf']))).toBe('port=8080\n');
  expect(ok(cli(['exec', 'gapse2e', 'db', 'sh', '-c', 'ulimit -n; grep -c "^search gaps.test$" /etc/resolv.conf']))).toBe('4096\n1\n');
  // The sidecar is in db's network: it has db's hosts file.
  expect(ok(cli(['exec', 'gapse2e', 'sidecar', 'cat', '/etc/hosts']))).toMatch(/^10\.178\.9\.9\s+legacy\.gaps\.test$/m);

  const clean = cli(['diff', '--detailed-exitcode']);
  expect(clean.stdout).toContain('No changes.');
  expect(clean.code).toBe(0);

  fs.writeFileSync(path.join(dir, 'db_password.txt'), 'rotated\n');
  fs.writeFileSync(path.join(dir, 'app.conf'), 'port=9090\n');
  const changed = cli(['diff', '--detailed-exitcode']);
  expect(changed.code).toBe(2);
  expect(changed.stdout).toMatch(/secrets\.\/run\/secrets\/db_password.*\(sensitive\).*\(sensitive\)/);
  expect(changed.stdout).toMatch(/configs\.\/etc\/app\/app\.conf/);
  expect(changed.stdout).toMatch(/networkMode\.container/);
  expect(changed.stdout).not.toContain('rotated');

  const reapplied = cli(['apply', '--auto-approve']);
  expect(reapplied.code).toBe(0);
  expect(ok(cli(['exec', 'gapse2e', 'db', 'cat', '/run/secrets/db_password', '/etc/app/app.conf']))).toBe('rotated\nport=9090\n');
  expect(ok(cli(['exec', 'gapse2e', 'sidecar', 'cat', '/etc/hosts']))).toMatch(/legacy\.gaps\.test/);
  expect(cli(['diff', '--detailed-exitcode']).code).toBe(0);
});
