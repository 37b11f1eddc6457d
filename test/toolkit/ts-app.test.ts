import * as fs from 'node:fs';
import * as path from 'node:path';
import { directTsApp } from '../../lib/toolkit/ts-app';
import { ROOT, cdkDocker, removeTempDirs, tempDir } from '../helpers/cli';

afterAll(removeTempDirs);

/**
 * A project as `cdk-docker init` makes it, without tsx installed (so nothing could run
 * `npx tsx`): its `cdk-docker` is a package of its own that says it was loaded, then hands over
 * to this checkout's build.
 */
function tsProject(app = 'npx tsx main.ts'): string {
  const dir = tempDir('cdk-docker-ts-app-');
  const pkg = path.join(dir, 'node_modules', 'cdk-docker');
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'cdk-docker', version: '0.0.0-project', main: 'index.js' }));
  fs.writeFileSync(path.join(pkg, 'index.js'), `process.stdout.write('the project\\'s cdk-docker\\n');\nmodule.exports = require(${JSON.stringify(path.join(ROOT, 'dist', 'lib'))});\n`);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'shop', private: true }));
  fs.copyFileSync(path.join(ROOT, 'templates', 'typescript-app', 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
  fs.writeFileSync(path.join(dir, 'cdk-docker.json'), JSON.stringify({ app }));
  fs.mkdirSync(path.join(dir, 'lib'));
  fs.writeFileSync(
    path.join(dir, 'lib', 'web.ts'),
    `import { Container, Stack } from 'cdk-docker';\nexport interface WebProps { readonly port: number }\nexport function web(stack: Stack, props: WebProps): Container {\n  return new Container(stack, 'web', { image: 'nginx:1.27-alpine', ports: [\`\${props.port}:80\`] });\n}\n`,
  );
  fs.writeFileSync(
    path.join(dir, 'main.ts'),
    [
      "import { App, Stack } from 'cdk-docker';",
      "import { web } from './lib/web.js';",
      "const env: Record<string, string | undefined> = { outdir: process.env.CDK_DOCKER_OUTDIR, cwd: process.cwd(), entry: process.argv[1] };",
      'console.log(JSON.stringify(env));',
      'const app = new App();',
      "web(new Stack(app, 'shop'), { port: 8080 });",
      'app.synth();',
      '',
    ].join('\n'),
  );
  return dir;
}

describe('which app commands run without npx and tsx', () => {
  const dir = tempDir('cdk-docker-ts-forms-');
  fs.mkdirSync(path.join(dir, 'src'));
  for (const f of ['main.ts', 'src/main.ts', 'main.mts', 'main.cts']) fs.writeFileSync(path.join(dir, f), '');

  test.each([
    ['npx tsx main.ts', 'main.ts'],
    ['tsx main.ts', 'main.ts'],
    ['npx --no-install tsx ./src/main.ts', 'src/main.ts'],
    ['  npx tsx main.ts ', 'main.ts'],
    ['main.ts', 'main.ts'],
    ['main.cts', 'main.cts'],
  ])('`%s` runs %s on this Node, with the esbuild hook', (app, entry) => {
    const direct = directTsApp(app, dir, {});
    expect(direct).toEqual({
      entry: path.join(dir, entry),
      command: process.execPath,
      args: ['--enable-source-maps', '--require', path.join(ROOT, 'dist', 'lib', 'toolkit', 'ts-register.js'), '--', path.join(dir, entry)],
    });
  });

  test.each([
    'npx tsx --tsconfig ../tsconfig.json main.ts',
    'npx tsx main.ts --verbose',
    'FOO=1 npx tsx main.ts',
    'npx tsx main.ts && echo done',
    'npx tsx $ENTRY',
    'node app.js',
    'npx ts-node main.ts',
    'npx tsx main.mts',
    'npx tsx missing.ts',
    'npx tsx src',
    'npx tsx -- main.ts',
  ])('`%s` runs through the shell as written', (app) => {
    expect(directTsApp(app, dir, {})).toBeUndefined();
  });

  test('a tsconfig.json with extends or paths runs through tsx (the hook follows neither)', () => {
    for (const tsconfig of ['{ "extends": "../tsconfig.json" }', '{ "compilerOptions": { "baseUrl": ".", "paths": { "cdk-docker": ["../lib/index.ts"] } } }']) {
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), tsconfig);
      expect(directTsApp('npx tsx main.ts', dir, {})).toBeUndefined();
    }
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), '{ "compilerOptions": { "strict": true } }');
    expect(directTsApp('npx tsx main.ts', dir, {})?.entry).toBe(path.join(dir, 'main.ts'));
    fs.rmSync(path.join(dir, 'tsconfig.json'));
  });

  test('a package of "type": "module" runs through tsx (as ES modules), as does CDK_DOCKER_APP_RUNNER=shell', () => {
    expect(directTsApp('npx tsx main.ts', dir, { CDK_DOCKER_APP_RUNNER: 'shell' })).toBeUndefined();
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    try {
      expect(directTsApp('npx tsx src/main.ts', dir, {})).toBeUndefined();
      expect(directTsApp('npx tsx main.cts', dir, {})?.entry).toBe(path.join(dir, 'main.cts'));
    } finally {
      fs.rmSync(path.join(dir, 'package.json'));
    }
  });
});

describe('a TypeScript app synthesized without npx and tsx', () => {
  test('the app sees its directory, CDK_DOCKER_OUTDIR and its own cdk-docker; its output goes to stderr', () => {
    const dir = tsProject();
    const r = cdkDocker(['synth'], dir);
    expect(r.stderr).toBe(`the project's cdk-docker\n${JSON.stringify({ outdir: path.join(dir, 'cdk.out'), cwd: dir, entry: path.join(dir, 'main.ts') })}\n`);
    expect(r.stdout).toBe('shop: cdk.out/shop.plan.json (2 resources)\n');
    expect(r.code).toBe(0);
    const plan = JSON.parse(fs.readFileSync(path.join(dir, 'cdk.out', 'shop.plan.json'), 'utf8'));
    expect(Object.values(plan.resources as Record<string, { name: string }>).map((x) => x.name).sort()).toEqual(['docker.io/library/nginx:1.27-alpine', 'shop-web']);
  });

  test('compiled files are cached by content: the cache is what runs, and a change compiles again', () => {
    const dir = tsProject();
    expect(cdkDocker(['synth'], dir).code).toBe(0);
    const cache = path.join(dir, 'node_modules', '.cache', 'cdk-docker-ts');
    const entries = fs.readdirSync(cache).sort();
    expect(entries).toHaveLength(2);
    expect(entries.every((f) => /^[0-9a-f]{64}\.js$/.test(f))).toBe(true);
    // The cached main.ts is what the next synth runs (esbuild does not see main.ts again).
    const main = entries.map((f) => path.join(cache, f)).find((f) => fs.readFileSync(f, 'utf8').includes('CDK_DOCKER_OUTDIR'))!;
    fs.writeFileSync(main, `process.stderr.write('from the cache\\n');\n${fs.readFileSync(main, 'utf8')}`);
    expect(cdkDocker(['synth'], dir).stderr).toContain('from the cache\n');
    // A changed main.ts is compiled again, to a new entry.
    fs.appendFileSync(path.join(dir, 'main.ts'), "console.error('changed');\n");
    const changed = cdkDocker(['synth'], dir);
    expect(changed.code).toBe(0);
    expect(changed.stderr).not.toContain('from the cache');
    expect(changed.stderr).toContain('changed\n');
    expect(fs.readdirSync(cache)).toHaveLength(3);
  });

  test('a failing app keeps its message, with the TypeScript line in its stack', () => {
    const dir = tsProject();
    fs.writeFileSync(path.join(dir, 'main.ts'), "import { App } from 'cdk-docker';\nconst port: number = 70000;\nif (port > 65535) throw new Error(`port ${port} is out of range`);\nnew App().synth();\n");
    const r = cdkDocker(['synth'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error: port 70000 is out of range\n');
    expect(r.stderr).toContain(`at Object.<anonymous> (${path.join(dir, 'main.ts')}:3:`);
    expect(r.stderr.endsWith('Error: the app command `npx tsx main.ts` failed with exit code 1 (its output is above)\n')).toBe(true);
  });

  test('a file that does not compile is named with its line and column, no stack', () => {
    const dir = tsProject('main.ts');
    fs.writeFileSync(path.join(dir, 'lib', 'web.ts'), 'export const port: number = ;\n');
    const r = cdkDocker(['synth'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`the project's cdk-docker\n${path.join(dir, 'lib', 'web.ts')}:1:28: Unexpected ";"\nError: the app command \`main.ts\` failed with exit code 1 (its output is above)\n`);
  });

  test('an app that exits on its own before synth is reported as today', () => {
    const dir = tsProject();
    fs.writeFileSync(path.join(dir, 'main.ts'), 'process.exit(3);\n');
    const r = cdkDocker(['synth'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: the app command `npx tsx main.ts` failed with exit code 3 (its output is above)\n');
  });
});
