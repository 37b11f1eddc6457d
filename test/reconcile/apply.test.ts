import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { canonicalJson, hmacSha256 } from '../../lib/core/canonical';
import { driverFor } from '../../lib/drivers';
import { CLI, CliResult, ROOT, cdkDocker, ok, tempDir, until, writeJsApp } from '../helpers/cli';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';

jest.setTimeout(120_000);

/**
 * `cdk-docker diff / apply / destroy` end to end on the built-in runtime (real runc, conmon,
 * netavark), with a private state root: the examples are applied, re-diffed (no changes) and
 * destroyed; a JS app goes through each kind of change.
 */
let work: string;
let env: NodeJS.ProcessEnv;
const ARCHIVE = BASE_ARCHIVE;
const cli = (dir: string, args: string[]): CliResult => cdkDocker(args, dir, env);
const rt = (args: string[]): CliResult => cdkDocker(['runtime', ...args], work, env);

function get(port: number, p = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, timeout: 2_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

let world: StackWorld;
beforeAll(() => {
  world = stackWorld('cdk-docker-apply-', 160);
  ({ work, env } = world);
});

afterAll(async () => {
  expect(await tearDownWorld(world)).toEqual([]);
});

describe.each([
  ['static-site', 8080, '/', /<html|<h1|static/i],
  ['two-tier', 8081, '/', /hello from the db volume/],
])('example %s', (name, port, urlPath, body) => {
  const dir = path.join(ROOT, 'examples', name);
  test('applies, serves, plans no changes, and is destroyed', async () => {
    const applied = cli(dir, ['apply', '--auto-approve']);
    expect(applied.stderr).not.toMatch(/Error/);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/Apply complete! Resources: \d+ added, 0 changed, 0 replaced, 0 destroyed\./);
    await until(`${name} to answer`, async () => body.test(await get(port, urlPath)), 20_000);
    const again = cli(dir, ['diff', '--detailed-exitcode']);
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toContain('No changes');
    expect(ok(cli(dir, ['apply', '--auto-approve']))).toContain('No changes');
    const destroyed = ok(cli(dir, ['destroy', '--auto-approve']));
    expect(destroyed).toContain('Destroy complete!');
    expect(rt(['ps', '-aq', '--filter', `label=io.cdk-docker.stack=${name}`]).stdout).toBe('');
    await expect(get(port, urlPath)).rejects.toThrow();
  });
});

test('example backup: the archive of the other container\'s volume lands in the host directory; re-apply does not rerun it', () => {
  const dir = path.join(ROOT, 'examples', 'backup');
  const archive = path.join(dir, 'backups', 'notes.tgz');
  fs.rmSync(archive, { force: true });
  try {
    ok(cli(dir, ['apply', '--auto-approve']));
    const deadline = Date.now() + 20_000;
    while (!fs.existsSync(archive) && Date.now() < deadline) execFileSync('sleep', ['0.2']);
    expect(execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' })).toContain('./todo.txt');
    const again = cli(dir, ['diff', '--detailed-exitcode']);
    expect(again.stdout).toContain('No changes');
    expect(again.code).toBe(0);
    ok(cli(dir, ['destroy', '--auto-approve', '--volumes']));
    expect(rt(['volume', 'ls', '-q', '--filter', 'label=io.cdk-docker.stack=backup']).stdout).toBe('');
  } finally {
    fs.rmSync(archive, { force: true });
  }
});

describe('build images', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('cdk-docker-builds-');
    ok(rt(['load', '-i', ARCHIVE]));
    fs.mkdirSync(path.join(dir, 'app'));
    fs.writeFileSync(path.join(dir, 'app', 'Dockerfile'), 'FROM busybox:examples\nARG FLAVOUR=plain\nRUN echo "$FLAVOUR" > /flavour\nCOPY message.txt /message.txt\nCMD ["sleep", "100000"]\n');
    fs.writeFileSync(path.join(dir, 'app', 'message.txt'), 'first\n');
    fs.writeFileSync(path.join(dir, 'app', 'notes.md'), 'not part of the image\n');
    fs.writeFileSync(path.join(dir, 'app', '.dockerignore'), 'notes.md\n');
    writeJsApp(
      dir,
      `const app = new cdk.App();
const stack = new cdk.Stack(app, 'builds');
const img = new cdk.Image(stack, 'app', { build: { context: 'app', buildArgs: { FLAVOUR: 'vanilla' } }, tag: 'builds-app:dev' });
new cdk.Container(stack, 'web', { image: img });
app.synth();`,
    );
  });
  afterAll(() => {
    cli(dir, ['destroy', '--auto-approve']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('apply builds the image and runs it; an unchanged context skips the build; a changed file rebuilds and replaces the container', () => {
    const first = ok(cli(dir, ['apply', '--auto-approve']));
    expect(first).toMatch(/Apply complete! Resources: 2 added, 0 changed, 0 replaced, 0 destroyed\./);
    const id = ok(rt(['inspect', '-f', '{{.Id}}', 'builds-web'])).trim();
    const imageId = ok(rt(['inspect', '-f', '{{.Image}}', 'builds-web'])).trim();
    expect(ok(rt(['inspect', '-f', '{{.Id}}', 'builds-app:dev'])).trim()).toBe(imageId);
    expect(ok(rt(['exec', 'builds-web', 'cat', '/flavour', '/message.txt']))).toBe('vanilla\nfirst\n');
    // The image carries the hashes apply compares, not the stack's identity.
    const labels = JSON.parse(ok(rt(['inspect', '-f', '{{json .Config.Labels}}', 'builds-app:dev']))) as { [k: string]: string };
    expect(Object.keys(labels).sort()).toEqual(['io.cdk-docker.context-hash', 'io.cdk-docker.spec-hash']);

    // Nothing changed, or only an ignored file: no build, no change.
    fs.writeFileSync(path.join(dir, 'app', 'notes.md'), 'edited\n');
    const again = cli(dir, ['diff', '--detailed-exitcode']);
    expect(again).toMatchObject({ code: 0 });
    const noop = ok(cli(dir, ['apply', '--auto-approve']));
    expect(noop).toContain('No changes');
    expect(noop).not.toMatch(/Step \d/);

    // A file of the context changed: the image is rebuilt and the container replaced.
    fs.writeFileSync(path.join(dir, 'app', 'message.txt'), 'second\n');
    const plan = cli(dir, ['diff', '--detailed-exitcode']);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/~ image app \(docker\.io\/library\/builds-app:dev\)\n {6}contextHash: /);
    expect(plan.stdout).toMatch(/-\/\+ container web \(builds-web\)\n {6}image: sha256:[0-9a-f]{12} → \(known after apply\) \(forces replacement\)/);
    ok(cli(dir, ['apply', '--auto-approve']));
    expect(ok(rt(['inspect', '-f', '{{.Id}}', 'builds-web'])).trim()).not.toBe(id);
    expect(ok(rt(['inspect', '-f', '{{.Image}}', 'builds-web'])).trim()).not.toBe(imageId);
    expect(ok(rt(['exec', 'builds-web', 'cat', '/flavour', '/message.txt']))).toBe('vanilla\nsecond\n');
    expect(cli(dir, ['diff', '--detailed-exitcode']).code).toBe(0);
  });
});

test('apply stops at once while another holds the stack\'s lock (the driver\'s), naming the holder; once it is free, apply runs', async () => {
  const dir = tempDir('cdk-docker-locked-');
  try {
    writeJsApp(
      dir,
      `const app = new cdk.App();
const stack = new cdk.Stack(app, 'locked');
const img = new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(ARCHIVE)}, tag: 'busybox:examples' });
new cdk.Container(stack, 'svc', { image: img, command: ['sleep', '100000'] });
app.synth();`,
    );
    // Not spawnSync: the holder's event loop keeps its lock fresh while the CLI runs.
    const cliAsync = (args: string[]) =>
      new Promise<CliResult>((resolve) =>
        execFile(CLI, args, { cwd: dir, env: { ...process.env, NO_COLOR: '1', ...env }, encoding: 'utf8' }, (e, stdout, stderr) => resolve({ code: e ? Number(e.code ?? 1) : 0, stdout, stderr })),
      );
    const refused = await driverFor('builtin', env).lockStack('locked', () => cliAsync(['apply', '--auto-approve']));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`stack locked is being applied by another cdk-docker command (pid ${process.pid} on `);
    expect(rt(['ps', '-aq', '--filter', 'label=io.cdk-docker.stack=locked']).stdout).toBe('');
    expect(ok(cli(dir, ['apply', '--auto-approve']))).toMatch(/Apply complete!/);
    ok(cli(dir, ['destroy', '--auto-approve']));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('changes', () => {
  let dir: string;
  const write = (opts: { greeting: string; restart: string; extra?: boolean; aliases?: string[] }) =>
    writeJsApp(
      dir,
      `const app = new cdk.App();
const stack = new cdk.Stack(app, 'changes');
const img = new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(ARCHIVE)}, tag: 'busybox:examples' });
const net = new cdk.Network(stack, 'net');
new cdk.Container(stack, 'svc', { image: img, command: ['sleep', '100000'], env: { GREETING: ${JSON.stringify(opts.greeting)} }, networks: [${opts.aliases ? `{ network: net, aliases: ${JSON.stringify(opts.aliases)} }` : 'net'}], restart: ${JSON.stringify(opts.restart)} });
${opts.extra ? `new cdk.Container(stack, 'peer', { image: img, command: ['sh', '-c', 'exec sleep 100000'], networks: [net] });` : ''}
app.synth();`,
    );
  beforeAll(() => {
    dir = tempDir('cdk-docker-changes-');
  });
  afterAll(() => {
    cli(dir, ['destroy', '--auto-approve']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('create, no-op, update in place, replace, delete, each with the field and the reason', async () => {
    write({ greeting: 'hello', restart: 'no', extra: true });
    const plan = cli(dir, ['diff', '--detailed-exitcode']);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/\+ .*svc/);
    ok(cli(dir, ['apply', '--auto-approve']));
    const id = ok(rt(['ps', '-q', '--no-trunc', '--filter', 'name=changes-svc'])).trim();
    // The containers reach each other by construct id on their network.
    expect(rt(['exec', 'changes-peer', 'sh', '-c', 'ping -c1 -W2 svc >/dev/null && echo reached']).stdout).toBe('reached\n');

    write({ greeting: 'hello', restart: 'always', extra: true });
    const update = cli(dir, ['diff', '--detailed-exitcode']);
    expect(update.code).toBe(2);
    expect(update.stdout).toMatch(/~ .*svc/);
    expect(update.stdout).toMatch(/restart/);
    ok(cli(dir, ['apply', '--auto-approve']));
    expect(ok(rt(['ps', '-q', '--no-trunc', '--filter', 'name=changes-svc'])).trim()).toBe(id);
    expect(ok(rt(['inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}', 'changes-svc'])).trim()).toBe('always');

    write({ greeting: 'bonjour', restart: 'always', extra: false });
    const replace = cli(dir, ['diff', '--detailed-exitcode']);
    expect(replace.code).toBe(2);
    expect(replace.stdout).toMatch(/env\.GREETING/);
    expect(replace.stdout).toMatch(/replace/i);
    expect(replace.stdout).toMatch(/- .*peer/);
    ok(cli(dir, ['apply', '--auto-approve']));
    expect(ok(rt(['ps', '-q', '--no-trunc', '--filter', 'name=changes-svc'])).trim()).not.toBe(id);
    expect(ok(rt(['exec', 'changes-svc', 'sh', '-c', 'echo $GREETING']))).toBe('bonjour\n');
    expect(rt(['ps', '-aq', '--filter', 'name=changes-peer']).stdout).toBe('');
    expect(cli(dir, ['diff', '--detailed-exitcode']).code).toBe(0);
  });

  test('a changed alias on a network the container stays on replaces it (as Compose), and the next diff is empty', () => {
    write({ greeting: 'bonjour', restart: 'always', extra: true, aliases: ['api'] });
    ok(cli(dir, ['apply', '--auto-approve']));
    const id = ok(rt(['ps', '-q', '--no-trunc', '--filter', 'name=changes-svc'])).trim();
    write({ greeting: 'bonjour', restart: 'always', extra: true, aliases: ['backend'] });
    const change = cli(dir, ['diff', '--detailed-exitcode']);
    expect(change.code).toBe(2);
    expect(change.stdout).toMatch(/aliases/);
    expect(change.stdout).toMatch(/replace/i);
    ok(cli(dir, ['apply', '--auto-approve']));
    expect(ok(rt(['ps', '-q', '--no-trunc', '--filter', 'name=changes-svc'])).trim()).not.toBe(id);
    expect(rt(['exec', 'changes-peer', 'sh', '-c', 'ping -c1 -W2 backend >/dev/null && echo reached']).stdout).toBe('reached\n');
    expect(rt(['exec', 'changes-peer', 'sh', '-c', 'ping -c1 -W2 api >/dev/null 2>&1 || echo gone']).stdout).toBe('gone\n');
    expect(cli(dir, ['diff', '--detailed-exitcode']).code).toBe(0);
    // Back to where the next test starts: svc without aliases, no peer.
    write({ greeting: 'bonjour', restart: 'always', extra: false });
    ok(cli(dir, ['apply', '--auto-approve']));
  });

  test('a saved plan is carried out as reviewed and refused once the stack changed; --target limits the changes', () => {
    write({ greeting: 'saved', restart: 'always', extra: true });
    const file = path.join(dir, 'reviewed.plan.json');
    const targeted = ok(cli(dir, ['diff', '--target', 'peer', '--out', file]));
    expect(targeted).toMatch(/peer/);
    expect(targeted).not.toMatch(/GREETING/);
    expect(ok(cli(dir, ['apply', '--plan', file]))).toContain('Apply complete!');
    // Only the targeted container was touched: svc still has the old value.
    expect(ok(rt(['exec', 'changes-svc', 'sh', '-c', 'echo $GREETING']))).toBe('bonjour\n');
    const stale = cli(dir, ['apply', '--plan', file]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('changed since the plan');
    expect(cli(dir, ['diff', '--target', 'nosuch']).stderr).toContain('--target nosuch: no resource of stack changes has that path; its paths are busybox, net, peer, svc');
  });

  test('a saved plan edited after review is refused and changes nothing: privileged + a bind of /, an emptied change list, a re-signed plan whose changes do not follow from it', () => {
    write({ greeting: 'reviewed', restart: 'always', extra: true });
    const file = path.join(dir, 'tampered.plan.json');
    const reviewed = ok(cli(dir, ['diff', '--out', file]));
    expect(reviewed).not.toMatch(/privileged/);
    const original = fs.readFileSync(file, 'utf8');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const before = ok(rt(['ps', '-aq', '--no-trunc']));
    const edit = (f: (saved: { stacks: Array<{ plan: { resources: Record<string, { type: string; spec: Record<string, unknown>; dependsOn: string[] }> }; diff: { changes: unknown[] } }> }) => void) => {
      const saved = JSON.parse(original);
      f(saved);
      fs.writeFileSync(file, JSON.stringify(saved, undefined, 2));
    };
    const refused = (why: RegExp, lines = 1) => {
      const r = cli(dir, ['apply', '--plan', file]);
      expect(r.stderr).toMatch(why);
      expect(r.stderr.trim().split('\n')).toHaveLength(lines);
      expect(r.code).toBe(1);
      expect(r.stdout).not.toMatch(/No changes|Apply complete/);
      expect(ok(rt(['ps', '-aq', '--no-trunc']))).toBe(before);
    };
    const changed = /tampered\.plan\.json was changed after it was saved \(its signature does not match its content\): it is not the plan that was reviewed; make it again with `cdk-docker diff --out .*tampered\.plan\.json` and review it/;
    edit((saved) => {
      const svc = Object.values(saved.stacks[0].plan.resources).find((r) => r.type === 'container')!;
      svc.spec.privileged = true;
      (svc.spec.mounts as unknown[]).push({ type: 'bind', source: '/', target: '/host', readOnly: false });
    });
    refused(changed);
    edit((saved) => {
      saved.stacks[0].diff.changes = [];
    });
    refused(changed);
    // Whoever holds the key can sign: the changes must still follow from the plan and the engine.
    edit((saved) => {
      saved.stacks[0].diff.changes = [];
      resign(saved);
    });
    refused(/stack changes changed since the plan in .*tampered\.plan\.json was made/);
    edit((saved) => {
      const svc = Object.values(saved.stacks[0].plan.resources).find((r) => r.type === 'container')!;
      svc.dependsOn.push('NoSuchResource1234');
      resign(saved);
    });
    refused(/tampered\.plan\.json \(stack changes\) is not a valid cdk-docker plan:\n  - resources\.\w+\.dependsOn: "NoSuchResource1234" is not a resource of the plan\n$/, 2);
    // Another engine's key (or none of ours): named as such.
    const other = cdkDocker(['apply', '--plan', file], dir, { ...env, CDK_DOCKER_PLAN_KEY: 'another-key-of-at-least-16' });
    expect(other.stderr).toMatch(/was signed with another plan key \(sha256:[0-9a-f]{16}; this engine's is sha256:[0-9a-f]{16}\)/);
    // The untouched file is still carried out.
    fs.writeFileSync(file, original);
    expect(ok(cli(dir, ['apply', '--plan', file]))).toContain('Apply complete!');
  });

  test('on a terminal apply shows one live row per resource, redrawn in place', () => {
    write({ greeting: 'tty', restart: 'always' });
    const out = execFileSync('script', ['-qec', `${path.join(ROOT, "bin", "cdk-docker")} apply --auto-approve`, '/dev/null'], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8' }).replace(/\r/g, '');
    // The row of svc goes from its verb to its result in place (cursor up, erase line).
    expect(out).toMatch(/\x1b\[2Ksvc \(changes-svc\): (replacing|creating)…/);
    expect(out).toMatch(/\x1b\[\d+A/);
    expect(out).toMatch(/\x1b\[2Ksvc \(changes-svc\): (replaced \(env\.GREETING\)|created and started) \[\d+\.\ds\]/);
    expect(out).toMatch(/Apply complete! Resources: \d+ added, \d+ changed, \d+ replaced, \d+ destroyed\./);
  });

  test('apply without a terminal and without --auto-approve is refused; a second apply at once fails naming the holder', async () => {
    write({ greeting: 'changed', restart: 'always' });
    const refused = cli(dir, ['apply']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--auto-approve');
    // Hold the stack's lock from another process, as a running apply would.
    const lock = path.join(env.CDK_DOCKER_ROOT!, 'stacks', 'changes.lock');
    const holder = await holdLock(lock);
    try {
      const second = cli(dir, ['apply', '--auto-approve']);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`stack changes is being applied by another cdk-docker command (pid ${holder.pid}`);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
    // Its holder killed, the lock is taken over at once.
    ok(cli(dir, ['apply', '--auto-approve']));
    // Nothing left to change: the apply is a diff, which needs no lock (and so does not wait for one).
    const again = await holdLock(lock);
    try {
      expect(ok(cli(dir, ['apply', '--auto-approve']))).toContain('No changes');
      write({ greeting: 'changed again', restart: 'always' });
      expect(cli(dir, ['apply', '--auto-approve']).stderr).toContain(`stack changes is being applied by another cdk-docker command (pid ${again.pid}`);
    } finally {
      again.kill('SIGKILL');
      await new Promise((r) => again.once('exit', r));
    }
  });
});

/** Another process holding the stack lock file `lock`, as a running apply would (kill it to release). */
async function holdLock(lock: string): Promise<ChildProcess> {
  const holder = spawn(process.execPath, ['-e', `require(${JSON.stringify(path.join(ROOT, 'dist/runtime/util/files.js'))}).withLock(${JSON.stringify(lock)}, () => { console.log('held'); return new Promise(() => setInterval(() => {}, 1000)); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((r) => holder.stdout!.once('data', () => r()));
  return holder;
}

/** Signs an edited saved plan again with the test engine's own key, as someone holding it could. */
function resign(saved: { [k: string]: unknown }): void {
  const key = fs.readFileSync(path.join(env.CDK_DOCKER_ROOT!, 'plan.key'));
  const { signature: _old, ...unsigned } = saved;
  saved.signature = hmacSha256(key, canonicalJson(unsigned));
}
