import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readPlan } from '../lib/plan';
import { ROOT, cdkDocker, tempDir } from './helpers/cli';

const NPM_TIMEOUT = 240_000;

/** Runs a project's own installed CLI, as `npx cdk-docker` would. */
function projectCli(project: string, args: string[]) {
  const r = spawnSync(path.join(project, 'node_modules', '.bin', 'cdk-docker'), args, { cwd: project, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cdk-docker init', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test(
    'init → npm install → synth and typecheck, using this checkout',
    () => {
      const project = path.join(dir, 'shop-front');
      fs.mkdirSync(project);
      const r = cdkDocker(['init'], project);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Created a typescript app project "shop-front" in ${project}`);
      expect(fs.readdirSync(project).sort()).toEqual(['.gitignore', 'README.md', 'cdk-docker.json', 'jest.config.js', 'main.test.ts', 'main.ts', 'node_modules', 'package-lock.json', 'package.json', 'tsconfig.json']);
      const pkg = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8'));
      expect(pkg.name).toBe('shop-front');
      expect(pkg.dependencies['cdk-docker']).toBe(`file:${ROOT}`);

      const synth = projectCli(project, ['synth']);
      expect(synth.code).toBe(0);
      expect(synth.stdout).toBe('shop-front: cdk.out/shop-front.plan.json (6 resources)\n');
      const plan = readPlan(path.join(project, 'cdk.out', 'shop-front.plan.json'));
      expect(plan.stack).toBe('shop-front');
      expect(Object.values(plan.resources).map((res) => `${res.type} ${res.name}`).sort()).toEqual([
        'container shop-front-cache',
        'container shop-front-web',
        'image docker.io/library/nginx:1.27-alpine',
        'image docker.io/library/redis:7-alpine',
        'network shop-front-backend',
        'volume shop-front-cache-data',
      ]);
      // The template type-checks against the package's published typings.
      execFileSync('npx', ['tsc', '--noEmit'], { cwd: project, stdio: 'pipe' });
      // Its jest test synthesizes the stack with Testing.synth and snapshots the plan: written on
      // the first run, compared on the next.
      expect(fs.readFileSync(path.join(project, 'main.test.ts'), 'utf8')).toContain("const plan = Testing.synth(new ShopFrontStack(app, 'shop-front'));");
      const first = spawnSync('npm', ['test', '--', '--ci=false'], { cwd: project, encoding: 'utf8' });
      expect(first.status).toBe(0);
      expect(first.stderr).toContain('1 snapshot written');
      const snapshot = fs.readFileSync(path.join(project, '__snapshots__', 'main.test.ts.snap'), 'utf8');
      expect(snapshot).toContain('"name": "shop-front-cache"');
      const again = spawnSync('npm', ['test'], { cwd: project, encoding: 'utf8' });
      expect(again.status).toBe(0);
      expect(again.stderr).toContain('1 passed');
    },
    NPM_TIMEOUT,
  );

  test(
    'the packed package installs into another project, with a working bin and templates',
    () => {
      const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
      const tarball = path.join(dir, packed);
      const project = path.join(dir, 'from-tarball');
      fs.mkdirSync(project);
      const r = cdkDocker(['init', '--name', 'tarball-app', '--cdk-docker', `file:${tarball}`], project);
      expect(r.code).toBe(0);
      expect(fs.lstatSync(path.join(project, 'node_modules', 'cdk-docker')).isSymbolicLink()).toBe(false);

      const version = projectCli(project, ['--version']);
      expect(version.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
      const synth = projectCli(project, ['synth']);
      expect(synth.stdout).toBe('tarball-app: cdk.out/tarball-app.plan.json (6 resources)\n');
      // The installed CLI finds its own templates and makes the next project from the registry version.
      const next = path.join(dir, 'next');
      fs.mkdirSync(next);
      const again = spawnSync(path.join(project, 'node_modules', '.bin', 'cdk-docker'), ['init', '--no-install'], { cwd: next, encoding: 'utf8' });
      expect(again.status).toBe(0);
      expect(JSON.parse(fs.readFileSync(path.join(next, 'package.json'), 'utf8')).dependencies['cdk-docker']).toMatch(/^\^\d+\.\d+\.\d+/);
    },
    NPM_TIMEOUT,
  );

  test('refuses a non-empty directory and touches nothing in it', () => {
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const r = cdkDocker(['init', '--no-install'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error: \`cdk-docker init\` cannot be run in a non-empty directory: ${dir} already has notes.txt…; run it in a new directory\n`);
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
  });

  test('an unknown template or language lists the ones there are', () => {
    const r = cdkDocker(['init', 'webapp', '--no-install'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: no template "webapp" for language "typescript"; available: app (--language typescript)\n');
    expect(cdkDocker(['init', '--list'], dir).stdout).toBe('app  --language typescript\n');
  });

  test('a directory name that is not a valid name needs --name', () => {
    const project = path.join(dir, '_x');
    fs.mkdirSync(project);
    const r = cdkDocker(['init', '--no-install'], project);
    expect(r.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8')).name).toBe('x0');
    const other = path.join(dir, 'other');
    fs.mkdirSync(other);
    const bad = cdkDocker(['init', '--no-install', '--name', 'my app'], other);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('project name "my app" is not a valid Docker name');
    expect(bad.stderr).toContain('; pass --name\n');
  });
});
