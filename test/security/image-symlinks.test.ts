import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliResult, cdkDocker, ok, writeJsApp } from '../helpers/cli';
import { requireCommand } from '../helpers/prereq';
import { World, makeWorld } from './canary';
import { canaryProblems, mountProblems } from './checks';

jest.setTimeout(120_000);

/**
 * A hostile image whose paths are symlinks out of its root (absolute, and relative with more
 * `..` than the root is deep), at the places the built-in runtime writes to or reads from when a
 * container starts: a volume's destination (copy-up copies the image's content into a new
 * volume), the secret directory /run/secrets and a config's directory (bind-mounted files). Each
 * symlink aims at a canary tree next to the state root, which must stay byte-identical and
 * unread; the container sees its files inside its own root, as Docker resolves them (in scope).
 */
let world: World;
let work: string;
let env: NodeJS.ProcessEnv;
const rt = (args: string[]): CliResult => cdkDocker(['runtime', ...args], work, env);

beforeAll(() => {
  requireCommand('runc', 'runc');
  requireCommand('conmon', 'conmon');
  const busybox = requireCommand('busybox', 'busybox-static', ['/bin']);
  world = makeWorld('cdk-docker-harden-links-');
  work = path.join(world.dir, 'state', 'work');
  fs.mkdirSync(work, { recursive: true });
  env = { CDK_DOCKER_ROOT: world.root, CDK_DOCKER_RUNROOT: world.run };
  const root = path.join(work, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync(busybox, path.join(root, 'bin', 'busybox'));
  fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
  for (const a of ['sh', 'ls', 'cat', 'sleep', 'find']) fs.symlinkSync('busybox', path.join(root, 'bin', a));
  fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  fs.writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\n');
  // Absolute: the host resolves it to the canary directory; relative: enough `..` to climb out of any root.
  fs.symlinkSync(path.join(world.dir, 'victim'), path.join(root, 'data'));
  fs.symlinkSync(`${'../'.repeat(30)}${path.join(world.dir, 'dir').slice(1)}`, path.join(root, 'reldata'));
  fs.symlinkSync(path.join(world.dir, 'victim'), path.join(root, 'run'));
  fs.symlinkSync(path.join(world.dir, 'dir'), path.join(root, 'conf'));
  const tar = path.join(work, 'links.tar');
  execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
  ok(rt(['import', '-c', 'CMD ["sh"]', tar, 'harden-links:1']));
  world.reset();
});

afterAll(() => {
  if (!world) return;
  for (const c of ['harden-links-c']) rt(['rm', '-f', c]);
  for (const v of ['harden-lv1', 'harden-lv2']) rt(['volume', 'rm', '-f', v]);
  cdkDocker(['destroy', '--auto-approve'], path.join(work, 'app'), env);
  world.dispose();
});

test('a volume over an image path that is a symlink out of the root copies up nothing from the host', () => {
  const r = rt(['run', '--rm', '--network', 'none', '-v', 'harden-lv1:/data', '-v', 'harden-lv2:/reldata', 'harden-links:1', 'sh', '-c', 'ls -A /data /reldata']);
  expect(canaryProblems(world)).toEqual([]);
  expect(mountProblems(world)).toEqual([]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  // The volumes are empty: the image has nothing at /data in its own root.
  expect(r.stdout.replace(/\s+/g, ' ').trim()).toBe('/data: /reldata:');
  for (const v of ['harden-lv1', 'harden-lv2']) {
    const data = path.join(world.root, 'volumes', v, '_data');
    expect(fs.readdirSync(data)).toEqual([]);
  }
});

test('secrets and configs through an image symlink (/run -> host dir) land inside the container root', () => {
  const app = path.join(work, 'app');
  fs.mkdirSync(app, { recursive: true });
  fs.writeFileSync(path.join(app, 'pw.txt'), 'harden-secret\n');
  writeJsApp(
    app,
    `const app = new cdk.App();
const s = new cdk.Stack(app, 'harden-links');
new cdk.Container(s, 'c', {
  image: 'harden-links:1',
  command: ['sleep', '300'],
  networkMode: 'none',
  secrets: [cdk.Secret.fromFile('pw.txt')],
  configs: [{ config: cdk.Config.fromString('harden-config'), target: '/conf/app.conf' }],
});
app.synth();`,
  );
  world.reset();
  ok(cdkDocker(['apply', '--auto-approve'], app, env));
  expect(canaryProblems(world)).toEqual([]);
  expect(ok(rt(['exec', 'harden-links-c', 'cat', '/run/secrets/pw.txt', '/conf/app.conf']))).toBe('harden-secret\nharden-config');
  // The files are where the symlinks resolve in the container's own root, not on the host.
  expect(ok(rt(['exec', 'harden-links-c', 'find', `${world.dir}/victim`, `${world.dir}/dir`])).split('\n').filter(Boolean).sort()).toEqual(
    [`${world.dir}/dir`, `${world.dir}/dir/app.conf`, `${world.dir}/victim`, `${world.dir}/victim/secrets`, `${world.dir}/victim/secrets/pw.txt`].sort(),
  );
  ok(cdkDocker(['destroy', '--auto-approve'], app, env));
  expect(canaryProblems(world)).toEqual([]);
  expect(mountProblems(world)).toEqual([]);
});
