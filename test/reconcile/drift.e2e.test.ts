import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliResult, ROOT, cdkDocker, sleep, tempDir, writeJsApp } from '../helpers/cli';
import { privateNetworkConfig } from '../helpers/network';
import { requireCommand } from '../helpers/prereq';

jest.setTimeout(60_000);

/**
 * `cdk-docker drift`, `ps`, `logs` and `exec` end to end on the built-in runtime (real runc,
 * conmon, netavark) with a private state root: a stack is applied, then changed out of band
 * with `cdk-docker runtime …` as a user would, one category at a time.
 */
let work: string;
let dir: string;
let env: NodeJS.ProcessEnv;
const ARCHIVE = path.join(ROOT, 'examples', 'base', 'busybox.tar');
const cli = (args: string[]): CliResult => cdkDocker(args, dir, env);
const rt = (args: string[]): CliResult => cdkDocker(['runtime', ...args], work, env);
function ok(r: CliResult): string {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}
/** The findings of `drift --json` as "category path". */
function findings(): { code: number; list: string[]; json: Array<{ findings: Array<{ category: string; path: string; replica?: number; reasons: Array<{ field: string }> }> }> } {
  const r = cli(['drift', '--json']);
  if (r.code === 1) throw new Error(`drift failed: ${r.stderr}`);
  const json = JSON.parse(r.stdout);
  return { code: r.code, json, list: json[0].findings.map((f: { category: string; path: string }) => `${f.category} ${f.path}`).sort() };
}

beforeAll(() => {
  for (const [c, p] of [['runc', 'runc'], ['conmon', 'conmon'], ['busybox', 'busybox-static']]) requireCommand(c, p, ['/bin']);
  requireCommand('netavark', 'netavark', ['/usr/lib/podman']);
  if (!fs.existsSync(ARCHIVE)) execFileSync('bash', [path.join(ROOT, 'examples', 'base', 'make-busybox-archive.sh')], { stdio: 'inherit' });
  work = tempDir('cdk-docker-drift-');
  dir = path.join(work, 'app');
  fs.mkdirSync(dir);
  env = { CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') };
  privateNetworkConfig(env.CDK_DOCKER_ROOT!, 170);
  writeJsApp(
    dir,
    `const app = new cdk.App();
const stack = new cdk.Stack(app, 'drifty');
const img = new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(ARCHIVE)}, tag: 'busybox:drifty' });
const tool = new cdk.Image(stack, 'toolimg', { archive: ${JSON.stringify(ARCHIVE)}, tag: 'busybox:drifty-tool' });
const net = new cdk.Network(stack, 'net');
const side = new cdk.Network(stack, 'side');
const svc = (id, image = img, networks = [net]) => new cdk.Container(stack, id, { image, command: ['sh', '-c', 'echo started ' + id + '; exec sleep 100000'], env: { ROLE: id }, networks, restart: 'unless-stopped' });
svc('api'); svc('worker'); svc('cache', img, [net, side]); svc('tool', tool);
new cdk.Container(stack, 'migrate', { image: img, command: ['true'], networks: [net] });
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
  // A mount left behind fails the suite (and keeps the directory for a look) rather than being hidden.
  if (mounts.length === 0) fs.rmSync(work, { recursive: true, force: true });
  expect(mounts).toEqual([]);
});

test('drift before any synth fails naming the fix', () => {
  const r = cli(['drift']);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('no synthesized plan in');
  expect(r.stderr).toContain('run `cdk-docker synth` or `cdk-docker apply` first');
});

test('drift reports nothing after apply, then each out-of-band change under its category; ps, logs and exec find containers by construct path', () => {
  const applied = cli(['apply', '--auto-approve']);
  expect(applied.stderr).not.toMatch(/Error/);
  expect(applied.code).toBe(0);

  const clean = cli(['drift']);
  expect(clean.stdout).toBe('No drift. Stack drifty matches its last synthesized plan.\n');
  expect(clean.code).toBe(0);

  // ps, logs, exec by construct path.
  const ps = ok(cli(['ps', 'drifty']));
  expect(ps.split('\n')[0]).toMatch(/^NAME\s+PATH\s+STATUS\s+PORTS/);
  expect(ps).toMatch(/drifty-api\s+api\s+running/);
  expect(ps).toMatch(/drifty-migrate\s+migrate\s+exited \(0\)/);
  expect(ok(cli(['ps']))).toMatch(/^STACK\s+NAME\s+PATH\s+STATUS\s+PORTS\n(drifty\s+.*\n){5}$/);
  expect(ok(cli(['logs', 'drifty', 'api']))).toBe('started api\n');
  expect(ok(cli(['logs', '--tail', '1', 'drifty', 'drifty-worker']))).toBe('started worker\n');
  expect(cli(['logs', '-f', 'drifty', 'migrate'])).toMatchObject({ code: 0, stdout: '' }); // exited: -f returns
  // Without plans (another -o), ps lists the stacks found by label.
  expect(ok(cli(['ps', '-o', 'elsewhere']))).toMatch(/^STACK\s+NAME\s+PATH\s+STATUS\s+PORTS\n(drifty\s+.*\n){5}$/);
  expect(ok(cli(['exec', 'drifty', 'api', 'echo', 'hi']))).toBe('hi\n');
  expect(ok(cli(['exec', 'drifty', 'cache', 'sh', '-c', 'echo $ROLE']))).toBe('cache\n');
  const unknown = cli(['exec', 'drifty', 'nope', 'true']);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('stack drifty has no container "nope"; its containers: api (drifty-api), cache (drifty-cache)');

  // Out of band: stop one, remove one, disconnect one, move a tag, run a stray with the labels.
  ok(rt(['stop', '-t', '1', 'drifty-api']));
  ok(rt(['rm', '-f', 'drifty-worker']));
  ok(rt(['network', 'disconnect', 'drifty-side', 'drifty-cache']));
  ok(rt(['commit', 'drifty-tool', 'busybox:drifty-tool']));
  ok(rt(['run', '-d', '--name', 'stray', '-l', 'io.cdk-docker.stack=drifty', '-l', 'io.cdk-docker.path=ghost', 'busybox:drifty', 'sleep', '100000']));

  const { code, list, json } = findings();
  expect(code).toBe(2);
  expect(list).toEqual(['changed cache', 'image-moved tool', 'missing worker', 'orphan ghost', 'stopped api']);
  const cache = json[0].findings.find((f) => f.path === 'cache')!;
  expect(cache.reasons.map((r) => r.field)).toEqual(['networks.drifty-side']);

  const text = cli(['drift', 'drifty']);
  expect(text.code).toBe(2);
  expect(text.stdout).toMatch(/^ {2}stopped +container api \(drifty-api\)\n {6}status: exited \(exit code \d+\) → "running"$/m);
  expect(text.stdout).toMatch(/^ {2}missing +container worker \(drifty-worker\)$/m);
  expect(text.stdout).toMatch(/^ {2}changed +container cache \(drifty-cache\)\n {6}networks\.drifty-side: \(none\) → aliases cache$/m);
  expect(text.stdout).toMatch(/^ {2}image moved container tool \(drifty-tool\)\n {6}image: sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12} \(docker\.io\/library\/busybox:drifty-tool now\)$/m);
  expect(text.stdout).toMatch(/^ {2}orphan +container ghost \(stray\)$/m);
  expect(text.stdout).toContain('Drift: 1 missing, 1 stopped, 1 changed, 1 orphan, 1 image moved.');

  const ps2 = ok(cli(['ps', 'drifty']));
  expect(ps2).toMatch(/drifty-api\s+api\s+exited/);
  expect(ps2).toMatch(/drifty-worker\s+worker\s+missing/);
  expect(ps2).toMatch(/stray\s+ghost\s+running/);

  // A container re-created by hand with another env and the stack's labels (spec hash included).
  const labels = JSON.parse(ok(rt(['inspect', '-f', '{{json .Config.Labels}}', 'drifty-cache']))) as { [k: string]: string };
  ok(rt(['rm', '-f', 'drifty-cache']));
  ok(rt(['run', '-d', '--name', 'drifty-cache', ...Object.entries(labels).flatMap(([k, v]) => ['-l', `${k}=${v}`]), '--network', 'drifty-net', '--network', 'drifty-side', '-e', 'ROLE=impostor', '--restart', 'unless-stopped', 'busybox:drifty', 'sh', '-c', 'exec sleep 100000']));
  const after = findings();
  const recreated = after.json[0].findings.find((f) => f.path === 'cache')!;
  expect(recreated.category).toBe('changed');
  expect(recreated.reasons.map((r) => r.field)).toEqual(expect.arrayContaining(['command', 'env.ROLE']));

  // `diff` does not trust the spec-hash label the impostor copied either: apply replaces it,
  // and converges the rest (the orphan deleted, api started, worker created, tool replaced).
  const impostorId = ok(rt(['inspect', '-f', '{{.Id}}', 'drifty-cache'])).trim();
  const plan = cli(['diff', '--detailed-exitcode']);
  expect(plan.code).toBe(2);
  expect(plan.stdout).toMatch(/^-\/\+ container cache \(drifty-cache\)\n(?: {6}.*\n)*? {6}env\.ROLE: "impostor" → "cache" \(forces replacement\)$/m);
  ok(cli(['apply', '--auto-approve']));
  expect(ok(rt(['inspect', '-f', '{{.Id}}', 'drifty-cache'])).trim()).not.toBe(impostorId);
  expect(ok(cli(['exec', 'drifty', 'cache', 'sh', '-c', 'echo $ROLE']))).toBe('cache\n');
  expect(rt(['ps', '-aq', '--filter', 'name=stray']).stdout).toBe('');
  const converged = cli(['drift']);
  expect(converged.stdout).toContain('No drift.');
  expect(converged.code).toBe(0);
});
