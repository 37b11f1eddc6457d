import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pidAlive, processIdentity } from '../../lib/core/process';
import { withLock } from '../../runtime/util/files';
import { ROOT, tempDir, until } from '../helpers/cli';

/** The metadata locks every store uses (proper-lockfile directories). */
let dir: string;
beforeAll(() => {
  dir = tempDir('cdk-docker-locks-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('two locks in one directory taken one inside the other are both released', async () => {
  const a = path.join(dir, 'a.lock');
  const b = path.join(dir, 'b.lock');
  await withLock(a, () =>
    withLock(b, () => {
      expect(fs.existsSync(a) && fs.existsSync(b)).toBe(true);
    }),
  );
  expect(fs.readdirSync(dir).filter((f) => f.endsWith('.lock'))).toEqual([]);
});

test('a holder may take its own lock again (re-entrant within one async context)', async () => {
  const a = path.join(dir, 'again.lock');
  const order: string[] = [];
  await withLock(a, async () => {
    order.push('outer');
    await withLock(a, () => order.push('inner'));
  });
  expect(order).toEqual(['outer', 'inner']);
  expect(fs.existsSync(a)).toBe(false);
});

test('waiters of one process take the lock in turn, in the order they asked, one holder at a time', async () => {
  const a = path.join(dir, 'queue.lock');
  const order: number[] = [];
  let inside = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      withLock(a, async () => {
        inside++;
        most = Math.max(most, inside);
        order.push(i);
        await new Promise((r) => setTimeout(r, 3));
        inside--;
      }),
    ),
  );
  expect(most).toBe(1);
  // Polling the lock directory with back-off (as between processes) gives no such order.
  expect(order).toEqual(Array.from({ length: 12 }, (_, i) => i));
  expect(fs.existsSync(a)).toBe(false);
});

test('a waiter whose holder fails still gets the lock', async () => {
  const a = path.join(dir, 'fails.lock');
  const first = withLock(a, async () => {
    await new Promise((r) => setTimeout(r, 5));
    throw new Error('holder failed');
  });
  const second = withLock(a, () => 'second ran');
  await expect(first).rejects.toThrow('holder failed');
  await expect(second).resolves.toBe('second ran');
});

test('another process waits for the lock and gets it once released', async () => {
  const a = path.join(dir, 'shared.lock');
  let childDone = 0;
  const started = Date.now();
  await withLock(a, async () => {
    const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(path.join(ROOT, 'dist/runtime/util/files.js'))}).withLock(${JSON.stringify(a)}, () => {}).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })`], { stdio: 'inherit' });
    child.on('exit', (code) => {
      childDone = Date.now();
      expect(code).toBe(0);
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(childDone).toBe(0);
  });
  while (!childDone) await new Promise((r) => setTimeout(r, 20));
  expect(childDone - started).toBeGreaterThanOrEqual(500);
});

test('a lock whose holder was killed goes stale and is taken over', async () => {
  const a = path.join(dir, 'dead.lock');
  fs.mkdirSync(a);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(a, old, old);
  await withLock(a, () => undefined, { staleMs: 5_000 });
  expect(fs.existsSync(a)).toBe(false);
});

test('a lock whose holder was killed with -9 is taken over at once, not after the stale time', async () => {
  const a = path.join(dir, 'killed.lock');
  const child = spawn(
    process.execPath,
    ['-e', `require(${JSON.stringify(path.join(ROOT, 'dist/runtime/util/files.js'))}).withLock(${JSON.stringify(a)}, () => { console.log('held'); return new Promise(() => setInterval(() => {}, 1000)); })`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  expect(fs.readFileSync(path.join(a, 'owner'), 'utf8')).toMatch(new RegExp(`^${child.pid} \\d+\n\\S+ \\d{4}-\\d\\d-\\d\\dT`));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const started = Date.now();
  await withLock(a, () => undefined, { staleMs: 60_000 });
  expect(Date.now() - started).toBeLessThan(2_000);
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('killed'))).toEqual([]);
});

test('with noWait a lock held by a live process fails at once, naming the holder', async () => {
  const a = path.join(dir, 'held.lock');
  await withLock(a, async () => {
    const started = Date.now();
    const child = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(ROOT, 'dist/runtime/util/files.js'))}).withLock(${JSON.stringify(a)}, () => {}, { noWait: true, busy: 'stack web is being applied' }).catch((e) => { console.log(e.message); process.exit(3); })`], { encoding: 'utf8' });
    expect(child.status).toBe(3);
    expect(child.stdout).toMatch(new RegExp(`^stack web is being applied \\(pid ${process.pid} on \\S+, since \\d{4}-.*\\); wait for it to finish\n$`));
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

test('a lock held for longer than its refresh interval stays ours (the note does not look like a takeover)', async () => {
  const a = path.join(dir, 'long.lock');
  // proper-lockfile refreshes every staleMs / 2 and checks the lock's mtime is its own.
  await expect(withLock(a, () => new Promise((r) => setTimeout(() => r('done'), 3_000)), { staleMs: 2_000 })).resolves.toBe('done');
  expect(fs.existsSync(a)).toBe(false);
});

test('a holder killed but not yet reaped (a zombie) holds nothing: its lock is taken over at once', async () => {
  const a = path.join(dir, 'zombie.lock');
  const holder = `require(${JSON.stringify(path.join(ROOT, 'dist/runtime/util/files.js'))}).withLock(${JSON.stringify(a)}, () => { console.log(process.pid); return new Promise(() => setInterval(() => {}, 1000)); })`;
  // sh starts the holder, then becomes `sleep`, which never reaps it: killed, the holder stays a
  // zombie, as under an init that does not reap.
  const parent = spawn('sh', ['-c', `"$0" -e "$1" & exec sleep 60`, process.execPath, holder], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const pid = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (d) => resolve(String(d).trim()))));
    // Killed before sh became sleep, sh could reap it itself: wait for the exec.
    await until('sh to become sleep', () => fs.readFileSync(`/proc/${parent.pid}/comm`, 'utf8').trim() === 'sleep', 5_000);
    process.kill(pid, 'SIGKILL');
    await until('the holder is a zombie', () => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0] === 'Z', 5_000);
    const started = Date.now();
    await withLock(a, () => undefined, { staleMs: 60_000, noWait: true });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(fs.existsSync(`/proc/${pid}`)).toBe(true); // still unreaped: the test saw a zombie, not a gone process
  } finally {
    parent.kill('SIGKILL');
  }
});

test('pidAlive and processIdentity count a zombie as dead and this process as alive', async () => {
  const parent = spawn('sh', ['-c', 'sleep 60 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const pid = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (d) => resolve(String(d).trim()))));
    expect(pidAlive(pid)).toBe(true);
    expect(processIdentity(pid)).toMatch(new RegExp(`^${pid} \\d+$`));
    // Killed before sh became sleep, sh could reap it itself: wait for the exec.
    await until('sh to become sleep', () => fs.readFileSync(`/proc/${parent.pid}/comm`, 'utf8').trim() === 'sleep', 5_000);
    process.kill(pid, 'SIGKILL');
    await until('the child is a zombie', () => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0] === 'Z', 5_000);
    expect(pidAlive(pid)).toBe(false);
    expect(processIdentity(pid)).toBeUndefined();
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidAlive(0)).toBe(false);
  } finally {
    parent.kill('SIGKILL');
  }
});
