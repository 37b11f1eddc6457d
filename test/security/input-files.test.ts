import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_FILE_INPUT_BYTES } from '../../lib/core/input-file';
import { ROOT, tempDir } from '../helpers/cli';
import { requireCommand } from '../helpers/prereq';
import { World, makeWorld } from './canary';
import { messageProblems } from './checks';

/**
 * Files a stack names as inputs — secret and config files, env files, bind-mounted files — as a
 * hostile compose file or checkout names them (`import compose` writes what the file says): a
 * FIFO (reading it blocked synth for ever), a device (/dev/zero never ends), a file too big to
 * hold. Synth and apply refuse each in one line naming the file, promptly; they never hang.
 */
let dir: string;
let world: World;
beforeAll(() => {
  requireCommand('mkfifo', 'coreutils');
  dir = tempDir('cdk-docker-harden-inputs-');
  world = makeWorld('cdk-docker-harden-inputs-w-');
  execFileSync('mkfifo', [path.join(dir, 'fifo')]);
  // Sparse: one byte more than a secret may have, and no disk used.
  fs.closeSync(fs.openSync(path.join(dir, 'huge'), 'w'));
  fs.truncateSync(path.join(dir, 'huge'), MAX_FILE_INPUT_BYTES + 1);
  fs.writeFileSync(path.join(dir, 'ok'), 'fine\n');
  fs.mkdirSync(path.join(dir, 'adir'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  world?.dispose();
});

/**
 * Synthesizes one container with `props` (TypeScript of the props, relative paths against `dir`)
 * in a child process, as `cdk-docker synth` runs an app: a read that blocks the event loop (the
 * FIFO, before the fix) is a finding, not a stuck test run. Returns the error's message, or ''.
 */
function synthError(props: string, before = ''): string {
  const lib = JSON.stringify(path.join(ROOT, 'dist', 'lib'));
  const script = `const cdk = require(${lib});
try {
  const app = cdk.Testing.app({ baseDir: ${JSON.stringify(dir)}, env: {} });
  const stack = new cdk.Stack(app, 'harden-inputs');
  ${before}
  new cdk.Container(stack, 'c', { image: 'busybox', ...${props} });
  cdk.Testing.synth(stack);
} catch (e) {
  process.stdout.write(JSON.stringify({ name: e.constructor.name, cdk: e instanceof cdk.CdkDockerError, message: e.message }));
}`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 15_000, maxBuffer: 1 << 20 });
  if (r.error || r.signal) throw new Error(`synth did not finish within 15 s (${r.signal ?? r.error?.message}): it hung or ran out of memory`);
  if (r.stdout === '') return '';
  const out = JSON.parse(r.stdout) as { name: string; cdk: boolean; message: string };
  if (!out.cdk) throw new Error(`synth failed with ${out.name}, not a CdkDockerError: ${out.message}`);
  return out.message;
}

function expectRefused(message: string, pattern: RegExp): void {
  expect(messageProblems(message, world, true)).toEqual([]);
  expect(message).toMatch(pattern);
}

test.each([
  ['a FIFO secret', "{ secrets: [cdk.Secret.fromFile('fifo')] }", /secret file .*fifo is a FIFO, not a regular file; give the path of a file/],
  ['a device secret', "{ secrets: [cdk.Secret.fromFile('/dev/zero')] }", /secret file \/dev\/zero is a device, not a regular file/],
  ['a directory secret', "{ secrets: [cdk.Secret.fromFile('adir')] }", /secret file .* is a directory, not a regular file/],
  ['a secret too big to hold', "{ secrets: [cdk.Secret.fromFile('huge')] }", new RegExp(`secret file .*huge is ${MAX_FILE_INPUT_BYTES + 1} bytes, more than the ${MAX_FILE_INPUT_BYTES} a secret file may have`)],
  ['a FIFO config file', "{ configs: [{ config: cdk.Config.fromFile('fifo'), target: '/etc/x' }] }", /config file for \/etc\/x, .*fifo is a FIFO, not a regular file/],
  ['a device env file', "{ envFiles: ['/dev/zero'] }", /env file \/dev\/zero is a device, not a regular file/],
  ['a FIFO env file', "{ envFiles: ['fifo'] }", /env file .*fifo is a FIFO, not a regular file/],
  ['a FIFO secret env value', "{ env: { PW: cdk.Secret.fromFile('fifo') } }", /is a FIFO, not a regular file/],
])('synth refuses %s in one line, without hanging', (_what, props, pattern) => {
  expectRefused(synthError(props), pattern);
});

test.each([
  ['/dev/zero', /Dockerfile \/dev\/zero is a device, not a regular file/],
  ['fifo', /Dockerfile .*fifo is a FIFO, not a regular file/],
])('synth refuses a Dockerfile that is %s (outside the context) in one line, without hanging', (dockerfile, pattern) => {
  fs.mkdirSync(path.join(dir, 'ctx'), { recursive: true });
  const df = dockerfile.startsWith('/') ? dockerfile : path.join(dir, dockerfile);
  expectRefused(synthError('{ image: img }', `const img = cdk.Image.fromBuild(stack, 'i', 'ctx', { dockerfile: ${JSON.stringify(df)} });`), pattern);
});

test('regular files are still read (env file, secret)', () => {
  expect(synthError("{ envFiles: ['ok'], secrets: [cdk.Secret.fromFile('ok')] }")).toBe('');
});

test('apply refuses a secret or config file that became a FIFO or a device since synth, without hanging', () => {
  const apply = JSON.stringify(path.join(ROOT, 'dist', 'lib', 'reconcile', 'apply'));
  const base = { secrets: [], configs: [], env: {}, secretEnv: {}, envFiles: [] };
  const cases: Array<[string, object, RegExp]> = [
    ['resolveFiles', { ...base, secrets: [{ secret: { source: 'file', from: path.join(dir, 'fifo'), hmac: 'x' }, target: '/run/secrets/pw', mode: 0o444, uid: 0, gid: 0 }] }, /secret \/run\/secrets\/pw: secret file .*fifo is a FIFO/],
    ['resolveFiles', { ...base, configs: [{ source: 'file', file: '/dev/zero', sha256: 'sha256:x', target: '/etc/x', mode: 0o444, uid: 0, gid: 0 }] }, /config \/etc\/x: config file \/dev\/zero is a device/],
    ['resolveEnv', { ...base, secretEnv: { PW: { source: 'file', from: path.join(dir, 'fifo'), hmac: 'x' } } }, /secret PW: secret file .*fifo is a FIFO/],
  ];
  for (const [fn, spec, pattern] of cases) {
    const script = `const a = require(${apply}); const { CdkDockerError } = require(${JSON.stringify(path.join(ROOT, 'dist', 'lib'))});
try { a.${fn}(${JSON.stringify(spec)}, {}); } catch (e) { process.stdout.write(JSON.stringify({ cdk: e instanceof CdkDockerError, message: e.message })); }`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 15_000 });
    if (r.error || r.signal) throw new Error(`${fn} did not finish within 15 s (${r.signal ?? r.error?.message})`);
    const out = JSON.parse(r.stdout || '{"cdk":false,"message":"accepted"}') as { cdk: boolean; message: string };
    expect(out.cdk).toBe(true);
    expectRefused(out.message, pattern);
  }
});
