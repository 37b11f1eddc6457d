import * as fs from 'node:fs';
import * as path from 'node:path';
import { HostLock } from '../../runtime/networks/netavark';
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
