import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runsApp } from '../../lib/cli/entry';
import { CLI, ROOT, removeTempDirs, tempDir } from '../helpers/cli';

afterAll(removeTempDirs);

/** The project `cdk-docker init` makes once `npm install` has run (its `cdk-docker` linked, as a `file:` dependency installs it); `main` is main.ts. */
function project(main: string, app = 'npx tsx main.ts'): string {
  const dir = tempDir('cdk-docker-in-process-');
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'cdk-docker'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'shop', private: true }));
  fs.copyFileSync(path.join(ROOT, 'templates', 'typescript-app', 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
  fs.writeFileSync(path.join(dir, 'cdk-docker.json'), JSON.stringify({ app }));
  fs.writeFileSync(path.join(dir, 'main.ts'), main);
  return dir;
}

/** `cdk-docker ARGS` in `dir`; `pid` is the CLI's process (bin/cdk-docker execs Node in place). */
function run(args: string[], dir: string, env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string; pid: number } {
  const r = spawnSync(CLI, args, { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, pid: r.pid };
}

/** A stack of one container; `before` runs first, `after` after synth. */
const stackApp = (before = '', after = '') =>
  [
    "import { App, Container, Stack } from 'cdk-docker';",
    "import * as fs from 'node:fs';",
    before,
    'const app = new App();',
    "new Container(new Stack(app, 'shop'), 'web', { image: 'nginx:1.27-alpine' });",
    'app.synth();',
    after,
    '',
  ].join('\n');

const PLAN = 'shop: cdk.out/shop.plan.json (2 resources)\n';

describe('a TypeScript app run in a thread of the CLI', () => {
  test('runs in the CLI\'s process as its main module, with its own argv, directory and CDK_DOCKER_OUTDIR; CDK_DOCKER_APP_RUNNER=node runs it as a child process', () => {
    const seen = "fs.writeFileSync('seen.json', JSON.stringify({ pid: process.pid, main: require.main === module, argv: process.argv.slice(1), cwd: process.cwd(), outdir: process.env.CDK_DOCKER_OUTDIR }));";
    const dir = project(stackApp(`if (require.main !== module) throw new Error('not the main module');\n${seen}`));
    const r = run(['synth'], dir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(PLAN);
    expect(r.code).toBe(0);
    const expected = { main: true, argv: [path.join(dir, 'main.ts')], cwd: dir, outdir: path.join(dir, 'cdk.out') };
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'seen.json'), 'utf8'))).toEqual({ ...expected, pid: r.pid });

    const child = run(['synth'], dir, { CDK_DOCKER_APP_RUNNER: 'node' });
    expect(child.code).toBe(0);
    const inChild = JSON.parse(fs.readFileSync(path.join(dir, 'seen.json'), 'utf8'));
    expect(inChild).toEqual({ ...expected, pid: inChild.pid });
    expect(inChild.pid).not.toBe(child.pid);
  });

  test('its output goes to stderr, as a child\'s; the CLI\'s stdout stays its own', () => {
    const dir = project(stackApp("console.log('from the app'); process.stdout.write('and more\\n'); console.error('on stderr');"));
    const r = run(['synth'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(PLAN);
    // Two streams, as a child's two pipes: each in its order, not interleaved in order.
    expect(r.stderr.split('\n').filter((l) => l !== 'on stderr')).toEqual(['from the app', 'and more', '']);
    expect(r.stderr).toContain('on stderr\n');
  });

  test('an app that synthesizes after an await is waited for', () => {
    const dir = project(
      [
        "import { App, Container, Stack } from 'cdk-docker';",
        'async function main(): Promise<void> {',
        '  await new Promise((r) => setTimeout(r, 300));',
        '  const app = new App();',
        "  new Container(new Stack(app, 'shop'), 'web', { image: 'nginx:1.27-alpine' });",
        '  app.synth();',
        '}',
        'main().catch((e) => { console.error(e); process.exit(1); });',
        '',
      ].join('\n'),
    );
    const r = run(['synth'], dir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(PLAN);
    expect(r.code).toBe(0);
  });

  test('an error the app throws is its failure, shown with the TypeScript line, without the CLI\'s frames', () => {
    const dir = project("import { App } from 'cdk-docker';\nconst port: number = 70000;\nif (port > 65535) throw new Error(`port ${port} is out of range`);\nnew App().synth();\n");
    const r = run(['synth'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Error: port 70000 is out of range\n');
    expect(r.stderr).toContain(`at Object.<anonymous> (${path.join(dir, 'main.ts')}:3:`);
    expect(r.stderr).not.toMatch(/app-(thread|worker)|ts-hooks|dist\/lib\/(cli|toolkit)|node:internal/);
    expect(r.stderr.endsWith('Error: the app command `npx tsx main.ts` failed with exit code 1 (its output is above)\n')).toBe(true);
  });

  test('a construct\'s validation error is its message lines, no stack', () => {
    const dir = project("import { App, Container, Stack } from 'cdk-docker';\nconst app = new App();\nnew Container(new Stack(app, 'shop'), 'web', { image: 'nginx', memory: '12 parsecs' });\napp.synth();\n");
    const r = run(['synth'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: .*\[shop\/web\].*memory/);
    expect(r.stderr).not.toContain('    at ');
  });

  test('process.exit(n), an unhandled rejection and an exception in a callback end the app, not the CLI', () => {
    const cases: Array<[string, number, string]> = [
      ['process.exit(3);\n', 3, ''],
      ["Promise.reject(new Error('nobody caught me'));\n", 1, 'Error: nobody caught me'],
      ["setTimeout(() => { throw new Error('late'); }, 10);\n", 1, 'Error: late'],
      ["process.exitCode = 4; console.error('giving up');\n", 4, 'giving up'],
    ];
    for (const [main, code, message] of cases) {
      const dir = project(main);
      const r = run(['synth'], dir);
      expect([r.code, r.stdout]).toEqual([1, '']);
      expect(r.stderr).toContain(message);
      expect(r.stderr.endsWith(`Error: the app command \`npx tsx main.ts\` failed with exit code ${code} (its output is above)\n`)).toBe(true);
    }
  });

  test('an app that never synthesizes is told so once it has nothing left to do', () => {
    const dir = project("import { App } from 'cdk-docker';\nnew App();\nsetTimeout(() => undefined, 200);\n");
    const r = run(['synth'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error: the app command \`npx tsx main.ts\` wrote no plans to ${path.join(dir, 'cdk.out')}: does it call app.synth() at the end?\n`);
  });

  test('a file that does not compile is named with its line and column', () => {
    const dir = project("import { port } from './lib/port.js';\nconsole.log(port);\n");
    fs.mkdirSync(path.join(dir, 'lib'));
    fs.writeFileSync(path.join(dir, 'lib', 'port.ts'), 'export const port: number = ;\n');
    const r = run(['synth'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`${path.join(dir, 'lib', 'port.ts')}:1:28: Unexpected ";"\nError: the app command \`npx tsx main.ts\` failed with exit code 1 (its output is above)\n`);
  });

  test('what the app sets in its environment is its own', () => {
    // The app's environment is a copy: the CLI's engine choice after the app is not the app's to change.
    const dir = project(stackApp("process.env.CDK_DOCKER_ENGINE = 'nope';"));
    const r = run(['synth'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(PLAN);
  });

  test('the CLI checks the plans the thread wrote (the app under the CLI leaves the schema check to it)', () => {
    // A plan the library could not have written, as if it had: the CLI refuses it in one message.
    const dir = project(stackApp('', "const f = 'cdk.out/shop.plan.json'; const p = JSON.parse(fs.readFileSync(f, 'utf8')); (Object.values(p.resources) as any[]).find((x) => x.type === 'container').spec.replicas = 'lots'; fs.writeFileSync(f, JSON.stringify(p));"));
    const r = run(['synth'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path.join(dir, 'cdk.out', 'shop.plan.json')} is not a valid cdk-docker plan:`);
    expect(r.stderr).toMatch(/^ {2}- resources\.Web[0-9A-F]+\.spec\.replicas: must be of type integer$/m);
  });
});

describe('which commands start the app\'s thread first thing', () => {
  const ts = project(stackApp());
  const js = tempDir('cdk-docker-js-app-');
  fs.writeFileSync(path.join(js, 'cdk-docker.json'), JSON.stringify({ app: 'node app.js' }));

  test.each([
    [['apply', '--auto-approve'], true],
    [['diff', 'shop', '--json'], true],
    [['plan'], true],
    [['destroy', '--auto-approve'], true],
    [['synth', '--format', 'yaml'], true],
    [['watch', '--no-logs'], true],
    [['apply', '--plan', 'saved.json'], false],
    [['apply', '--plan=saved.json'], false],
    [['diff', '--help'], false],
    [['synth', '-h'], false],
    [['drift'], false],
    [['runtime', 'run', 'busybox'], false],
    [['--engine', 'docker', 'apply'], false],
    [[], false],
  ])('%j in a TypeScript project: %s', (args, expected) => {
    expect(runsApp(args, {}, ts)).toBe(expected);
  });

  test('an app that runs through the shell starts none, unless an app is given by --app (not looked into)', () => {
    expect(runsApp(['apply'], {}, js)).toBe(false);
    expect(runsApp(['apply', '--app', 'npx tsx other.ts'], {}, js)).toBe(true);
    expect(runsApp(['synth', '-a', 'node app.js'], {}, js)).toBe(true);
    // No cdk-docker.json, or one the command will refuse: none.
    expect(runsApp(['apply'], {}, tempDir('cdk-docker-no-config-'))).toBe(false);
    const broken = tempDir('cdk-docker-broken-config-');
    fs.writeFileSync(path.join(broken, 'cdk-docker.json'), '{ "app": ');
    expect(runsApp(['apply'], {}, broken)).toBe(false);
  });

  test('none with CDK_DOCKER_APP_RUNNER=node or shell (the app runs as a child or through the shell)', () => {
    expect(runsApp(['apply'], { CDK_DOCKER_APP_RUNNER: 'node' }, ts)).toBe(false);
    expect(runsApp(['apply'], { CDK_DOCKER_APP_RUNNER: 'shell' }, ts)).toBe(false);
  });

  test('a command that starts the thread and then runs its app through the shell ends as before', () => {
    const dir = tempDir('cdk-docker-thread-unused-');
    fs.writeFileSync(path.join(dir, 'app.js'), `const cdk = require(${JSON.stringify(path.join(ROOT, 'dist', 'lib'))});\nconst app = new cdk.App();\nnew cdk.Container(new cdk.Stack(app, 'shop'), 'web', { image: 'nginx:1.27-alpine' });\napp.synth();\n`);
    fs.writeFileSync(path.join(dir, 'cdk-docker.json'), JSON.stringify({ app: 'npx tsx main.ts' }));
    fs.writeFileSync(path.join(dir, 'main.ts'), '');
    // The thread starts for main.ts; --app then runs app.js through the shell.
    const started = Date.now();
    const r = run(['synth', '--app', 'node app.js'], dir);
    expect(r.stdout).toBe(PLAN);
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
