import * as fs from 'node:fs';
import * as path from 'node:path';
import { Container, Image, Stack, Testing } from '../../lib';
import { contextFiles, hashBuildContext, hashFileContent } from '../../lib/plan';
import { FIXTURES, fixtureApp, resourceAt } from '../fixtures';
import { removeTempDirs, tempDir } from '../helpers/cli';

afterAll(removeTempDirs);

/** Writes `files` (path → content) under `dir`. */
function write(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
}

/** A build context with a .dockerignore that ignores a directory and a pattern, re-including one file. */
function context(): string {
  const dir = tempDir();
  write(dir, {
    'app/Dockerfile': 'FROM busybox\nCOPY . /app\n',
    'app/.dockerignore': 'node_modules\n*.log\n!keep.log\nsecrets/\n',
    'app/main.js': 'console.log("hi")\n',
    'app/lib/util.js': 'exports.x = 1\n',
    'app/keep.log': 'kept\n',
    'app/debug.log': 'noise\n',
    'app/node_modules/dep/index.js': 'module.exports = 1\n',
    'app/secrets/token': 'abc\n',
  });
  return dir;
}

/** The contextHash of an Image built from `<baseDir>/app`, as synth writes it into the plan. */
function planHash(baseDir: string, dockerfile?: string): string {
  const stack = new Stack(fixtureApp({ baseDir }), 'shop');
  new Image(stack, 'app', { build: { context: 'app', dockerfile } });
  const spec = resourceAt(Testing.synth(stack), 'app', 'image').spec;
  if (spec.source !== 'build') throw new Error('not a build image');
  return spec.contextHash;
}

describe('build context hash', () => {
  test('lists the files Docker would send: .dockerignore honoured, Dockerfile and .dockerignore always in', () => {
    const dir = context();
    expect(contextFiles(path.join(dir, 'app'))).toEqual(['.dockerignore', 'Dockerfile', 'keep.log', 'lib/util.js', 'main.js']);
    expect(contextFiles(path.join(FIXTURES, 'web'))).toEqual(['.dockerignore', 'Dockerfile', 'Dockerfile.prod', 'index.html']);
    fs.appendFileSync(path.join(dir, 'app', '.dockerignore'), 'Dockerfile\n.dockerignore\n');
    expect(contextFiles(path.join(dir, 'app'))).toEqual(['.dockerignore', 'Dockerfile', 'keep.log', 'lib/util.js', 'main.js']);
  });

  test('changing an ignored file does not change the hash', () => {
    const dir = context();
    const before = planHash(dir);
    expect(before).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(before).toBe(hashBuildContext(path.join(dir, 'app')));
    write(dir, {
      'app/debug.log': 'other noise\n',
      'app/new.log': 'more noise\n',
      'app/node_modules/dep/index.js': 'module.exports = 2\n',
      'app/node_modules/other/index.js': 'x\n',
      'app/secrets/token': 'rotated\n',
    });
    fs.rmSync(path.join(dir, 'app', 'secrets', 'token'));
    expect(planHash(dir)).toBe(before);
  });

  test.each<[string, (app: string) => void]>([
    ['editing an included file', (app) => fs.appendFileSync(path.join(app, 'main.js'), '// more\n')],
    ['editing a nested included file', (app) => fs.writeFileSync(path.join(app, 'lib/util.js'), 'exports.x = 2\n')],
    ['adding an included file', (app) => fs.writeFileSync(path.join(app, 'README.md'), 'hi\n')],
    ['removing an included file', (app) => fs.rmSync(path.join(app, 'lib/util.js'))],
    ['renaming an included file', (app) => fs.renameSync(path.join(app, 'main.js'), path.join(app, 'index.js'))],
    ['editing a file re-included with "!"', (app) => fs.writeFileSync(path.join(app, 'keep.log'), 'changed\n')],
    ['editing the Dockerfile', (app) => fs.appendFileSync(path.join(app, 'Dockerfile'), 'CMD ["node", "main.js"]\n')],
    ['editing .dockerignore', (app) => fs.appendFileSync(path.join(app, '.dockerignore'), 'lib/\n')],
    ['making a file executable', (app) => fs.chmodSync(path.join(app, 'main.js'), 0o755)],
    ['replacing a file by a symlink', (app) => {
      fs.rmSync(path.join(app, 'main.js'));
      fs.symlinkSync('lib/util.js', path.join(app, 'main.js'));
    }],
  ])('%s changes the hash', (_what, change) => {
    const dir = context();
    const before = planHash(dir);
    change(path.join(dir, 'app'));
    expect(planHash(dir)).not.toBe(before);
  });

  test('a Dockerfile outside the context is part of the hash', () => {
    const dir = context();
    write(dir, { 'Dockerfile.outside': 'FROM busybox\n' });
    const before = planHash(dir, '../Dockerfile.outside');
    expect(before).not.toBe(planHash(dir));
    fs.appendFileSync(path.join(dir, 'Dockerfile.outside'), 'RUN true\n');
    expect(planHash(dir, '../Dockerfile.outside')).not.toBe(before);
  });

  test('the hash does not depend on where the context is or when its files were written', () => {
    const [a, b] = [context(), context()];
    const t = new Date('2001-02-03T04:05:06Z');
    fs.utimesSync(path.join(b, 'app', 'main.js'), t, t);
    expect(planHash(b)).toBe(planHash(a));
  });
});

describe('file inputs', () => {
  test('bind-mounted files and env files are content-hashed into the spec', () => {
    const dir = tempDir();
    write(dir, { 'nginx.conf': 'a\n', 'app.env': 'A=1\n', 'www/index.html': 'x\n' });
    const spec = () => {
      const stack = new Stack(fixtureApp({ baseDir: dir }), 'shop');
      new Container(stack, 'web', {
        image: 'nginx',
        envFiles: ['app.env'],
        mounts: [
          { type: 'bind', source: 'nginx.conf', target: '/etc/nginx/nginx.conf' },
          { type: 'bind', source: 'www', target: '/www' },
        ],
      });
      return resourceAt(Testing.synth(stack), 'web', 'container').spec;
    };
    const before = spec();
    expect(before.envFiles).toEqual([{ path: path.join(dir, 'app.env'), sha256: hashFileContent(path.join(dir, 'app.env')) }]);
    expect(before.mounts[0]).toMatchObject({ sha256: hashFileContent(path.join(dir, 'nginx.conf')) });
    // A directory is mounted live: its content is not part of the spec.
    expect(before.mounts[1]).not.toHaveProperty('sha256');

    fs.writeFileSync(path.join(dir, 'nginx.conf'), 'b\n');
    fs.writeFileSync(path.join(dir, 'www/index.html'), 'y\n');
    const after = spec();
    expect(after.mounts[0]).not.toEqual(before.mounts[0]);
    expect(after.mounts[1]).toEqual(before.mounts[1]);
    expect(after.envFiles).toEqual(before.envFiles);

    fs.writeFileSync(path.join(dir, 'app.env'), 'A=2\n');
    expect(spec().envFiles).not.toEqual(before.envFiles);
  });
});
