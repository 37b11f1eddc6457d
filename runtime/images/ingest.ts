import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { processIdentity } from '../../lib/core/process';

/**
 * Temporary data of image ingest (downloads, archive loads, imports, layer unpacking), and its
 * collection when its writer was killed.
 *
 * Each process writes its temporary files under its own working directory
 * `images/ingest/w-<pid>-<start>`, where `<start>` is the process's start time (clock ticks
 * since boot, /proc/PID/stat field 22), so the directory names its writer even after the pid is
 * reused. Layers are unpacked by layers.ts into `images/layers/.tmp-<chain-hex>-<random>`; the
 * writer first leaves a claim `claims/<chain-hex>` in its working directory. The directory
 * exists only while the process has ingest work under way (reference counted) and goes at exit.
 *
 * `sweep()` removes the working directories of dead writers (gone, or zombies: state Z/X), and
 * every `layers/.tmp-<chain>-*` that no live writer claims. Nothing of a live writer is ever
 * removed. The next image-store command (or `image prune`) sweeps, so a `load` or `pull` killed
 * with -9 leaks nothing for longer than until then.
 */

const WORKDIR = /^w-(\d+)-(\d+)$/;
const LAYER_TMP = /^\.tmp-([a-f0-9]{64})-[a-f0-9]+$/;
/** Temporary entries of unknown form (from older versions) are removed once this old. */
const UNKNOWN_MAX_AGE_MS = 60 * 60 * 1000;

/** `starttime` of a live, non-zombie process; undefined when it is dead or a zombie. */
function liveProcessStart(pid: number): string | undefined {
  return processIdentity(pid)?.split(' ')[1];
}

/**
 * What this process has under way in one ingest directory. Shared by every IngestArea of the
 * same store in this process (a build and a pull may each open the store), so one of them
 * finishing never removes the working directory while another still writes in it.
 */
interface ProcessState {
  users: number;
  readonly claims: Map<string, number>;
}
const states = new Map<string, ProcessState>();
let exitHookInstalled = false;

export class IngestArea {
  private readonly ingestDir: string;
  private readonly layersDir: string;
  private readonly ownName: string;
  private readonly state: ProcessState;

  constructor(imagesDir: string) {
    this.ingestDir = path.join(imagesDir, 'ingest');
    this.layersDir = path.join(imagesDir, 'layers');
    this.ownName = `w-${process.pid}-${liveProcessStart(process.pid) ?? '0'}`;
    const key = path.resolve(this.ingestDir);
    let state = states.get(key);
    if (!state) states.set(key, (state = { users: 0, claims: new Map() }));
    this.state = state;
  }

  /** This process's working directory (exists while `use` runs). */
  private get own(): string {
    return path.join(this.ingestDir, this.ownName);
  }

  /**
   * Runs `fn` with this process's working directory present; `fn` gets a fresh temporary path
   * in it (not created). The directory goes when the last user is done.
   */
  public async use<T>(prefix: string, fn: (tmp: string) => Promise<T>): Promise<T> {
    this.acquire();
    const tmp = path.join(this.own, `${prefix}-${randomBytes(6).toString('hex')}`);
    try {
      return await fn(tmp);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
      this.release();
    }
  }

  /** Synchronous `use`. */
  public useSync<T>(prefix: string, fn: (tmp: string) => T): T {
    this.acquire();
    const tmp = path.join(this.own, `${prefix}-${randomBytes(6).toString('hex')}`);
    try {
      return fn(tmp);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
      this.release();
    }
  }

  /** Runs `fn` (which unpacks layer `chainHex` into layers/.tmp-<chainHex>-*) with the layer claimed. */
  public async withLayerClaim<T>(chainHex: string, fn: () => Promise<T>): Promise<T> {
    this.acquire();
    const claims = this.state.claims;
    const n = claims.get(chainHex) ?? 0;
    claims.set(chainHex, n + 1);
    if (n === 0) {
      fs.mkdirSync(path.join(this.own, 'claims'), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(this.own, 'claims', chainHex), '');
    }
    try {
      return await fn();
    } finally {
      const left = claims.get(chainHex)! - 1;
      if (left === 0) {
        claims.delete(chainHex);
        fs.rmSync(path.join(this.own, 'claims', chainHex), { force: true });
      } else claims.set(chainHex, left);
      this.release();
    }
  }

  private acquire(): void {
    // Made on every use (cheap): a sweep of this process never removes it, but a user may have
    // removed the directory by hand.
    fs.mkdirSync(this.own, { recursive: true, mode: 0o700 });
    this.state.users++;
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const [dir, st] of states) if (st.users > 0) fs.rmSync(path.join(dir, this.ownName), { recursive: true, force: true });
      });
    }
  }

  private release(): void {
    if (--this.state.users === 0) fs.rmSync(this.own, { recursive: true, force: true });
  }

  /**
   * Removes what killed writers left: their working directories and unclaimed unpacking
   * directories. Returns the paths removed.
   */
  public sweep(): string[] {
    const removed: string[] = [];
    const rm = (p: string) => {
      fs.rmSync(p, { recursive: true, force: true });
      removed.push(p);
    };
    const old = (p: string) => {
      try {
        return fs.lstatSync(p).mtimeMs < Date.now() - UNKNOWN_MAX_AGE_MS;
      } catch {
        return false;
      }
    };
    // Listed before the claims are read: a claim is made before its directory, so a directory
    // seen here whose writer is alive has its claim in place by the time the claims are read.
    const tmpLayers = readdir(this.layersDir).filter((n) => n.startsWith('.tmp-'));
    const claimed = new Set<string>();
    for (const name of readdir(this.ingestDir)) {
      const p = path.join(this.ingestDir, name);
      const m = WORKDIR.exec(name);
      if (m) {
        if (name === this.ownName || liveProcessStart(Number(m[1])) === m[2]) {
          for (const c of readdir(path.join(p, 'claims'))) claimed.add(c);
        } else rm(p);
      } else if (old(p)) rm(p);
    }
    for (const name of tmpLayers) {
      const p = path.join(this.layersDir, name);
      const m = LAYER_TMP.exec(name);
      if (m ? !claimed.has(m[1]) : old(p)) rm(p);
    }
    return removed;
  }
}

function readdir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
