import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, CliResult, cdkDocker, ok, sleep, tempDir, until, writeJsApp } from '../helpers/cli';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';

jest.setTimeout(120_000);

/**
 * What users rely on when things go wrong, end to end on the built-in runtime (real runc,
 * conmon, netavark) with a private state root: `apply` killed with SIGKILL at random points and
 * run again converges with no duplicates and the volume's data intact; `dependsOn` waits
 * (healthy, unhealthy → fail fast, completed, a failed one-shot); secrets never printed nor put
 * in a label; replicas scaled up and down without touching the others.
 */
let work: string;
let env: NodeJS.ProcessEnv;
const ARCHIVE = BASE_ARCHIVE;
const IMAGE = `const img = new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(ARCHIVE)}, tag: 'busybox:examples' });`;
const dirs: string[] = [];

const cli = (dir: string, args: string[], extra: NodeJS.ProcessEnv = {}): CliResult => cdkDocker(args, dir, { ...env, ...extra });
const rt = (args: string[]): CliResult => cdkDocker(['runtime', ...args], work, env);

/** A fresh directory holding a JS app of one stack named `stack` (`cdk`, `app`, `stack`, `img` in scope). */
function appDir(stack: string, body: string, dir = tempDir(`cdk-docker-robust-${stack}-`)): string {
  if (!dirs.includes(dir)) dirs.push(dir);
  writeJsApp(dir, `const app = new cdk.App();\nconst stack = new cdk.Stack(app, ${JSON.stringify(stack)});\n${IMAGE}\n${body}\napp.synth();`);
  return dir;
}

interface Inspected {
  Id: string;
  Name: string;
  State: { Status: string; StartedAt: string; ExitCode: number };
  Config: { Labels: { [k: string]: string } };
}

/** Every container of the state root (all stacks), as `runtime inspect` shows them. */
function allContainers(): Inspected[] {
  const ids = ok(rt(['ps', '-aq', '--no-trunc'])).split('\n').filter(Boolean);
  if (!ids.length) return [];
  return (JSON.parse(ok(rt(['inspect', ...ids]))) as Inspected[]).map((c) => ({ ...c, Name: c.Name.replace(/^\//, '') }));
}

function containersOf(stack: string): Inspected[] {
  return allContainers().filter((c) => c.Config.Labels['io.cdk-docker.stack'] === stack);
}

function inspect(name: string): Inspected {
  return (JSON.parse(ok(rt(['inspect', name]))) as Inspected[])[0];
}

/** The environment of a running container's processes (busybox has no printenv: `env`). */
function envOf(name: string): { [k: string]: string } {
  return Object.fromEntries(ok(rt(['exec', name, 'env'])).split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Mounts under the private roots that belong to a container id no longer in the runtime. */
function strayMounts(): string[] {
  const live = new Set(ok(rt(['ps', '-aq', '--no-trunc'])).split('\n').filter(Boolean));
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && m.startsWith(work))
    .filter((m) => {
      const id = /\b([0-9a-f]{64})\b/.exec(m)?.[1];
      return id !== undefined && !live.has(id);
    });
}

let world: StackWorld;
beforeAll(() => {
  world = stackWorld('cdk-docker-robust-', 180);
  ({ work, env } = world);
});

afterAll(async () => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  expect(await tearDownWorld(world)).toEqual([]);
});

describe('crash safety', () => {
  const ROUNDS = 8;
  const stackApp = (round: number) =>
    `const net = new cdk.Network(stack, 'net');
const data = new cdk.Volume(stack, 'data');
const round = ${JSON.stringify(String(round))};
const db = new cdk.Container(stack, 'db', {
  image: img, networks: [net], env: { ROUND: round },
  command: ['sh', '-c', '[ -f /data/marker ] || date > /data/marker; exec sleep 100000'],
  mounts: [{ type: 'volume', source: data, target: '/data' }],
  healthcheck: { test: 'test -f /data/marker', interval: '200ms', retries: 3 },
});
new cdk.Container(stack, 'app', { image: img, networks: [net], env: { ROUND: round }, command: ['sleep', '100000'], dependsOn: [{ container: db, condition: 'healthy' }] });
new cdk.Container(stack, 'worker', { image: img, networks: [net], env: { ROUND: round }, command: ['sh', '-c', 'exec sleep 100000'], dependsOn: [db] });`;

  /**
   * Runs `apply --auto-approve` in `dir` and SIGKILLs it `delayMs` after it started or, with
   * `afterFirstStep`, after it printed its first step (synth and observe take about half a
   * second, so this reaches into replacements and health waits); resolves with what it printed.
   */
  async function killedApply(dir: string, delayMs: number, afterFirstStep: boolean): Promise<string> {
    const child: ChildProcess = spawn(CLI, ['apply', '--auto-approve'], { cwd: dir, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    if (afterFirstStep) await Promise.race([until('a first step', () => out.includes('…'), 30_000), exited]);
    await Promise.race([sleep(delayMs), exited]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    return out;
  }

  test('apply killed with SIGKILL at random points and run again converges: one container per name, no temporaries, no changes left, the volume\'s data intact', async () => {
    const dir = appDir('crash', stackApp(0));
    ok(cli(dir, ['apply', '--auto-approve']));
    const volume = ok(rt(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'crash-data'])).trim();
    const marker = fs.readFileSync(path.join(volume, 'marker'), 'utf8');
    expect(marker).not.toBe('');
    const expected = ['crash-app', 'crash-db', 'crash-worker'];
    const killedAt: number[] = [];
    const killedMidway: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      appDir('crash', stackApp(round), dir);
      // Random within 50-800 ms, spread over the range; odd rounds count from the start (kills in
      // synth, observe and the first steps), even ones from the first step.
      const delay = Math.round(50 + (750 * (round - 1 + Math.random())) / ROUNDS);
      killedAt.push(delay);
      const partial = await killedApply(dir, delay, round % 2 === 0);
      if (/…/.test(partial)) killedMidway.push(`${delay} ms: ${partial.split('\n').filter((l) => l.includes('…')).length} steps begun`);
      process.stderr.write(`round ${round}: killed after ${delay} ms${round % 2 === 0 ? ' from its first step' : ''}: ${partial.split('\n').filter((l) => /…|\]$/.test(l)).join(' | ') || 'before any step'}\n`);
      const rerun = cli(dir, ['apply', '--auto-approve']);
      const context = `round ${round}, killed after ${delay} ms; killed apply printed:\n${partial}\nrerun printed:\n${rerun.stdout}${rerun.stderr}`;
      if (rerun.code !== 0) throw new Error(`the apply after the kill failed (${context})`);

      const mine = containersOf('crash');
      expect({ context, names: mine.map((c) => c.Name).sort() }).toEqual({ context, names: expected });
      // Nothing else either: no `-next` temporary under any labels.
      expect(allContainers().filter((c) => c.Name.startsWith('crash-')).map((c) => c.Name).sort()).toEqual(expected);
      for (const c of mine) {
        expect(c.Config.Labels['io.cdk-docker.path']).toBe(c.Name.replace(/^crash-/, ''));
        expect(c.State.Status).toBe('running');
      }
      const again = cli(dir, ['diff', '--detailed-exitcode']);
      expect({ context, code: again.code, out: again.stdout }).toMatchObject({ context, code: 0 });
      expect(fs.readFileSync(path.join(volume, 'marker'), 'utf8')).toBe(marker);
      expect(ok(rt(['exec', 'crash-app', 'sh', '-c', 'echo $ROUND']))).toBe(`${round}\n`);
      expect({ context, stray: strayMounts() }).toEqual({ context, stray: [] });
    }
    // The loop really killed applies at different points.
    expect(new Set(killedAt).size).toBe(ROUNDS);
    // At least the rounds killed after a first step were killed with work under way.
    expect(killedMidway.length).toBeGreaterThanOrEqual(ROUNDS / 2);
    ok(cli(dir, ['destroy', '--auto-approve', '--volumes']));
    expect(containersOf('crash')).toEqual([]);
    expect(strayMounts()).toEqual([]);
  });
});

describe('dependsOn waits', () => {
  test('a dependent of a healthy dependency starts only once the dependency is healthy', () => {
    // `dep` cannot be healthy before 1.5 s after it started (failed checks in its start period do not count).
    const dir = appDir(
      'healthy',
      `const dep = new cdk.Container(stack, 'dep', { image: img, command: ['sh', '-c', 'sleep 1.5; touch /tmp/ready; exec sleep 100000'], healthcheck: { test: 'test -f /tmp/ready', interval: '200ms', retries: 3, startPeriod: '5s' } });
new cdk.Container(stack, 'dependent', { image: img, command: ['sleep', '100000'], dependsOn: [{ container: dep, condition: 'healthy' }] });`,
    );
    const applied = cli(dir, ['apply', '--auto-approve']);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    const dep = inspect('healthy-dep');
    const dependent = inspect('healthy-dependent');
    expect(dependent.State.Status).toBe('running');
    expect(Date.parse(dependent.State.StartedAt) - Date.parse(dep.State.StartedAt)).toBeGreaterThanOrEqual(1500);
    ok(cli(dir, ['destroy', '--auto-approve']));
  });

  test('a dependency that turns unhealthy fails the apply at once, naming it and quoting its last check', () => {
    const dir = appDir(
      'unhealthy',
      `const dep = new cdk.Container(stack, 'dep', { image: img, command: ['sleep', '100000'], healthcheck: { test: 'echo probe-says-db-is-down; exit 1', interval: '200ms', retries: 2 } });
new cdk.Container(stack, 'dependent', { image: img, command: ['sleep', '100000'], dependsOn: [{ container: dep, condition: 'healthy' }] });`,
    );
    const started = Date.now();
    const applied = cli(dir, ['apply', '--auto-approve']);
    const took = Date.now() - started;
    expect(applied.code).toBe(1);
    // The wait allows 120 s; failing fast means within a few checks.
    expect(took).toBeLessThan(15_000);
    const said = applied.stdout + applied.stderr;
    expect(said).toContain('container unhealthy-dep turned unhealthy');
    expect(said).toContain('probe-says-db-is-down');
    expect(rt(['ps', '-aq', '--filter', 'name=unhealthy-dependent']).stdout).toBe('');
    ok(cli(dir, ['destroy', '--auto-approve']));
  });

  test('a dependent of a one-shot that completed starts; a one-shot that exits 3 fails the apply naming it', () => {
    const dir = appDir(
      'oneshot',
      `const job = new cdk.Container(stack, 'job', { image: img, command: ['sh', '-c', 'echo migrated; exit 0'] });
new cdk.Container(stack, 'dependent', { image: img, command: ['sleep', '100000'], dependsOn: [{ container: job, condition: 'completed' }] });`,
    );
    const applied = cli(dir, ['apply', '--auto-approve']);
    expect(applied.code).toBe(0);
    expect(inspect('oneshot-job').State).toMatchObject({ Status: 'exited', ExitCode: 0 });
    expect(inspect('oneshot-dependent').State.Status).toBe('running');
    ok(cli(dir, ['destroy', '--auto-approve']));

    const failing = appDir(
      'failjob',
      `const job = new cdk.Container(stack, 'job', { image: img, command: ['sh', '-c', 'echo migration-broke >&2; exit 3'] });
new cdk.Container(stack, 'dependent', { image: img, command: ['sleep', '100000'], dependsOn: [{ container: job, condition: 'completed' }] });`,
    );
    const started = Date.now();
    const failed = cli(failing, ['apply', '--auto-approve']);
    expect(failed.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    const said = failed.stdout + failed.stderr;
    expect(said).toContain('container failjob-job exited with code 3');
    expect(said).toContain('migration-broke');
    expect(rt(['ps', '-aq', '--filter', 'name=failjob-dependent']).stdout).toBe('');
    ok(cli(failing, ['destroy', '--auto-approve']));
  });
});

test('a secret is never printed nor put in a label: diff, apply, diff --json, a changed secret (masked); the container has it', () => {
  const first = `s3cr3t-${randomBytes(12).toString('hex')}`;
  const second = `s3cr3t-${randomBytes(12).toString('hex')}`;
  const dir = appDir(
    'secrets',
    `const net = new cdk.Network(stack, 'net');
const vol = new cdk.Volume(stack, 'data');
new cdk.Container(stack, 'svc', { image: img, networks: [net], mounts: [{ type: 'volume', source: vol, target: '/data' }], command: ['sleep', '100000'], env: { TOKEN: cdk.Secret.fromEnv('CDKD_TEST_TOKEN'), PLAIN: 'visible' } });`,
  );
  const outputs: CliResult[] = [];
  const run = (args: string[], token: string) => {
    const r = cli(dir, args, { CDKD_TEST_TOKEN: token });
    outputs.push(r);
    return r;
  };
  expect(run(['diff'], first).code).toBe(0);
  ok(run(['apply', '--auto-approve'], first));
  expect(run(['diff', '--json'], first).code).toBe(0);
  expect(envOf('secrets-svc').TOKEN).toBe(first);

  const changed = run(['diff', '--detailed-exitcode'], second);
  expect(changed.code).toBe(2);
  expect(changed.stdout).toMatch(/env\.TOKEN/);
  expect(changed.stdout).toContain('(sensitive)');
  const changedJson = run(['diff', '--json'], second);
  expect(changedJson.stdout).toContain('env.TOKEN');
  ok(run(['apply', '--auto-approve'], second));
  expect(envOf('secrets-svc').TOKEN).toBe(second);
  expect(run(['diff', '--detailed-exitcode'], second).code).toBe(0);

  const printed = outputs.map((r) => r.stdout + r.stderr).join('\n');
  const labels = [
    ...containersOf('secrets').map((c) => JSON.stringify(c.Config.Labels)),
    ok(rt(['network', 'inspect', 'secrets-net'])),
    ok(rt(['volume', 'inspect', 'secrets-data'])),
    ok(rt(['image', 'inspect', 'busybox:examples'])),
  ].join('\n');
  const synthesized = fs.readdirSync(path.join(dir, 'cdk.out')).map((f) => fs.readFileSync(path.join(dir, 'cdk.out', f), 'utf8')).join('\n');
  for (const secret of [first, second]) {
    expect(printed).not.toContain(secret);
    expect(labels).not.toContain(secret);
    expect(synthesized).not.toContain(secret);
  }
  // The checks above looked at real output.
  expect(printed).toContain('secrets-svc');
  expect(labels).toContain('io.cdk-docker.stack');
  ok(cli(dir, ['destroy', '--auto-approve', '--volumes'], { CDKD_TEST_TOKEN: second }));
});

test('replicas: 3 makes <name>, <name>-2, <name>-3; scaling to 1 removes only -2 and -3; back to 2 creates one', () => {
  const write = (n: number) => appDir('replicas', `new cdk.Container(stack, 'web', { image: img, command: ['sleep', '100000'], replicas: ${n} });`, dir);
  const dir = tempDir('cdk-docker-robust-replicas-');
  const ids = () => Object.fromEntries(containersOf('replicas').map((c) => [c.Name, c.Id]));
  write(3);
  ok(cli(dir, ['apply', '--auto-approve']));
  const three = ids();
  expect(Object.keys(three).sort()).toEqual(['replicas-web', 'replicas-web-2', 'replicas-web-3']);

  write(1);
  const down = cli(dir, ['diff', '--detailed-exitcode']);
  expect(down.code).toBe(2);
  expect(down.stdout).not.toMatch(/[~±]\s.*replicas-web\b(?!-)/);
  ok(cli(dir, ['apply', '--auto-approve']));
  expect(ids()).toEqual({ 'replicas-web': three['replicas-web'] });

  write(2);
  ok(cli(dir, ['apply', '--auto-approve']));
  const two = ids();
  expect(Object.keys(two).sort()).toEqual(['replicas-web', 'replicas-web-2']);
  expect(two['replicas-web']).toBe(three['replicas-web']);
  expect(two['replicas-web-2']).not.toBe(three['replicas-web-2']);
  expect(cli(dir, ['diff', '--detailed-exitcode']).code).toBe(0);
  ok(cli(dir, ['destroy', '--auto-approve']));
});
