import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { HostLock, leaving } from '../../runtime/networks/netavark';
import { removeTempDirs, tempDir } from '../helpers/cli';

/**
 * The lock around netavark: setups that only join networks whose rules are in place share one
 * holding within a process; everything else holds it alone (see HostLock).
 */
afterAll(removeTempDirs);

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

function tracker() {
  let inside = 0;
  const log: string[] = [];
  let mostShared = 0;
  return {
    log,
    most: () => mostShared,
    run: (name: string, kind: 'shared' | 'exclusive', ms = 15) => async () => {
      if (kind === 'exclusive' && inside !== 0) throw new Error(`${name} ran beside ${inside} other holders`);
      inside++;
      mostShared = Math.max(mostShared, inside);
      log.push(`+${name}`);
      await tick(ms);
      log.push(`-${name}`);
      inside--;
      return name;
    },
    check: () => {
      // An exclusive holder never overlaps anyone: its + and - are adjacent.
      for (const [i, e] of log.entries()) if (e.startsWith('+x')) expect(log[i + 1]).toBe(`-${e.slice(1)}`);
    },
  };
}

test('joining setups share one holding; the lock directory exists while they run and is gone after', async () => {
  const lockPath = path.join(tempDir('cdk-docker-hostlock-'), 'netavark.lock');
  const lock = new HostLock(lockPath);
  const t = tracker();
  const seen: boolean[] = [];
  const results = await Promise.all(['a', 'b', 'c', 'd'].map((n) => lock.shared(async () => (seen.push(fs.existsSync(lockPath)), t.run(n, 'shared')()))));
  expect(results).toEqual(['a', 'b', 'c', 'd']);
  expect(t.most()).toBe(4);
  expect(seen).toEqual([true, true, true, true]);
  expect(fs.existsSync(lockPath)).toBe(false);
});

test('an exclusive holder runs alone: it waits for the group, and later joiners wait for it', async () => {
  const lock = new HostLock(path.join(tempDir('cdk-docker-hostlock-'), 'netavark.lock'));
  const t = tracker();
  const runs = [lock.shared(t.run('s1', 'shared', 30)), lock.shared(t.run('s2', 'shared', 30))];
  await tick(5);
  runs.push(lock.exclusive(t.run('x1', 'exclusive')));
  await tick(1);
  // Asked for after the exclusive caller: not let into the running group, so x1 is not starved.
  runs.push(lock.shared(t.run('s3', 'shared')), lock.shared(t.run('s4', 'shared')));
  await Promise.all(runs);
  t.check();
  expect(t.log.indexOf('+x1')).toBeGreaterThan(Math.max(t.log.indexOf('-s1'), t.log.indexOf('-s2')));
  expect(t.log.indexOf('+s3')).toBeGreaterThan(t.log.indexOf('-x1'));
  expect(t.log.indexOf('+s4')).toBeGreaterThan(t.log.indexOf('-x1'));
});

test('a member that fails fails alone; the others finish and the lock is let go', async () => {
  const lockPath = path.join(tempDir('cdk-docker-hostlock-'), 'netavark.lock');
  const lock = new HostLock(lockPath);
  const failing = lock.shared(async () => {
    await tick(5);
    throw new Error('netavark setup failed');
  });
  const fine = lock.shared(async () => {
    await tick(20);
    return 'joined';
  });
  await expect(failing).rejects.toThrow('netavark setup failed');
  await expect(fine).resolves.toBe('joined');
  await expect(lock.exclusive(async () => 'alone')).resolves.toBe('alone');
  expect(fs.existsSync(lockPath)).toBe(false);
});

test('teardowns share a holding only while each bridge keeps an interface once all of them are done', async () => {
  const bridge = `cdklv${process.pid % 100000}`;
  const ip = (args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  ip(['link', 'add', bridge, 'type', 'bridge']);
  try {
    for (let i = 0; i < 3; i++) {
      ip(['link', 'add', `${bridge}d${i}`, 'type', 'veth', 'peer', 'name', `${bridge}p${i}`]);
      ip(['link', 'set', `${bridge}d${i}`, 'master', bridge]);
    }
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // Three interfaces: two may leave side by side; a third would leave none (netavark's
    // complete teardown), so it is declined and runs alone afterwards.
    const first = leaving([bridge], () => held.then(() => 'a'));
    const second = leaving([bridge], () => held.then(() => 'b'));
    const third = await leaving([bridge], async () => 'c');
    expect(third).toBeUndefined();
    release();
    expect(await Promise.all([first, second])).toEqual(['a', 'b']);
    // Once they are done the count is free again; no bridge at all is never shared.
    expect(await leaving([bridge], async () => 'd')).toBe('d');
    expect(await leaving([`${bridge}-none`], async () => 'e')).toBeUndefined();
    expect(await leaving([], async () => 'f')).toBeUndefined();
  } finally {
    for (let i = 0; i < 3; i++) spawnSync('ip', ['link', 'del', `${bridge}d${i}`]); // its peer goes with it
    spawnSync('ip', ['link', 'del', bridge]);
  }
});
