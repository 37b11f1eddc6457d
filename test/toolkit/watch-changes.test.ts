import * as fs from 'node:fs';
import * as path from 'node:path';
import { Config, Container, Image, Secret, Stack, Testing } from '../../lib';
import { sortChanges } from '../../lib/toolkit/watch';
import { FIXTURE_ENV } from '../fixtures';
import { removeTempDirs, tempDir } from '../helpers/cli';

afterAll(removeTempDirs);

/**
 * What a batch of changed files asks `cdk-docker watch` to do, by the plans of the last good
 * synth, on real files (the build context's .dockerignore is read from disk): which develop
 * rule syncs what, and which files ask for an apply.
 */
let root: string;
let proj: string;
const file = (rel: string, body = 'x\n'): string => {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, body);
  return p;
};

beforeAll(() => {
  root = tempDir('cdk-docker-watch-changes-');
  proj = path.join(root, 'proj');
  for (const f of ['proj/main.ts', 'proj/README.md', 'proj/.hidden', 'proj/node_modules/x/index.js', 'proj/.git/HEAD', 'proj/cdk.out/shop.plan.json']) file(f);
  for (const f of ['proj/web/Dockerfile', 'proj/web/site/index.html', 'proj/web/site/page.swp', 'proj/web/site/notes.draft', 'proj/web/tmp/x', 'proj/web/app.log', 'proj/web/src/app.js']) file(f);
  file('proj/web/.dockerignore', 'tmp\n*.log\n');
  file('proj/conf/nginx.conf');
  file('shared/app.env', 'A=1\n');
  file('shared/token.txt', 'secret\n');
  file('shared/db-password.txt', 'secret\n');
  file('shared/site.conf');
  file('shared/unrelated.txt');
});

function plans() {
  const app = Testing.app({ baseDir: proj, env: FIXTURE_ENV, outdir: path.join(proj, 'cdk.out') });
  const stack = new Stack(app, 'shop');
  const site = Image.fromBuild(stack, 'site', 'web');
  new Container(stack, 'web', {
    image: site,
    envFiles: ['../shared/app.env'],
    env: { TOKEN: Secret.fromFile('../shared/token.txt') },
    mounts: [{ type: 'bind', source: 'conf/nginx.conf', target: '/etc/nginx/nginx.conf', readOnly: true }],
    secrets: [Secret.fromFile('../shared/db-password.txt')],
    configs: [{ config: Config.fromFile('../shared/site.conf'), target: '/etc/site.conf' }],
    develop: {
      watch: [
        { path: 'web/site', target: '/www', action: 'sync', ignore: ['*.swp', '*.draft'] },
        { path: 'web/src', action: 'rebuild' },
      ],
    },
  });
  // A second container syncing the same site elsewhere, then restarting.
  new Container(stack, 'mirror', { image: site, develop: { watch: [{ path: 'web/site', target: '/mirror', action: 'sync+restart', ignore: ['*.swp'] }] } });
  return [Testing.synth(stack)];
}

const sorted = (files: string[]) => {
  const work = sortChanges(proj, path.join(proj, 'cdk.out'), plans(), files.map((f) => path.join(root, f)));
  return {
    syncs: [...work.syncs].map(([r, fs]) => `${r.resource.path} ${r.rule.action} ${r.rule.target}: ${[...fs].map((f) => path.relative(root, f)).join(' ')}`).sort(),
    apply: work.apply.map((f) => path.relative(root, f)),
  };
};

test('a file under a sync rule is synced by every container whose rule takes it, and not applied', () => {
  expect(sorted(['proj/web/site/index.html'])).toEqual({
    syncs: ['mirror sync+restart /mirror: proj/web/site/index.html', 'web sync /www: proj/web/site/index.html'],
    apply: [],
  });
});

test("a file one container's rule ignores is still synced by another's; one every rule ignores is left alone, though in a build context", () => {
  expect(sorted(['proj/web/site/notes.draft'])).toEqual({ syncs: ['mirror sync+restart /mirror: proj/web/site/notes.draft'], apply: [] });
  expect(sorted(['proj/web/site/page.swp'])).toEqual({ syncs: [], apply: [] });
});

test('a rebuild rule, the app\'s sources and the plans\' input files ask for an apply', () => {
  expect(sorted(['proj/web/src/app.js', 'proj/main.ts', 'proj/README.md', 'proj/web/Dockerfile', 'proj/web/.dockerignore', 'proj/conf/nginx.conf', 'shared/app.env', 'shared/token.txt', 'shared/db-password.txt', 'shared/site.conf'])).toEqual({
    syncs: [],
    apply: ['proj/web/src/app.js', 'proj/main.ts', 'proj/README.md', 'proj/web/Dockerfile', 'proj/web/.dockerignore', 'proj/conf/nginx.conf', 'shared/app.env', 'shared/token.txt', 'shared/db-password.txt', 'shared/site.conf'],
  });
});

test('what .dockerignore leaves out of a context, dependencies, dot-files, the plans and unrelated files ask for nothing', () => {
  expect(sorted(['proj/web/tmp/x', 'proj/web/app.log', 'proj/node_modules/x/index.js', 'proj/.git/HEAD', 'proj/.hidden', 'proj/cdk.out/shop.plan.json', 'shared/unrelated.txt'])).toEqual({ syncs: [], apply: [] });
});

test('with the plans written into the project (-o .), only the plans and the manifest are synth\'s own', () => {
  const work = sortChanges(proj, proj, plans(), [path.join(proj, 'shop.plan.json'), path.join(proj, 'manifest.json'), path.join(proj, 'main.ts')]);
  expect(work.apply.map((f) => path.relative(root, f))).toEqual(['proj/main.ts']);
});

test('without a good synth yet, every source of the app asks for an apply', () => {
  const work = sortChanges(proj, path.join(proj, 'cdk.out'), [], [path.join(proj, 'main.ts'), path.join(proj, 'web', 'tmp', 'x'), path.join(root, 'shared', 'app.env')]);
  expect(work.apply.map((f) => path.relative(root, f))).toEqual(['proj/main.ts', 'proj/web/tmp/x']);
});

test("cdk-docker.json's watch.include and watch.exclude narrow the app's sources, never the plans' inputs", () => {
  const sources = { include: ['main.ts', 'web', 'README.md'], exclude: ['**/*.md'] };
  const work = sortChanges(proj, path.join(proj, 'cdk.out'), plans(), ['proj/main.ts', 'proj/README.md', 'proj/other.ts', 'proj/web/src/app.js', 'proj/web/Dockerfile', 'proj/conf/nginx.conf', 'shared/app.env'].map((f) => path.join(root, f)), sources);
  // other.ts is not included, README.md is excluded; nginx.conf and app.env are inputs of the plan.
  expect(work.apply.map((f) => path.relative(root, f))).toEqual(['proj/main.ts', 'proj/web/src/app.js', 'proj/web/Dockerfile', 'proj/conf/nginx.conf', 'shared/app.env']);
});
