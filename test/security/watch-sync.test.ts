import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, ROOT, Running, cdkDocker, ok, startProgram, until } from '../helpers/cli';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';
import { World, makeWorld } from './canary';

jest.setTimeout(180_000);

/**
 * `cdk-docker watch` sync against a hostile synced directory (a checkout with symlinks out of
 * it, files with names made for a shell), on the built-in runtime with no network (octet 201 is
 * configured, never used). Compose's rule is kept: a symlink is synced as a symlink, never
 * followed; the directory a symlink names is not watched, so the host's files there never reach
 * the container; deleted files are removed with rm's argv, never through a shell.
 */
const STACK = 'harden-watch';
const CONTAINER = `${STACK}-app`;
let world: StackWorld;
let canary: World;
let proj: string;
let watcher: Running | undefined;

beforeAll(() => {
  world = stackWorld('cdk-docker-harden-watch-', 201);
  canary = makeWorld('cdk-docker-harden-watch-canary-');
  proj = path.join(world.work, 'proj');
  fs.mkdirSync(path.join(proj, 'site'), { recursive: true });
  fs.writeFileSync(path.join(proj, 'site', 'index.html'), 'v1\n');
  // A rule whose own path is a symlink (to a directory outside the project) is followed: the user named it.
  fs.mkdirSync(path.join(world.work, 'real-site'));
  fs.symlinkSync(path.join(world.work, 'real-site'), path.join(proj, 'linked'));
  fs.writeFileSync(
    path.join(proj, 'main.ts'),
    `import * as cdk from ${JSON.stringify(path.join(ROOT, 'dist', 'lib'))};
const app = new cdk.App();
const stack = new cdk.Stack(app, ${JSON.stringify(STACK)});
const img = new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(BASE_ARCHIVE)}, tag: 'busybox:examples' });
new cdk.Container(stack, 'app', {
  image: img,
  command: ['sleep', '600'],
  networkMode: 'none',
  stopTimeout: '1s',
  develop: { watch: [{ path: './site', target: '/srv', action: 'sync' }, { path: './linked', target: '/srv2', action: 'sync' }] },
});
app.synth();
`,
  );
  fs.writeFileSync(path.join(proj, 'cdk-docker.json'), JSON.stringify({ app: `${path.join(ROOT, 'node_modules', '.bin', 'tsx')} main.ts` }));
});

afterAll(async () => {
  if (watcher && watcher.child.exitCode === null) {
    watcher.child.kill('SIGKILL');
    await watcher.done;
  }
  if (world) {
    cdkDocker(['destroy', '--auto-approve'], proj, world.env);
    expect(await tearDownWorld(world)).toEqual([]);
  }
  canary?.dispose();
});

const exec = (...cmd: string[]) => world.rt(['exec', CONTAINER, ...cmd]);

/** Waits until the container has /srv/<name> (the watch's output names only two files of a batch). */
async function synced(name: string): Promise<void> {
  await until(`/srv/${name} synced`, () => exec('cat', `/srv/${name}`).code === 0, 60_000, () => watcher!.output());
}

async function seen(text: string, from = 0): Promise<number> {
  await until(`"${text}" in the watch's output`, () => watcher!.output().indexOf(text, from) >= 0, 60_000, () => watcher!.output().slice(from));
  return watcher!.output().indexOf(text, from) + text.length;
}

test('a symlink in the synced directory is synced as a link; the host files it names never reach the container; hostile names are removed with no shell; a rule whose path is a symlink still syncs', async () => {
  watcher = startProgram(CLI, ['watch', '--no-logs'], proj, world.env);
  await seen('Watching for changes');

  // A link to a host directory, and one to a host file (the classic /etc/shadow), then a marker.
  fs.symlinkSync(path.join(canary.dir, 'victim'), path.join(proj, 'site', 'evil-dir'));
  fs.symlinkSync(path.join(canary.dir, 'secret'), path.join(proj, 'site', 'evil-file'));
  await new Promise((r) => setTimeout(r, 500));
  fs.writeFileSync(path.join(proj, 'site', 'marker1'), 'm1\n');
  await synced('marker1');
  expect(ok(exec('sh', '-c', 'readlink /srv/evil-dir; readlink /srv/evil-file'))).toBe(`${path.join(canary.dir, 'victim')}\n${path.join(canary.dir, 'secret')}\n`);

  // The host changes a file in the linked directory (as an admin edits /etc): nothing is synced.
  fs.writeFileSync(path.join(canary.dir, 'victim', 'important'), 'changed on the host\n');
  await new Promise((r) => setTimeout(r, 1_500));
  fs.writeFileSync(path.join(proj, 'site', 'marker2'), 'm2\n');
  await synced('marker2');
  expect(watcher.output()).not.toMatch(/evil-dir\/important/);
  expect(exec('ls', `/srv/evil-dir/`).code).not.toBe(0);
  expect(exec('sh', '-c', `grep -r "changed on the host" /srv/ 2>/dev/null`).stdout).toBe('');

  // Names made for a shell, synced then deleted: removed exactly, nothing else.
  const names = ['a b', '; touch pwned;', '-rf', "$(touch pwned2)", 'x\ny'];
  for (const n of names) fs.writeFileSync(path.join(proj, 'site', n), 'hostile\n');
  await new Promise((r) => setTimeout(r, 500));
  fs.writeFileSync(path.join(proj, 'site', 'marker3'), 'm3\n');
  await synced('marker3');
  for (const n of names) fs.rmSync(path.join(proj, 'site', n));
  await new Promise((r) => setTimeout(r, 500));
  fs.writeFileSync(path.join(proj, 'site', 'marker4'), 'm4\n');
  await synced('marker4');
  await until('the hostile names removed', () => ok(exec('ls', '-A', '/srv')).split('\n').filter(Boolean).sort().join(',') === ['evil-dir', 'evil-file', 'marker1', 'marker2', 'marker3', 'marker4'].sort().join(','), 20_000, () => ok(exec('ls', '-A', '/srv')));
  // The rule whose path is a symlink still syncs what changes behind it.
  fs.writeFileSync(path.join(proj, 'linked', 'through-link'), 'l1\n');
  await synced('../srv2/through-link');
  expect(exec('ls', '/pwned').code).not.toBe(0);
  expect(exec('ls', '/pwned2').code).not.toBe(0);
});
