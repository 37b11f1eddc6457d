import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliResult, cdkDocker, writeJsApp } from '../helpers/cli';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';

jest.setTimeout(120_000);

/**
 * What compose files set, end to end as a user runs it on the built-in engine (real runc,
 * conmon, netavark; a private state root, octets 178-179): a stack with a secret file, a config
 * file, extra hosts, DNS, ulimits and a container in another's network is applied, reads back
 * as no change, and changing the secret's or the config's content is a replace that shows no
 * value.
 */
let world: StackWorld;
let dir: string;
const ARCHIVE = BASE_ARCHIVE;
const SECRET = 'gaps-e2e-s3cret-0xC0FFEE\n';
const cli = (args: string[]): CliResult => cdkDocker(args, dir, world.env);
function ok(r: CliResult): string {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

beforeAll(() => {
  world = stackWorld('gaps-e2e-', 178); // 10.178.0.0/24, user networks 10.179.x.0/24
  dir = path.join(world.work, 'app');
  fs.mkdirSync(dir);
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
  if (!world) return;
  cli(['destroy', '--auto-approve']);
  expect(await tearDownWorld(world)).toEqual([]);
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
