import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { CdkDockerError } from '../../lib/core/errors';
import { networkContainerOf, resolveFiles } from '../../lib/reconcile/apply';
import type { Plan } from '../../lib/plan/types';
import { defaultContainerSpec, thrown } from '../fixtures';

const sha = (b: string | Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hmac = `hmac-sha256:${'a'.repeat(64)}`;

describe('resolveFiles: what apply gives a driver for secrets and configs', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gaps-files-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('secrets first, with their exact bytes (a file\'s trailing newline kept), then configs, each with its mode and owner', () => {
    fs.writeFileSync(path.join(dir, 'pw'), Buffer.from([0x73, 0x0a, 0xff]));
    fs.writeFileSync(path.join(dir, 'app.conf'), 'port=1\n');
    const spec = defaultContainerSpec({
      secrets: [
        { secret: { source: 'env', from: 'TOKEN', hmac }, target: '/run/secrets/TOKEN', mode: 0o400, uid: 1, gid: 2 },
        { secret: { source: 'file', from: path.join(dir, 'pw'), hmac }, target: '/run/secrets/pw', mode: 0o444, uid: 0, gid: 0 },
      ],
      configs: [
        { source: 'file', file: path.join(dir, 'app.conf'), sha256: sha('port=1\n'), target: '/etc/app.conf', mode: 0o444, uid: 0, gid: 0 },
        { source: 'string', content: 'a=1', sha256: sha('a=1'), target: '/etc/a.ini', mode: 0o440, uid: 3, gid: 4 },
      ],
    });
    const files = resolveFiles(spec, { TOKEN: 't0k3n' });
    expect(files.map((f) => [f.target, f.content.toString('hex'), f.mode.toString(8), `${f.uid}:${f.gid}`, f.secret])).toEqual([
      ['/run/secrets/TOKEN', Buffer.from('t0k3n').toString('hex'), '400', '1:2', true],
      ['/run/secrets/pw', '730aff', '444', '0:0', true],
      ['/etc/app.conf', Buffer.from('port=1\n').toString('hex'), '444', '0:0', false],
      ['/etc/a.ini', Buffer.from('a=1').toString('hex'), '440', '3:4', false],
    ]);
  });

  test('a config file changed since the plan was made, a missing one, an unset variable: one line each, naming it and the fix', () => {
    const file = path.join(dir, 'app.conf');
    fs.writeFileSync(file, 'port=2\n');
    const config = defaultContainerSpec({ configs: [{ source: 'file', file, sha256: sha('port=1\n'), target: '/etc/app.conf', mode: 0o444, uid: 0, gid: 0 }] });
    const e = thrown(() => resolveFiles(config, {}));
    expect(e).toBeInstanceOf(CdkDockerError);
    expect(e.message).toBe(`config /etc/app.conf: the file ${file} is not what the plan was made from (${sha('port=2\n')}, the plan has ${sha('port=1\n')}); synth and review the plan again`);
    fs.rmSync(file);
    expect(thrown(() => resolveFiles(config, {})).message).toMatch(new RegExp(`^config /etc/app\\.conf comes from the file ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, which cannot be read \\(ENOENT[^)]*\\); restore it or synth again$`));
    const secret = defaultContainerSpec({ secrets: [{ secret: { source: 'env', from: 'NOPE', hmac }, target: '/run/secrets/NOPE', mode: 0o444, uid: 0, gid: 0 }] });
    expect(thrown(() => resolveFiles(secret, {})).message).toBe('secret /run/secrets/NOPE comes from the environment variable NOPE, which is not set; export it before apply');
  });

  test('networkContainerOf names replica 1 of the container resource whose network is shared, and refuses a plan without it', () => {
    const plan = (spec = defaultContainerSpec({ networkMode: { container: 'vpn' } })): Plan => ({
      version: 1,
      stack: 's',
      resources: { vpn: { type: 'container', path: 'vpn', name: 's-vpn', dependsOn: [], spec: defaultContainerSpec({ replicas: 2 }) }, app: { type: 'container', path: 'app', name: 's-app', dependsOn: ['vpn'], spec } },
    });
    const p = plan();
    expect(networkContainerOf(p, defaultContainerSpec({ networkMode: { container: 'vpn' } }))).toBe('s-vpn');
    expect(networkContainerOf(p, defaultContainerSpec())).toBeUndefined();
    expect(thrown(() => networkContainerOf(p, defaultContainerSpec({ networkMode: { container: 'ghost' } }))).message).toBe(
      'the plan shares the network of container resource ghost, which it does not have; synth the stack again',
    );
  });
});
