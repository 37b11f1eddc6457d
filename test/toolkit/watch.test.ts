import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { CLI, ROOT, Running, cdkDocker, ok, startProgram, until } from '../helpers/cli';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';
import { requireCommand } from '../helpers/prereq';

jest.setTimeout(180_000);

/**
 * `cdk-docker watch` end to end, as a user runs it: the real binary on the built-in runtime (runc,
 * conmon, netavark) with a private state root (networks 10.187/10.188, host port 19601), a
 * TypeScript app as `cdk-docker init` writes its command (`npx tsx main.ts`: run in a thread of the
 * CLI, a fresh one for each change), a built image whose site files a `develop.watch` sync rule copies
 * into the running container. What the user sees is asserted: the page the container serves,
 * the diff printed, the app's error, the containers left running after Ctrl-C.
 */
const PORT = 19601;
const STACK = 'watch-e2e';
const CONTAINER = `${STACK}-web`;
let world: StackWorld;
let proj: string;
let watcher: Running | undefined;
let iptablesBefore: string[];

/** The iptables lines of this suite's subnets. */
function ourIptables(): string[] {
  return execFileSync('iptables-save', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes('10.187.') || l.includes('10.188.'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, ''));
}

/** The app: one built image served by busybox httpd, its site synced by develop.watch. */
function writeApp(version: string, extra = ''): void {
  fs.writeFileSync(
    path.join(proj, 'main.ts'),
    `import * as cdk from ${JSON.stringify(path.join(ROOT, 'dist', 'lib'))};
const app = new cdk.App();
const stack = new cdk.Stack(app, ${JSON.stringify(STACK)});
new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(BASE_ARCHIVE)}, tag: 'busybox:examples' });
const site = cdk.Image.fromBuild(stack, 'site', './web', { tag: 'watch-e2e-site:dev' });
new cdk.Container(stack, 'web', {
  image: site,
  // Two lines in one write: the engine stamps them with one time.
  command: ['sh', '-c', 'printf "web up v%s\\n%s\\n" "$VERSION" "$(cat /etc/greeting.txt 2>/dev/null)"; exec httpd -f -p 80 -h /www'],
  ports: ['127.0.0.1:${PORT}:80'],
  env: { VERSION: ${JSON.stringify(version)} },
  // httpd as PID 1 ignores SIGTERM: no need to wait the default 10 s for the kill.
  stopTimeout: '1s',
  develop: {
    watch: [
      { path: './web/site', target: '/www', action: 'sync', ignore: ['*.draft'] },
      { path: './conf/greeting.txt', target: '/etc/greeting.txt', action: 'sync+restart' },
    ],
  },
});
${extra}
app.synth();
`,
  );
}

/** GET http://127.0.0.1:PORT/<page>: status and body. */
function get(page: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: PORT, path: `/${page}`, timeout: 2_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

async function serves(page: string, body: string): Promise<boolean> {
  const r = await get(page);
  return r.status === 200 && r.body === body;
}

interface Inspected {
  Id: string;
  State: { Status: string; StartedAt: string };
  Config: { Env: string[] };
}

function inspect(): Inspected {
  return (JSON.parse(ok(world.rt(['inspect', CONTAINER]))) as Inspected[])[0];
}

/** Waits for `text` in the watch's output after `from` characters; returns where it ends. */
async function seen(text: string, from = 0, timeoutMs = 60_000): Promise<number> {
  await until(`"${text}" in the watch's output`, () => watcher!.output().indexOf(text, from) >= 0, timeoutMs, () => watcher!.output().slice(from));
  return watcher!.output().indexOf(text, from) + text.length;
}

beforeAll(() => {
  requireCommand('iptables-save', 'iptables');
  world = stackWorld('cdk-docker-watch-', 187);
  iptablesBefore = ourIptables();
  proj = path.join(world.work, 'proj');
  fs.mkdirSync(path.join(proj, 'web', 'site'), { recursive: true });
  fs.writeFileSync(path.join(proj, 'web', 'Dockerfile'), 'FROM busybox:examples\nCOPY site /www\n');
  fs.writeFileSync(path.join(proj, 'web', 'site', 'index.html'), 'v1\n');
  fs.mkdirSync(path.join(proj, 'conf'));
  fs.writeFileSync(path.join(proj, 'conf', 'greeting.txt'), 'hello\n');
  fs.writeFileSync(path.join(proj, 'cdk-docker.json'), JSON.stringify({ app: 'npx tsx main.ts' }));
  writeApp('1');
});

afterAll(async () => {
  // A watch a failed test left running is this suite's own process.
  if (watcher && watcher.child.exitCode === null) {
    watcher.child.kill('SIGKILL');
    await watcher.done;
  }
  if (!world) return;
  const destroyed = cdkDocker(['destroy', '--auto-approve'], proj, world.env);
  const left = await tearDownWorld(world);
  expect(destroyed.code).toBe(0);
  expect(left).toEqual([]);
  expect(ourIptables()).toEqual(iptablesBefore);
});

test('watch applies, syncs a served file without a restart, applies a change of the app, keeps the last good state of a failing app, and leaves the stack running on Ctrl-C', async () => {
  watcher = startProgram(CLI, ['watch'], proj, world.env);
  let at = await seen('Watching for changes');
  const out = () => watcher!.output();
  expect(out()).toContain('Plan: 3 to add, 0 to change, 0 to replace, 0 to destroy.');
  expect(out()).toContain('Apply complete! Resources: 3 added, 0 changed, 0 replaced, 0 destroyed.');
  await until('the page v1', () => serves('', 'v1\n'), 30_000);
  // The container's output, prefixed by its construct path.
  await seen('web | web up v1');
  const first = inspect();

  // A served file changed: synced into the running container, no apply, no restart.
  fs.writeFileSync(path.join(proj, 'web', 'site', 'index.html'), 'v2\n');
  await until('the page v2', () => serves('', 'v2\n'), 30_000);
  at = await seen('web: synced /www/index.html', at);
  fs.writeFileSync(path.join(proj, 'web', 'site', 'extra.html'), 'extra\n');
  await until('the new page', () => serves('extra.html', 'extra\n'), 30_000);
  fs.rmSync(path.join(proj, 'web', 'site', 'extra.html'));
  await until('the removed page to be gone', async () => (await get('extra.html')).status === 404, 30_000);
  at = await seen('web: removed /www/extra.html', at);
  // A file the rule ignores is neither synced nor applied (though it is in the build context).
  fs.writeFileSync(path.join(proj, 'web', 'site', 'notes.draft'), 'draft\n');
  await new Promise((r) => setTimeout(r, 1_500));
  expect((await get('notes.draft')).status).toBe(404);
  const synced = inspect();
  expect(synced.Id).toBe(first.Id);
  expect(synced.State.StartedAt).toBe(first.State.StartedAt);
  expect(out().slice(at)).not.toContain('Changed:');

  // sync+restart: the same container, started again; its output followed again without the old lines.
  fs.writeFileSync(path.join(proj, 'conf', 'greeting.txt'), 'hello again\n');
  at = await seen('web: synced /etc/greeting.txt', at);
  // Its new output may come before or after the line saying so.
  await seen('web | hello again', at);
  at = await seen('web: restarted', at);
  const restarted = inspect();
  expect(restarted.Id).toBe(first.Id);
  expect(restarted.State.StartedAt).not.toBe(first.State.StartedAt);
  expect(out().split('\n').filter((l) => l === 'web | web up v1')).toHaveLength(2);
  expect(out()).not.toContain('Changed:');

  // The app changed: its diff is printed and applied (the image is rebuilt from the synced site too).
  writeApp('2');
  at = await seen('Changed: main.ts', at);
  at = await seen('env.VERSION: "1" → "2" (forces replacement)', at);
  at = await seen('Apply complete!', at);
  await seen('web | web up v2', at);
  const replaced = inspect();
  expect(replaced.Id).not.toBe(first.Id);
  expect(replaced.Config.Env).toContain('VERSION=2');
  await until('the page v2 from the rebuilt image', () => serves('', 'v2\n'), 30_000);

  // A failing app: what runs stays, the reason is said, watching goes on.
  writeApp('9', "throw new Error('broken on purpose');");
  at = await seen('The stack keeps its last good state.', at);
  expect(out()).toMatch(/Error: the app command `npx tsx main\.ts` failed with exit code 1 \(its output is above\)/);
  expect(inspect().Id).toBe(replaced.Id);
  expect(await serves('', 'v2\n')).toBe(true);
  // Fixed, the next change is applied.
  writeApp('3');
  at = await seen('env.VERSION: "2" → "3" (forces replacement)', at);
  await seen('web | web up v3', at);
  const fixed = inspect();
  expect(fixed.Config.Env).toContain('VERSION=3');

  // Ctrl-C: the watch ends with exit 0, the container keeps running.
  watcher.child.kill('SIGINT');
  const end = await watcher.done;
  expect(end.code).toBe(0);
  expect(end.stdout).toContain('Stopped watching; the stack keeps running.');
  expect(end.stderr).toContain('broken on purpose');
  expect(inspect()).toMatchObject({ Id: fixed.Id, State: { Status: 'running' } });
  expect(await serves('', 'v2\n')).toBe(true);
});

test('watch --no-logs applies nothing when nothing changed and shows no container output', async () => {
  watcher = startProgram(CLI, ['watch', '--no-logs'], proj, world.env);
  await seen('Watching for changes');
  expect(watcher.output()).toContain('No changes.');
  watcher.child.kill('SIGINT');
  const end = await watcher.done;
  expect(end.code).toBe(0);
  expect(end.stdout).not.toContain('web |');
  expect(inspect().State.Status).toBe('running');
});

test('watch with its output redirected to a file in the project does not apply its own lines', async () => {
  const log = path.join(proj, 'watch.log');
  const fd = fs.openSync(log, 'w');
  const child = spawn(CLI, ['watch', '--no-logs'], { cwd: proj, env: { ...process.env, NO_COLOR: '1', ...world.env }, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  try {
    const text = () => fs.readFileSync(log, 'utf8');
    await until('"Watching for changes" in watch.log', () => text().includes('Watching for changes'), 60_000, text);
    const settled = text().length;
    // Several debounce periods: each line written would otherwise be a change of the project.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(text().slice(settled)).toBe('');
  } finally {
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    fs.rmSync(log, { force: true });
  }
});

