import * as fs from 'node:fs';
import * as path from 'node:path';
import { Container, Secret, Stack, Testing, secretHmac } from '../../lib';
import { renderPlan } from '../../lib/plan';
import { FILE_SECRET, FIXTURES, FIXTURE_ENV, containerSpec, fixtureApp, portable, synthProblems } from '../fixtures';
import { removeTempDirs, tempDir } from '../helpers/cli';

afterAll(removeTempDirs);

/** The plan of a stack "shop" with one container whose env holds `secret`. */
function planWith(secret: Secret, props: Parameters<typeof fixtureApp>[0] = {}) {
  const stack = new Stack(fixtureApp(props), 'shop');
  new Container(stack, 'web', { image: 'busybox', env: { PLAIN: 'visible', SECRET: secret } });
  return Testing.synth(stack);
}

describe('Secret', () => {
  test('defaults: Secret.fromEnv is a reference with an HMAC keyed by the stack', () => {
    const secret = Secret.fromEnv('DB_PASSWORD');
    expect(Secret.isSecret(secret)).toBe(true);
    expect(Secret.isSecret('DB_PASSWORD')).toBe(false);
    expect(secret.source).toBe('env');
    expect(secret.from).toBe('DB_PASSWORD');
    expect(String(secret)).toBe('Secret.fromEnv(DB_PASSWORD)');
    expect(JSON.stringify({ secret })).toBe('{"secret":"Secret.fromEnv(DB_PASSWORD)"}');

    const plan = planWith(secret);
    const spec = containerSpec(plan, 'web');
    expect(spec.env).toEqual({ PLAIN: 'visible' });
    expect(spec.secretEnv).toEqual({ SECRET: { source: 'env', from: 'DB_PASSWORD', hmac: secretHmac('shop', FIXTURE_ENV.DB_PASSWORD) } });
    expect(portable(plan)).toMatchSnapshot();
  });

  test('custom: Secret.fromFile, with the HMAC keyed by CDK_DOCKER_SECRET_KEY', () => {
    const secret = Secret.fromFile('db-password.txt');
    expect(secret.source).toBe('file');
    expect(secret.from).toBe('db-password.txt');
    expect(String(secret)).toBe('Secret.fromFile(db-password.txt)');

    const key = 'a-long-random-key-from-the-ci-vault';
    const plan = planWith(secret, { env: { ...FIXTURE_ENV, CDK_DOCKER_SECRET_KEY: key } });
    const ref = containerSpec(plan, 'web').secretEnv.SECRET;
    expect(ref).toEqual({ source: 'file', from: path.join(FIXTURES, 'db-password.txt'), hmac: secretHmac('shop', FILE_SECRET, key) });
    // The trailing newline of the file is part of the value.
    expect(ref.hmac).not.toBe(secretHmac('shop', FILE_SECRET.trimEnd(), key));
    expect(ref.hmac).not.toBe(containerSpec(planWith(secret), 'web').secretEnv.SECRET.hmac);
    expect(portable(plan)).toMatchSnapshot();
  });

  test('secret values never appear in the plan, its YAML form or the files synth writes', () => {
    const outdir = tempDir();
    const app = fixtureApp({ outdir });
    const stack = new Stack(app, 'shop');
    new Container(stack, 'web', { image: 'busybox', env: { A: Secret.fromEnv('DB_PASSWORD'), B: Secret.fromFile('db-password.txt') } });
    const assembly = app.synth();
    const texts = [
      JSON.stringify(assembly.plans),
      renderPlan(assembly.plans.shop, 'yaml'),
      ...fs.readdirSync(outdir).map((f) => fs.readFileSync(path.join(outdir, f), 'utf8')),
    ];
    expect(fs.readdirSync(outdir).sort()).toEqual(['manifest.json', 'shop.plan.json']);
    // The plans name where the secrets come from ...
    for (const text of [texts[0], texts[1], fs.readFileSync(path.join(outdir, 'shop.plan.json'), 'utf8')]) {
      expect(text).toMatch(/"?from"?: ?"?DB_PASSWORD/);
    }
    // ... and hold no value.
    for (const text of texts) {
      expect(text).not.toContain(FIXTURE_ENV.DB_PASSWORD);
      expect(text).not.toContain(FILE_SECRET.trim());
    }
  });

  test('the HMAC is stable for the same value and changes with the value', () => {
    const hmacOfEnv = (value: string) => containerSpec(planWith(Secret.fromEnv('TOKEN'), { env: { TOKEN: value } }), 'web').secretEnv.SECRET.hmac;
    expect(hmacOfEnv('one')).toBe(hmacOfEnv('one'));
    expect(hmacOfEnv('one')).not.toBe(hmacOfEnv('two'));

    const dir = tempDir();
    const file = path.join(dir, 'token');
    const hmacOfFile = () => containerSpec(planWith(Secret.fromFile('token'), { baseDir: dir }), 'web').secretEnv.SECRET.hmac;
    fs.writeFileSync(file, 'first');
    const first = hmacOfFile();
    expect(hmacOfFile()).toBe(first);
    fs.writeFileSync(file, 'second');
    expect(hmacOfFile()).not.toBe(first);
    fs.writeFileSync(file, 'first');
    expect(hmacOfFile()).toBe(first);
    // The same value from a file or from the environment diffs alike.
    expect(first).toBe(hmacOfEnv('first'));
  });

  test('a secret that cannot be read is reported at synth without its value', () => {
    const stack = new Stack(fixtureApp(), 'shop');
    new Container(stack, 'web', { image: 'busybox', env: { A: Secret.fromEnv('NOT_SET'), B: Secret.fromFile('missing.txt') } });
    expect(synthProblems(stack)).toEqual([
      '[shop/web] Secret.fromEnv(NOT_SET): environment variable NOT_SET is not set; export it before running cdk-docker',
      `[shop/web] Secret.fromFile(missing.txt): ${path.join(FIXTURES, 'missing.txt')} cannot be read (ENOENT); create it or fix the path`,
    ]);
  });
});
