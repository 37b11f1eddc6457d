import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { CLI, CliResult, ROOT, cdkDocker, ok, sleep, tempDir, until, writeJsApp } from '../helpers/cli';
import { TestDockerd, dockerEnv, startDockerd } from '../helpers/dockerd';
import { requireCommand } from '../helpers/prereq';
import { BASE_ARCHIVE } from '../helpers/stack';

jest.setTimeout(60_000);

/**
 * The examples on a Docker Engine, through the CLI as a user runs them (`--engine docker`,
 * DOCKER_HOST naming the engine): applied, a no-op diff, drifted out of band (`docker stop`,
 * `docker rm`) and reported by `drift`, re-applied, destroyed with nothing labelled left; and the
 * crash loop (apply SIGKILLed mid-way, run again) converging. The engine is a private dockerd
 * (Debian's 20.10): its own data-root, exec-root, socket, pidfile and containerd namespace, a
 * default bridge of its own (10.156.0.1/24, user networks from 10.157.0.0/16) and no iptables
 * rules (`--iptables=false`; published ports go through docker-proxy). What it leaves is checked
 * at the end: no bridge, no iptables line of its subnets, nothing mounted under its directory.
 */
const BRIDGE = { name: 'cdkex0', address: '10.156.0.1/24', pool: '10.157.0.0/16' };
let dockerd: TestDockerd;
let work: string;
let out: string;
let iptablesBefore: string[];

function ourIptables(): string[] {
  return execFileSync('iptables-save', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(BRIDGE.name) || l.includes('10.156.') || l.includes('10.157.'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, ''));
}

/** The environment of every command: this dockerd, no context or config of the machine's, private local roots. */
const env = (): NodeJS.ProcessEnv => dockerEnv(dockerd, work);

/** `cdk-docker <cmd> --engine docker -o <private plans dir> ARGS` in `dir` (the examples' own cdk.out is left alone). */
const cli = (dir: string, cmd: string, args: string[] = [], plans = out): CliResult => cdkDocker([cmd, '--engine', 'docker', '-o', plans, ...args], dir, env());

/** `docker ARGS` on the private dockerd, one output line per element. */
const docker = (args: string[]): string[] => dockerd.docker(args).split('\n').filter(Boolean);

/** Containers, volumes and networks that carry `stack`'s label. */
function labelled(stack: string): string[] {
  const f = ['--filter', `label=io.cdk-docker.stack=${stack}`];
  return [
    ...docker(['ps', '-a', ...f, '--format', 'container {{.Names}}']),
    ...docker(['volume', 'ls', '-q', ...f]).map((v) => `volume ${v}`),
    ...docker(['network', 'ls', ...f, '--format', 'network {{.Name}}']),
  ].sort();
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 2_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

beforeAll(async () => {
  requireCommand('iptables-save', 'iptables');
  execFileSync('bash', [path.join(ROOT, 'examples', 'base', 'make-busybox-archive.sh')], { stdio: 'inherit' });
  iptablesBefore = ourIptables();
  work = tempDir('cdk-docker-examples-docker-');
  out = path.join(work, 'plans');
  dockerd = await startDockerd({ label: 'examples', bridge: BRIDGE });
}, 60_000);

afterAll(async () => {
  if (!dockerd) return;
  // dockerd keeps a user network's bridge when it stops: the networks go first.
  const ids = docker(['ps', '-aq']);
  if (ids.length) dockerd.docker(['rm', '-f', ...ids]);
  dockerd.docker(['network', 'prune', '-f']);
  await dockerd.stop();
  const links = (JSON.parse(execFileSync('ip', ['-j', 'addr'], { encoding: 'utf8' })) as Array<{ ifname: string; master?: string; addr_info?: Array<{ local: string }> }>)
    .filter((l) => l.ifname === BRIDGE.name || l.master === BRIDGE.name || (l.addr_info ?? []).some((a) => /^10\.15[67]\./.test(a.local)))
    .map((l) => `link ${l.ifname}`);
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.includes('cdk-docker-examples-dockerd-')).map((m) => `mount ${m}`);
  const rules = ourIptables().filter((l) => !iptablesBefore.includes(l)).map((l) => `iptables ${l}`);
  fs.rmSync(work, { recursive: true, force: true });
  expect([...links, ...mounts, ...rules]).toEqual([]);
}, 60_000);

/** Host ports of the private copies (the built-in engine's example tests use the examples' own 8080/8081 at the same time). */
const PORTS: { readonly [port: string]: number } = { 8080: 18480, 8081: 18481 };

/**
 * A private copy of example `name` under the work dir, as a user would have it: its files, the
 * base archive, a tsconfig naming this checkout's lib, the app run by this checkout's tsx, and
 * its host ports moved (PORTS) so it can run beside the built-in engine's example tests.
 */
function privateExample(name: string): string {
  const root = path.join(work, 'examples');
  const dir = path.join(root, name);
  fs.cpSync(path.join(ROOT, 'examples', name), dir, { recursive: true, filter: (src) => !/\/(cdk\.out|backups\/.+)$/.test(src) });
  fs.mkdirSync(path.join(root, 'base'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'examples', 'base', 'busybox.tar'), path.join(root, 'base', 'busybox.tar'));
  const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', 'tsconfig.json'), 'utf8')) as { compilerOptions: { paths: object } };
  tsconfig.compilerOptions.paths = { 'cdk-docker': [path.join(ROOT, 'lib', 'index.ts')] };
  fs.writeFileSync(path.join(root, 'tsconfig.json'), JSON.stringify(tsconfig));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'cdk-docker.json'), 'utf8')) as { app: string };
  fs.writeFileSync(path.join(dir, 'cdk-docker.json'), JSON.stringify({ ...config, app: config.app.replace(/^npx tsx /, `${path.join(ROOT, 'node_modules', '.bin', 'tsx')} `) }));
  const main = path.join(dir, 'main.ts');
  fs.writeFileSync(main, fs.readFileSync(main, 'utf8').replace(/127\.0\.0\.1:(8080|8081):/g, (_m, p: string) => `127.0.0.1:${PORTS[p]}:`));
  return dir;
}

describe.each([
  // example, what to check it does, a container to take away out of band (how, and what drift calls it)
  ['static-site', { port: PORTS[8080], body: /<html|<h1|static/i }, { container: 'static-site-web', by: 'stop', category: 'stopped', path: 'web' }],
  ['two-tier', { port: PORTS[8081], body: /hello from the db volume/ }, { container: 'two-tier-app', by: 'rm', category: 'missing', path: 'app' }],
  ['backup', { file: 'backups/notes.tgz' }, { container: 'backup-notes-writer', by: 'stop', category: 'stopped', path: 'notes-writer' }],
] as const)('example %s on Docker', (name, check, drifted) => {
  let dir: string;
  let file = '';
  beforeAll(() => {
    dir = privateExample(name);
    if ('file' in check) file = path.join(dir, check.file);
  });

  test('applies and works, plans no changes, drift reports what was done out of band, re-apply converges, destroy leaves nothing labelled', async () => {
    const applied = cli(dir, 'apply', ['--auto-approve']);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/Apply complete! Resources: \d+ added, 0 changed, 0 replaced, 0 destroyed\./);
    if ('port' in check) await until(`${name} to answer on ${check.port}`, async () => check.body.test(await get(check.port)), 20_000);
    else {
      await until(file, () => fs.existsSync(file) && execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).includes('./todo.txt'), 20_000);
    }

    const noop = cli(dir, 'diff', ['--detailed-exitcode']);
    expect(noop.stdout).toContain('No changes');
    expect(noop.code).toBe(0);
    expect(cli(dir, 'drift', [name])).toMatchObject({ code: 0 });

    dockerd.docker(drifted.by === 'stop' ? ['stop', '-t', '1', drifted.container] : ['rm', '-f', drifted.container]);
    const drift = cli(dir, 'drift', [name]);
    expect(drift.stderr).toBe('');
    expect(drift.code).toBe(2);
    expect(drift.stdout).toMatch(new RegExp(`^ {2}${drifted.category} +container ${drifted.path} \\(${drifted.container}\\)`, 'm'));
    const json = JSON.parse(cli(dir, 'drift', ['--json', name]).stdout) as unknown;
    expect(JSON.stringify(json)).toContain(`"${drifted.category}"`);

    const reapplied = cli(dir, 'apply', ['--auto-approve']);
    expect(reapplied.stderr).toBe('');
    expect(reapplied.code).toBe(0);
    expect(docker(['inspect', '-f', '{{.State.Status}}', drifted.container])).toEqual(['running']);
    expect(cli(dir, 'drift', [name])).toMatchObject({ code: 0 });
    expect(cli(dir, 'diff', ['--detailed-exitcode'])).toMatchObject({ code: 0 });
    if ('port' in check) await until(`${name} to answer again`, async () => check.body.test(await get(check.port)), 20_000);

    const destroyed = cli(dir, 'destroy', ['--auto-approve', '--volumes']);
    expect(destroyed.stderr).toBe('');
    expect(destroyed.stdout).toContain('Destroy complete!');
    expect(labelled(name)).toEqual([]);
    expect(docker(['ps', '-a', '--format', '{{.Names}}']).filter((n) => n.startsWith(`${name}-`) || n === `cdk-docker-lock-${name}`)).toEqual([]);
    if ('port' in check) await expect(get(check.port)).rejects.toThrow();
  });
});

describe('crash safety on Docker', () => {
  const ROUNDS = 4;
  const stackApp = (round: number) =>
    `const app = new cdk.App();
const stack = new cdk.Stack(app, 'crash');
const img = new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(BASE_ARCHIVE)}, tag: 'busybox:examples' });
const net = new cdk.Network(stack, 'net');
const data = new cdk.Volume(stack, 'data');
const round = ${JSON.stringify(String(round))};
const db = new cdk.Container(stack, 'db', {
  image: img, networks: [net], env: { ROUND: round },
  command: ['sh', '-c', '[ -f /data/marker ] || date > /data/marker; exec sleep 100000'],
  mounts: [{ type: 'volume', source: data, target: '/data' }],
  healthcheck: { test: 'test -f /data/marker', interval: '200ms', retries: 3 },
});
new cdk.Container(stack, 'app', { image: img, networks: [net], env: { ROUND: round }, command: ['sleep', '100000'], dependsOn: [{ container: db, condition: 'healthy' }] });
new cdk.Container(stack, 'worker', { image: img, networks: [net], env: { ROUND: round }, command: ['sh', '-c', 'exec sleep 100000'], dependsOn: [db] });
app.synth();`;

  /** Runs `apply --auto-approve --engine docker` in `dir` and SIGKILLs it `delayMs` after its first step began; resolves with what it printed. */
  async function killedApply(dir: string, delayMs: number): Promise<string> {
    const child: ChildProcess = spawn(CLI, ['apply', '--engine', 'docker', '--auto-approve'], { cwd: dir, env: { ...process.env, NO_COLOR: '1', ...env() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let printed = '';
    child.stdout!.on('data', (d) => (printed += d));
    child.stderr!.on('data', (d) => (printed += d));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    await Promise.race([until('a first step', () => printed.includes('…'), 30_000).catch(() => undefined), exited]);
    await Promise.race([sleep(delayMs), exited]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    return printed;
  }

  test('apply SIGKILLed mid-way and run again converges: one container per name, the lock recovered, no changes left, the volume\'s data intact', async () => {
    const dir = tempDir('cdk-docker-examples-docker-crash-');
    writeJsApp(dir, stackApp(0));
    const run = (cmd: string, args: string[] = []) => cdkDocker([cmd, '--engine', 'docker', ...args], dir, env());
    ok(run('apply', ['--auto-approve']));
    const marker = ok(cdkDocker(['exec', '--engine', 'docker', 'crash', 'db', 'cat', '/data/marker'], dir, env()));
    expect(marker).not.toBe('');
    const expected = ['crash-app', 'crash-db', 'crash-worker'];
    let killedMidway = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      writeJsApp(dir, stackApp(round));
      const delay = Math.round(20 + (400 * (round - 1 + Math.random())) / ROUNDS);
      const partial = await killedApply(dir, delay);
      if (partial.includes('…') && !/Apply complete!/.test(partial)) killedMidway++;
      const rerun = run('apply', ['--auto-approve']);
      const context = `round ${round}, killed ${delay} ms after its first step; killed apply printed:\n${partial}\nrerun printed:\n${rerun.stdout}${rerun.stderr}`;
      if (rerun.code !== 0) throw new Error(`the apply after the kill failed (${context})`);
      const names = docker(['ps', '-a', '--filter', 'label=io.cdk-docker.stack=crash', '--format', '{{.Names}} {{.State}} {{.Label "io.cdk-docker.path"}}']).sort();
      expect({ context, names }).toEqual({ context, names: expected.map((n) => `${n} running ${n.slice('crash-'.length)}`) });
      // No temporaries under any labels, and the lock released.
      expect({ context, all: docker(['ps', '-a', '--format', '{{.Names}}']).filter((n) => n.startsWith('crash-') || n.includes('lock')).sort() }).toEqual({ context, all: expected });
      expect({ context, code: run('diff', ['--detailed-exitcode']).code }).toEqual({ context, code: 0 });
      expect(dockerd.docker(['exec', 'crash-db', 'cat', '/data/marker'])).toBe(marker);
      expect(dockerd.docker(['exec', 'crash-app', 'sh', '-c', 'echo $ROUND'])).toBe(`${round}\n`);
    }
    // The loop really killed applies with work under way.
    expect(killedMidway).toBeGreaterThanOrEqual(ROUNDS / 2);
    ok(run('destroy', ['--auto-approve', '--volumes']));
    expect(labelled('crash')).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('replacement on Docker', () => {
  const stackApp = (command: string) =>
    `const app = new cdk.App();
const stack = new cdk.Stack(app, 'swap');
const img = new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(BASE_ARCHIVE)}, tag: 'busybox:examples' });
const net = new cdk.Network(stack, 'net');
new cdk.Container(stack, 'web', { image: img, networks: [{ network: net, aliases: ['site'] }], ports: ['80'], command: ['sh', '-c', ${JSON.stringify(command)}] });
app.synth();`;

  /** What the engine did to the stack's containers since `since` (seconds, to the millisecond), in order: "start swap-web-next", "destroy swap-web" … */
  const actions = (since: number): string[] =>
    docker(['events', '--since', since.toFixed(3), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'type=container', '--filter', 'label=io.cdk-docker.stack=swap', '--format', '{{.Action}} {{.Actor.Attributes.name}}'])
      .filter((l) => /^(create|start|destroy|rename) /.test(l));

  test('a replaced container without a fixed host port is started before the old one goes; a new one that fails is kept with its logs while the old one serves on', async () => {
    const dir = tempDir('cdk-docker-examples-docker-swap-');
    const run = (cmd: string, args: string[] = []) => cdkDocker([cmd, '--engine', 'docker', ...args], dir, env());
    writeJsApp(dir, stackApp('echo v1 > /index.html; exec httpd -f -p 80 -h /'));
    ok(run('apply', ['--auto-approve']));
    const oldId = docker(['inspect', '-f', '{{.Id}}', 'swap-web'])[0];

    // A change that replaces: the new container runs before the old one is removed, then takes the name.
    writeJsApp(dir, stackApp('echo v2 > /index.html; exec httpd -f -p 80 -h /'));
    const since = Date.now() / 1000;
    const replaced = run('apply', ['--auto-approve']);
    expect(replaced.stdout).toMatch(/Apply complete! Resources: 0 added, 0 changed, 1 replaced, 0 destroyed\./);
    const seen = actions(since);
    expect(seen).toEqual(['create swap-web-next', 'start swap-web-next', 'destroy swap-web', 'rename swap-web']);
    expect(docker(['inspect', '-f', '{{.Id}} {{.State.Status}}', 'swap-web'])[0]).not.toContain(oldId);
    const port = docker(['port', 'swap-web', '80/tcp'])[0].split(':').pop()!;
    await until('the new web to answer', async () => (await get(Number(port))).includes('v2'), 10_000);
    expect(run('diff', ['--detailed-exitcode']).code).toBe(0);

    // A new container that exits: apply fails naming it with its output; the old one still serves, the failed one stays.
    writeJsApp(dir, stackApp('echo cannot serve v3; exit 3'));
    const failed = run('apply', ['--auto-approve']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('swap-web-next');
    expect(failed.stderr).toContain('cannot serve v3');
    expect(docker(['inspect', '-f', '{{.State.Status}}', 'swap-web'])).toEqual(['running']);
    expect((await get(Number(port)))).toContain('v2');
    expect(docker(['logs', 'swap-web-next'])).toEqual(['cannot serve v3']);

    // Fixed, it converges: the failed temporary is cleared, one container per name.
    writeJsApp(dir, stackApp('echo v4 > /index.html; exec httpd -f -p 80 -h /'));
    ok(run('apply', ['--auto-approve']));
    expect(docker(['ps', '-a', '--filter', 'label=io.cdk-docker.stack=swap', '--format', '{{.Names}} {{.State}}'])).toEqual(['swap-web running']);
    expect(run('diff', ['--detailed-exitcode']).code).toBe(0);
    ok(run('destroy', ['--auto-approve']));
    expect(labelled('swap')).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
