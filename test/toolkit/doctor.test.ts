import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { doctor, renderDoctor } from '../../lib/toolkit/doctor';
import { tempDir } from '../helpers/cli';

/** The toolkit's doctor called directly with an options object (no CLI). */
let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function collector(): PassThrough & { text(): string } {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d) => (text += d));
  return Object.assign(s, { text: () => text });
}

test('doctor returns the checks and whether every required component is there', async () => {
  const r = await doctor({ stateRoot: path.join(dir, 'root') });
  expect(r.ok).toBe(true);
  expect(r.checks.find((c) => c.name === 'runc')).toMatchObject({ status: 'ok' });
  expect(renderDoctor(r.checks)).toContain('Everything the built-in runtime needs is in place.');
});

test('a missing package makes ok false, and fix refuses to run apt-get when not root', async () => {
  const empty = path.join(dir, 'helpers');
  fs.mkdirSync(empty);
  const env = { ...process.env, CDK_DOCKER_HELPER_DIRS: empty };
  const r = await doctor({ env, stateRoot: path.join(dir, 'root') });
  expect(r.ok).toBe(false);
  expect(r.checks.filter((c) => c.status === 'missing').map((c) => c.name)).toEqual(['netavark', 'aardvark-dns']);
  const log = collector();
  await expect(doctor({ env, stateRoot: path.join(dir, 'root'), uid: 1000, fix: true, log })).rejects.toThrow(
    '--fix installs packages with apt-get and must run as root; run `sudo cdk-docker doctor --fix` or `apt-get install -y aardvark-dns netavark`',
  );
  expect(log.text()).toBe(''); // nothing was run
});

test('fix says so when nothing it can install is missing, and checks again', async () => {
  const log = collector();
  const r = await doctor({ stateRoot: path.join(dir, 'root'), uid: 1000, fix: true, log });
  expect(log.text()).toBe('Nothing that --fix can install.\n');
  expect(r.ok).toBe(false);
  expect(r.checks.find((c) => c.name === 'root')).toMatchObject({ status: 'missing', detail: 'running as uid 1000' });
});
