import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinDriver } from '../../lib/drivers/builtin';
import { importContainers } from '../../lib/toolkit/import-containers';
import { CliResult, ROOT, cdkDocker, ok } from '../helpers/cli';
import { busyboxRootfsTar } from '../helpers/images';
import { requireCommand } from '../helpers/prereq';
import { World, makeWorld } from './canary';
import { canaryProblems } from './checks';

jest.setTimeout(60_000);

/**
 * `import containers` writes its project as `import compose` does, and must not write outside
 * its directory either: a symlink planted at a temporary file's name (a hostile checkout used as
 * -o) is never written through, and a main.ts that is a symlink (to /dev/zero, to a file that
 * looks imported) is refused without being read. Real containers of the built-in engine (created,
 * never started: no network) in a private state root next to a canary tree.
 */
let world: World;
let env: NodeJS.ProcessEnv;
let out: string;
const rt = (args: string[]): CliResult => cdkDocker(['runtime', ...args], world.dir, env);

beforeAll(() => {
  requireCommand('runc', 'runc');
  world = makeWorld('cdk-docker-harden-writer-');
  env = { CDK_DOCKER_ROOT: world.root, CDK_DOCKER_RUNROOT: world.run };
  const work = path.join(world.dir, 'state', 'work');
  fs.mkdirSync(work, { recursive: true });
  ok(rt(['import', '-c', 'CMD ["sh"]', busyboxRootfsTar(work), 'harden-writer:1']));
  ok(rt(['create', '--name', 'harden-writer-c', '--network', 'none', 'harden-writer:1', 'true']));
  world.reset();
});

afterAll(() => {
  if (!world) return;
  rt(['rm', '-f', 'harden-writer-c']);
  world.dispose();
});

beforeEach(() => {
  out = path.join(world.dir, 'state', `out-${Date.now()}`);
  fs.mkdirSync(out);
});

test('a symlink planted at a temporary file name is not written through', async () => {
  for (const f of ['main.ts', 'cdk-docker.json', 'package.json']) fs.symlinkSync(path.join(world.dir, 'important'), path.join(out, `${f}.${process.pid}.tmp`));
  const r = await importContainers({ driver: builtinDriver(env), names: ['harden-writer-c'], outDir: out, cwd: out });
  expect(r.written).toContain('main.ts');
  expect(canaryProblems(world)).toEqual([]);
  expect(fs.lstatSync(path.join(out, 'main.ts')).isFile()).toBe(true);
  expect(fs.readFileSync(path.join(out, 'main.ts'), 'utf8')).toMatch(/^\/\/ Imported from 1 container of the built-in engine by `cdk-docker import containers`/);
});

test('a main.ts that is a symlink (to /dev/zero, to an imported-looking file elsewhere) is refused without being read', () => {
  // In a child process: reading /dev/zero (before the fix) never returns.
  const run = () =>
    spawnSync(
      process.execPath,
      ['-e', `require(${JSON.stringify(path.join(ROOT, 'dist', 'lib', 'toolkit', 'import-containers'))}).importContainers({ driver: require(${JSON.stringify(path.join(ROOT, 'dist', 'lib', 'drivers', 'builtin'))}).builtinDriver(${JSON.stringify(env)}), names: ['harden-writer-c'], outDir: ${JSON.stringify(out)} }).then(() => console.log('written'), (e) => console.log(e.message))`],
      { encoding: 'utf8', timeout: 15_000 },
    );
  fs.symlinkSync('/dev/zero', path.join(out, 'main.ts'));
  let r = run();
  expect(r.signal).toBeNull();
  expect(r.stdout).toMatch(/main\.ts exists and was not written by `cdk-docker import`; import into another directory/);
  fs.rmSync(path.join(out, 'main.ts'));
  fs.writeFileSync(path.join(world.dir, 'empty', 'main.ts'), '// Imported from x by `cdk-docker import containers`.\n');
  world.baseline = world.snapshot();
  fs.symlinkSync(path.join(world.dir, 'empty', 'main.ts'), path.join(out, 'main.ts'));
  r = run();
  expect(r.stdout).toMatch(/was not written by/);
  expect(canaryProblems(world)).toEqual([]);
});
