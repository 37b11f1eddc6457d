import * as fs from 'node:fs';
import * as path from 'node:path';
import { Construct } from 'constructs';
import { App, Container, Image, Network, Restart, Secret, Stack, Testing, Volume } from '../../lib';
import { Plan, renderPlan, writeAssembly } from '../../lib/plan';
import { canonicalJson } from '../../lib/core/canonical';
import { fixtureApp, resourceAt } from '../fixtures';
import { removeTempDirs, tempDir } from '../helpers/cli';

afterAll(removeTempDirs);

/** A stack that uses every kind of input: built image, archive, files, secrets, references. */
function build(app: App): Stack {
  const stack = new Stack(app, 'shop');
  const net = new Network(stack, 'net', { subnet: '10.5.0.0/16', labels: { z: '1', a: '2' } });
  const data = new Volume(stack, 'data', { driverOpts: { o: 'x', device: 'y' } });
  const db = new Container(stack, 'db', {
    image: 'postgres:16',
    env: { POSTGRES_PASSWORD: Secret.fromEnv('DB_PASSWORD'), PGDATA: '/data', LANG: 'C' },
    mounts: [{ type: 'volume', source: data, target: '/data' }],
    networks: [{ network: net, aliases: ['postgres', 'database'] }],
    healthcheck: { test: 'pg_isready', interval: '5s' },
  });
  const site = new Image(stack, 'site', { build: { context: 'web', buildArgs: { B: '2', A: '1' } } });
  new Image(stack, 'base', { archive: 'image.tar' });
  new Container(stack, 'web', {
    image: site,
    ports: ['127.0.0.1:8080:80', '443'],
    envFiles: ['app.env'],
    env: { TOKEN: Secret.fromFile('db-password.txt') },
    mounts: [{ type: 'bind', source: 'nginx.conf', target: '/etc/nginx/nginx.conf', readOnly: true }],
    networks: [net],
    dependsOn: [{ container: db, condition: 'healthy' }],
    restart: Restart.UNLESS_STOPPED,
    capAdd: ['SYS_TIME', 'NET_ADMIN'],
    labels: { 'z.last': '1', 'a.first': '2' },
  });
  return stack;
}

/** Every file in `dir`, by name. */
function files(dir: string): Record<string, Buffer> {
  return Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

describe('determinism', () => {
  test('synth twice from the same input writes byte-identical files', () => {
    const [one, two] = [tempDir(), tempDir()];
    const a = fixtureApp({ outdir: one });
    build(a);
    a.synth();
    const b = fixtureApp({ outdir: two });
    build(b);
    b.synth();
    const first = files(one);
    expect(Object.keys(first)).toEqual(['manifest.json', 'shop.plan.json']);
    expect(files(two)).toEqual(first);
    // The same App synthesized again changes nothing either.
    a.synth();
    expect(files(one)).toEqual(first);
  });

  test('the plan file is canonical: sorted keys at every level, 2-space indent, a final newline', () => {
    const outdir = tempDir();
    const app = fixtureApp({ outdir });
    build(app);
    app.synth();
    const text = fs.readFileSync(path.join(outdir, 'shop.plan.json'), 'utf8');
    expect(text).toBe(`${canonicalJson(JSON.parse(text), 2)}\n`);
    expect(text).toBe(renderPlan(JSON.parse(text) as Plan));
    expect(text).not.toContain('undefined');
    expect(text).not.toContain('null');
    // A sanity check that the comparison above can fail: the same data with keys in another order.
    const reordered = JSON.stringify({ version: 1, stack: 'shop', resources: JSON.parse(text).resources }, undefined, 2) + '\n';
    expect(reordered).not.toBe(text);
  });

  test('the YAML form is deterministic too', () => {
    const [one, two] = [tempDir(), tempDir()];
    for (const dir of [one, two]) writeAssembly(dir, [Testing.synth(build(fixtureApp()))], ['json', 'yaml']);
    expect(files(two)).toEqual(files(one));
    expect(Object.keys(files(one))).toEqual(['manifest.json', 'shop.plan.json', 'shop.plan.yaml']);
  });

  test('the order constructs are created and mutators are called in does not change the plan', () => {
    const forward = (() => {
      const stack = new Stack(fixtureApp(), 'shop');
      const a = new Network(stack, 'a');
      const b = new Network(stack, 'b');
      const v = new Volume(stack, 'v');
      const db = new Container(stack, 'db', { image: 'postgres:16', healthcheck: { test: 'true' } });
      const cache = new Container(stack, 'cache', { image: 'redis:7' });
      const web = new Container(stack, 'web', { image: 'nginx', env: { A: '1', B: '2' }, labels: { x: '1', y: '2' }, capAdd: ['NET_ADMIN', 'SYS_TIME'] });
      web.addPort('8080:80');
      web.addPort('53/udp');
      web.connect(a, { aliases: ['one', 'two'] });
      web.connect(b);
      web.addDependency({ container: db, condition: 'healthy' });
      web.addDependency(cache);
      web.addMount({ type: 'volume', source: v, target: '/v' });
      return Testing.synth(stack);
    })();
    const backward = (() => {
      const stack = new Stack(fixtureApp(), 'shop');
      const cache = new Container(stack, 'cache', { image: 'redis:7' });
      const web = new Container(stack, 'web', { image: 'nginx', labels: { y: '2', x: '1' }, env: { B: '2', A: '1' }, capAdd: ['SYS_TIME', 'NET_ADMIN'] });
      const v = new Volume(stack, 'v');
      const db = new Container(stack, 'db', { image: 'postgres:16', healthcheck: { test: 'true' } });
      const b = new Network(stack, 'b');
      const a = new Network(stack, 'a');
      web.addMount({ type: 'volume', source: v, target: '/v' });
      web.addDependency(cache);
      web.addDependency({ container: db, condition: 'healthy' });
      web.connect(b);
      web.connect(a, { aliases: ['two', 'one'] });
      web.addPort('53/udp');
      web.addPort('8080:80');
      return Testing.synth(stack);
    })();
    expect(renderPlan(backward)).toBe(renderPlan(forward));
  });

  test('where order means something, it is kept: command, entrypoint, env files, mounts', () => {
    const plan = (reverse: boolean) => {
      const stack = new Stack(fixtureApp(), 'shop');
      const r = <T>(xs: T[]) => (reverse ? [...xs].reverse() : xs);
      new Container(stack, 'web', {
        image: 'nginx',
        command: r(['a', 'b']),
        entrypoint: r(['x', 'y']),
        envFiles: r(['app.env', 'nginx.conf']),
        mounts: r([
          { type: 'bind' as const, source: 'site', target: '/www' },
          { type: 'tmpfs' as const, target: '/www/tmp' },
        ]),
      });
      return resourceAt(Testing.synth(stack), 'web', 'container').spec;
    };
    const [fwd, rev] = [plan(false), plan(true)];
    expect(fwd.command).toEqual(['a', 'b']);
    expect(rev.command).toEqual(['b', 'a']);
    expect(rev.entrypoint).toEqual(['y', 'x']);
    expect(rev.envFiles.map((f) => path.basename(f.path))).toEqual(['nginx.conf', 'app.env']);
    expect(rev.mounts.map((m) => m.target)).toEqual(['/www/tmp', '/www']);
  });

  test('logical ids depend on the construct path only: adding, removing and reordering others keeps them', () => {
    const before = (() => {
      const stack = new Stack(fixtureApp(), 'shop');
      new Network(stack, 'net');
      new Volume(stack, 'data');
      new Container(stack, 'db', { image: 'postgres:16' });
      new Container(stack, 'web', { image: 'nginx', ports: ['80:80'] });
      return Testing.synth(stack);
    })();
    const after = (() => {
      const stack = new Stack(fixtureApp(), 'renamed-stack');
      new Container(stack, 'web', { image: 'nginx', ports: ['80:80'], name: 'shop-web' });
      new Container(stack, 'cache', { image: 'redis:7' });
      new Construct(stack, 'group');
      new Network(stack, 'other');
      new Network(stack, 'net', { name: 'shop-net' });
      // db and data are gone.
      return Testing.synth(stack);
    })();
    const ids = (p: Plan) => Object.fromEntries(Object.entries(p.resources).map(([id, r]) => [r.path, id]));
    const [b, a] = [ids(before), ids(after)];
    for (const kept of ['web', 'net', 'image-nginx-latest']) expect(a[kept]).toBe(b[kept]);
    expect(Object.keys(a).sort()).toEqual(['cache', 'image-nginx-latest', 'image-redis-7', 'net', 'other', 'web']);
    // Same path, same id, same resource: the plans agree on everything the two stacks share.
    for (const kept of ['web', 'net', 'image-nginx-latest']) expect(after.resources[a[kept]]).toEqual(before.resources[b[kept]]);
    // A construct moved to another path is another resource.
    const moved = new Stack(fixtureApp(), 'shop');
    const web = new Container(new Construct(moved, 'frontend'), 'web', { image: 'nginx' });
    expect(moved.getLogicalId(web)).not.toBe(b.web);
    expect(moved.getLogicalId(web)).toMatch(/^FrontendWeb[0-9A-F]{8}$/);
  });

  test('logical ids are readable and distinct even when paths read alike', () => {
    const stack = new Stack(fixtureApp(), 'shop');
    const a = new Container(stack, 'web-1', { image: 'nginx' });
    const b = new Container(stack, 'web1', { image: 'nginx' });
    const c = new Container(new Construct(stack, 'web'), '1', { image: 'nginx' });
    const ids = [a, b, c].map((x) => stack.getLogicalId(x));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^Web1[0-9A-F]{8}$/);
    expect(stack.getLogicalId(new Container(stack, '9lives', { image: 'nginx' }))).toMatch(/^R9lives[0-9A-F]{8}$/);
  });

  test('plans do not depend on the clock or the process: no timestamps, no random ids', async () => {
    const first = renderPlan(Testing.synth(build(fixtureApp())));
    await new Promise((r) => setTimeout(r, 20));
    const second = renderPlan(Testing.synth(build(fixtureApp())));
    expect(second).toBe(first);
    expect(first).not.toMatch(/20\d\d-\d\d-\d\dT/);
  });
});
