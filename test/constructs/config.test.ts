import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Config, Container, Secret, Testing } from '../../lib';
import { containerSpec, fixtureApp, invalidArgument, resourceAt, shop } from '../fixtures';
import { Stack } from '../../lib';
import { managedLabels, specHash } from '../../lib/reconcile';
import { EXTRA_LABELS } from '../../lib/reconcile/hash';

describe('Config', () => {
  test('defaults: fromFile and fromString say where the content comes from', () => {
    const file = Config.fromFile('nginx.conf');
    const text = Config.fromString('a=1\n');
    expect([file.source, file.path, file.text]).toEqual(['file', 'nginx.conf', undefined]);
    expect([text.source, text.path, text.text]).toEqual(['string', undefined, 'a=1\n']);
    expect(Config.isConfig(file)).toBe(true);
    expect(Config.isConfig({ source: 'file' })).toBe(false);
    expect(`${file} ${text}`).toBe('Config.fromFile(nginx.conf) Config.fromString(4 bytes)');
  });

  test('a bad path or a text too large for a plan is refused at once', () => {
    expect(invalidArgument(() => Config.fromFile(''))).toBe('Config.fromFile(""): give the path of a file, relative to the app\'s directory');
    expect(invalidArgument(() => Config.fromString('x'.repeat(1024 * 1024 + 1)))).toBe(
      'Config.fromString(): the text is 1048577 bytes, more than 1048576 (1 MiB); put it in a file and use Config.fromFile()',
    );
    expect(invalidArgument(() => Config.fromString(42 as unknown as string))).toBe('Config.fromString() takes a string, got number; convert it with String() or JSON.stringify()');
  });
});

describe('secret and config files in the spec hash', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gaps-config-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The web container's hash and inputs label with the config and secret files in `dir`. */
  function render(configFile: string, secretFile: string, mode?: number): { hash: string; inputs: string; target: string } {
    const stack = new Stack(fixtureApp({ baseDir: dir }), 'shop');
    new Container(stack, 'web', {
      image: 'busybox',
      configs: [{ config: Config.fromFile(configFile), target: '/etc/app.conf', mode }],
      secrets: [{ secret: Secret.fromFile(secretFile), target: 'pw' }],
    });
    const plan = Testing.synth(stack);
    const web = resourceAt(plan, 'web', 'container');
    return { hash: specHash(web, plan), inputs: managedLabels(plan, web.logicalId)[EXTRA_LABELS.inputs], target: containerSpec(plan, 'web').secrets![0].target };
  }

  test('a config is hashed by its content, a secret by its HMAC: not by where they are read from', () => {
    fs.writeFileSync(path.join(dir, 'a.conf'), 'listen 80\n');
    fs.writeFileSync(path.join(dir, 'b.conf'), 'listen 80\n');
    fs.writeFileSync(path.join(dir, 'pw1'), 's3cret');
    fs.writeFileSync(path.join(dir, 'pw2'), 's3cret');
    const a = render('a.conf', 'pw1');
    expect(a.target).toBe('/run/secrets/pw');
    expect(render('b.conf', 'pw2').hash).toBe(a.hash);
    // What the inputs label says: content digests, modes and owners, never a value.
    expect(a.inputs).not.toContain('s3cret');
    expect(JSON.parse(a.inputs).mounted).toEqual({
      '/etc/app.conf': expect.stringMatching(/^sha256:[a-f0-9]{64} 0444 0:0$/),
      '/run/secrets/pw': expect.stringMatching(/^hmac-sha256:[a-f0-9]{64} 0444 0:0$/),
    });

    fs.writeFileSync(path.join(dir, 'b.conf'), 'listen 8080\n');
    expect(render('b.conf', 'pw1').hash).not.toBe(a.hash);
    fs.writeFileSync(path.join(dir, 'pw2'), 'other');
    expect(render('a.conf', 'pw2').hash).not.toBe(a.hash);
    expect(render('a.conf', 'pw1', 0o400).hash).not.toBe(a.hash);
  });

  test('a plan without them hashes as before they existed', () => {
    const plan = Testing.synth(shop({ sample: { db: {} } }));
    const db = resourceAt(plan, 'db', 'container');
    expect(JSON.parse(managedLabels(plan, db.logicalId)[EXTRA_LABELS.inputs])).not.toHaveProperty('mounted');
  });
});
