import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../helpers/cli';

/**
 * The fuzzer's world: a temporary directory W holding the state root (`W/state/root`), the run
 * root (`W/state/run`) and, next to them, a canary tree that hostile input aims at — a secret file, a
 * `victim/important` file (the name the classic layer attack deletes), a directory, files with
 * xattrs, symlinks (absolute, relative, dangling). Nothing ingested may create, change or read
 * anything in it.
 *
 * A snapshot records for every canary entry its type, mode, owner, size, link count, mtime and
 * ctime (and atime for files), symlink target, content hash and xattrs; file contents are read
 * with O_NOATIME, so the snapshot itself reads nothing observably. The canary files get an
 * atime older than 24 h, so under relatime (or strictatime) any read by the code under test moves
 * it: a read shows up as a changed atime.
 */
export interface World {
  /** W: the canary tree lives here, next to `root` and `run`. */
  readonly dir: string;
  /** Fresh per case: `W/state/root`. */
  readonly root: string;
  readonly run: string;
  /** Absolute canary paths attacks aim at (files and directories). */
  readonly targets: readonly string[];
  /** Canary paths relative to W (for `../`-style attacks). */
  readonly relTargets: readonly string[];
  /** Secrets and hashes that must never appear in an error message. */
  readonly forbidden: readonly string[];
  /** The snapshot taken right after the canary was (re)made. */
  baseline: string;
  /** Remakes the canary tree (after a failing case damaged it) and takes a new baseline. */
  reset(): void;
  /** A fresh, empty state root (the old one is removed). */
  freshRoot(): void;
  /** Everything under W that is not in the state/run roots, as one comparable string. */
  snapshot(): string;
  /** The differences between the baseline and now, one line each (empty: untouched). */
  changes(): string[];
  dispose(): void;
}

const OLD_ATIME = new Date('2019-01-01T00:00:00Z');
const OLD_MTIME = new Date('2020-01-01T00:00:00Z');

interface CanaryFile {
  readonly rel: string;
  readonly content: Buffer;
  readonly mode: number;
  readonly xattr?: string;
}

export function makeWorld(prefix = 'cdk-docker-fuzz-'): World {
  const dir = tempDir(prefix);
  const secret = `canary-secret-${randomBytes(12).toString('hex')}`;
  const files: CanaryFile[] = [
    { rel: 'secret', content: Buffer.from(`${secret}\n`), mode: 0o600 },
    { rel: 'victim/important', content: Buffer.from(`important ${randomBytes(8).toString('hex')}\n`), mode: 0o644, xattr: 'user.canary' },
    { rel: 'important', content: Buffer.from(`top-level important ${randomBytes(8).toString('hex')}\n`), mode: 0o644 },
    { rel: 'dir/file', content: Buffer.from(`dir file ${randomBytes(8).toString('hex')}\n`), mode: 0o640 },
    { rel: 'dir/sub/deep', content: Buffer.from(`deep ${randomBytes(8).toString('hex')}\n`), mode: 0o755, xattr: 'user.deep' },
    // What a NODE_OPTIONS=--require line in an env file would run: it leaves W/pwned behind.
    { rel: 'evil.js', content: Buffer.from("require('fs').writeFileSync(require('path').join(__dirname, 'pwned'), 'pwned');\n"), mode: 0o644 },
    // A tar file the attacker would like loaded as a layer (a diff_id it can compute): an empty
    // archive padded to GNU tar's 10 KiB record, so its digest is no fuzzed layer's.
    { rel: 'victim/layer.tar', content: Buffer.alloc(10240), mode: 0o644 },
  ];
  const links: Array<{ rel: string; target: string }> = [
    { rel: 'link-abs', target: path.join(dir, 'victim') },
    { rel: 'link-rel', target: 'victim' },
    { rel: 'link-secret', target: path.join(dir, 'secret') },
    { rel: 'link-dangling', target: 'nowhere/at/all' },
  ];
  const dirs = ['victim', 'dir', 'dir/sub', 'empty'];
  const excluded = new Set(['state']);

  const build = (): void => {
    for (const d of dirs) fs.mkdirSync(path.join(dir, d), { recursive: true, mode: 0o755 });
    for (const f of files) {
      const p = path.join(dir, f.rel);
      fs.writeFileSync(p, f.content, { mode: f.mode });
      fs.chmodSync(p, f.mode);
      if (f.xattr) execFileSync('setfattr', ['-n', f.xattr, '-v', 'canary', p]);
    }
    for (const l of links) fs.symlinkSync(l.target, path.join(dir, l.rel));
    for (const f of files) fs.utimesSync(path.join(dir, f.rel), OLD_ATIME, OLD_MTIME);
    for (const d of [...dirs].reverse()) fs.utimesSync(path.join(dir, d), OLD_ATIME, OLD_MTIME);
  };

  const walk = (): string[] => {
    const out: string[] = [];
    const visit = (rel: string): void => {
      const abs = rel ? path.join(dir, rel) : dir;
      for (const name of fs.readdirSync(abs).sort()) {
        if (!rel && excluded.has(name)) continue;
        const r = rel ? `${rel}/${name}` : name;
        out.push(r);
        if (fs.lstatSync(path.join(dir, r)).isDirectory()) visit(r);
      }
    };
    visit('');
    return out;
  };

  const xattrs = (rels: string[]): string => {
    if (rels.length === 0) return '';
    try {
      return execFileSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--', ...rels], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      return `getfattr failed: ${(e as { stdout?: string }).stdout ?? ''}`;
    }
  };

  const snapshot = (): string => {
    const lines: string[] = [];
    // W's own times too (the state root lives in W/state, so only a write next to it moves them:
    // a temporary directory made and removed in W shows here).
    const top = fs.lstatSync(dir, { bigint: true });
    lines.push(`. dir mode=${top.mode.toString(8)} nlink=${top.nlink} mtime=${top.mtimeNs} ctime=${top.ctimeNs}`);
    const rels = walk();
    for (const rel of rels) {
      const abs = path.join(dir, rel);
      const st = fs.lstatSync(abs, { bigint: true });
      const common = `mode=${st.mode.toString(8)} uid=${st.uid} gid=${st.gid} nlink=${st.nlink} ino=${st.ino} mtime=${st.mtimeNs} ctime=${st.ctimeNs}`;
      if (st.isSymbolicLink()) lines.push(`${rel} symlink -> ${fs.readlinkSync(abs)} ${common}`);
      else if (st.isDirectory()) lines.push(`${rel} dir ${common}`);
      else if (st.isFile()) {
        const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOATIME);
        let sum: string;
        try {
          const h = createHash('sha256');
          const buf = Buffer.alloc(1 << 16);
          for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
          sum = h.digest('hex');
        } finally {
          fs.closeSync(fd);
        }
        lines.push(`${rel} file size=${st.size} sha256=${sum} atime=${st.atimeNs} ${common}`);
      } else lines.push(`${rel} special rdev=${st.rdev} ${common}`);
    }
    lines.push(xattrs(['.', ...rels].filter((r) => !fs.lstatSync(path.join(dir, r)).isSymbolicLink())));
    return lines.join('\n');
  };

  const world: World = {
    dir,
    root: path.join(dir, 'state', 'root'),
    run: path.join(dir, 'state', 'run'),
    targets: [...dirs, ...files.map((f) => f.rel), ...links.map((l) => l.rel)].map((r) => path.join(dir, r)),
    relTargets: ['victim', 'victim/important', 'important', 'secret', 'dir', 'dir/file', 'link-abs', 'link-secret', 'victim/layer.tar'],
    forbidden: [secret, ...files.map((f) => createHash('sha256').update(f.content).digest('hex'))],
    baseline: '',
    reset() {
      for (const name of fs.readdirSync(dir)) if (!excluded.has(name)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
      build();
      world.baseline = snapshot();
    },
    freshRoot() {
      fs.rmSync(world.root, { recursive: true, force: true });
      fs.rmSync(world.run, { recursive: true, force: true });
      fs.mkdirSync(world.root, { recursive: true, mode: 0o700 });
      fs.mkdirSync(world.run, { recursive: true, mode: 0o700 });
    },
    snapshot,
    changes() {
      const before = world.baseline.split('\n');
      const after = snapshot().split('\n');
      const a = new Set(after);
      const b = new Set(before);
      return [...before.filter((l) => !a.has(l)).map((l) => `- ${l}`), ...after.filter((l) => !b.has(l)).map((l) => `+ ${l}`)];
    },
    dispose() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  world.freshRoot();
  build();
  world.baseline = snapshot();
  return world;
}

/** Names an escape that overshoots the world would create next to it or at /; none may appear. */
const SENTINEL_NAMES = ['victim', 'important', 'secret', 'newfile', 'pwned', 'link-abs', 'link-rel', 'link-secret', 'evil.js'];

/** The sentinel paths outside the world that exist now (checked before and after each case). */
export function hostSentinels(world: World): string[] {
  const parents = ['/', path.dirname(world.dir), path.join(world.dir, 'state')];
  return parents.flatMap((p) => SENTINEL_NAMES.map((n) => path.join(p, n))).filter((p) => {
    try {
      fs.lstatSync(p);
      return true;
    } catch {
      return false;
    }
  });
}
