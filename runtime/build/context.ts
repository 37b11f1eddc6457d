import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { tarStream } from '../../lib/core/tar';
import { contextPaths, dockerignore } from '../../lib/core/dockerignore';
import { InvalidArgumentError, NotFoundError } from '../../lib/core/errors';
import { globPattern } from '../util/filters';

/**
 * The build context: a directory on the host, minus what `.dockerignore` excludes. COPY and ADD
 * read their sources here, never outside it.
 *
 * Terms
 * - A *source* is one COPY/ADD argument after substitution: a path or a Go-style wildcard
 *   pattern (`*`, `?`, `[…]`, none crossing `/`) relative to the context root.
 * - An *entry* is a file, directory or symlink a source brings: a file source is one entry, a
 *   directory source brings its contents (not itself), recursively, symlinks kept as links.
 * - The *content hash* of sources covers each entry's relative name, type, mode, uid, gid, link
 *   target and content, but not its mtime (as Docker's tarsum), so a touched file stays cached.
 */

/** A path outside the context, a missing or excluded source. */
export class ContextError extends InvalidArgumentError {}

export interface Entry {
  /** Path relative to the source ('' for a file source itself). */
  readonly rel: string;
  /** Host path. */
  readonly host: string;
  readonly stat: fs.Stats;
  readonly type: 'file' | 'directory' | 'symlink';
  readonly linkname?: string;
}

export interface Source {
  /** The source as the Dockerfile names it, relative to the context root. */
  readonly rel: string;
  readonly host: string;
  readonly isDir: boolean;
  /** What it brings (for a directory: its contents, parents before children). */
  readonly entries: Entry[];
  /** Downloaded from a URL (ADD): never extracted. */
  readonly remote?: boolean;
}

const WILDCARD = /[*?[]/;

export class BuildContext {
  private readonly excluded: (rel: string) => boolean;
  private filesCache?: string[];

  /** `dir` is the context directory; its `.dockerignore` is read when present. */
  constructor(public readonly dir: string) {
    this.excluded = dockerignore(dir);
  }

  /** Whether `.dockerignore` excludes a context-relative path. */
  public ignored(rel: string): boolean {
    return this.excluded(rel);
  }

  /** Every context path (files, directories, links) that is not excluded, relative, a directory before its contents. */
  public files(): string[] {
    this.filesCache ??= contextPaths(this.dir, this.excluded).map((e) => e.rel);
    return this.filesCache;
  }

  /**
   * Resolves a context-relative path to a host path inside the context, following symlinks as
   * if the context were `/` (an absolute link target or `..` never leaves it).
   */
  public resolve(rel: string, followLast = true): { rel: string; host: string } {
    const done: string[] = [];
    let rest = rel.split('/').filter((c) => c && c !== '.');
    let hops = 0;
    while (rest.length) {
      const c = rest.shift()!;
      if (c === '..') {
        done.pop();
        continue;
      }
      const host = path.join(this.dir, ...done, c);
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(host);
      } catch {
        st = undefined;
      }
      if (st?.isSymbolicLink() && (rest.length > 0 || followLast)) {
        if (++hops > 40) throw new ContextError(`too many levels of symbolic links in ${rel}`);
        const target = fs.readlinkSync(host);
        if (target.startsWith('/')) done.length = 0;
        rest = [...target.split('/').filter((x) => x && x !== '.'), ...rest];
        continue;
      }
      done.push(c);
    }
    return { rel: done.join('/'), host: path.join(this.dir, ...done) };
  }

  /**
   * The sources a COPY/ADD argument names. `instruction` prefixes errors. A pattern that
   * matches nothing, a missing or excluded path and a path outside the context are errors.
   */
  public sources(arg: string, instruction: string): Source[] {
    const clean = path.posix.normalize(`/${arg}`).slice(1);
    const raw = path.posix.normalize(arg.replace(/^\/+/, ''));
    if (raw === '..' || raw.startsWith('../')) {
      throw new ContextError(`${instruction} failed: forbidden path outside the build context: ${arg} (the context is ${this.dir}; move the file into it)`);
    }
    let rels: string[];
    if (WILDCARD.test(clean)) {
      const re = globPattern(clean);
      if (!re) throw new ContextError(`${instruction} failed: bad wildcard pattern "${arg}": syntax error in pattern`);
      rels = this.files().filter((f) => re.test(f));
      if (rels.length === 0) throw new ContextError(`${instruction} failed: no source files were specified: "${arg}" matches no file in the build context`);
    } else {
      rels = [clean];
    }
    return rels.map((r) => this.source(r, arg, instruction));
  }

  private source(rel: string, arg: string, instruction: string): Source {
    const missing = () => new NotFoundError(`${instruction} failed: file not found in build context or excluded by .dockerignore: stat ${arg}: file does not exist`);
    if (this.ignored(rel) && !this.files().includes(rel)) throw missing();
    const r = this.resolve(rel);
    let st: fs.Stats;
    try {
      st = fs.statSync(r.host);
    } catch {
      throw missing();
    }
    if (r.rel !== '' && this.ignored(r.rel) && !this.files().includes(r.rel)) throw missing();
    if (!st.isDirectory()) return { rel, host: r.host, isDir: false, entries: [{ rel: '', host: r.host, stat: st, type: 'file' }] };
    const entries: Entry[] = [];
    const prefix = r.rel ? `${r.rel}/` : '';
    for (const f of this.files()) {
      if (!f.startsWith(prefix) || f === r.rel) continue;
      const host = path.join(this.dir, f);
      const s = fs.lstatSync(host);
      const type = s.isDirectory() ? 'directory' : s.isSymbolicLink() ? 'symlink' : s.isFile() ? 'file' : undefined;
      if (!type) continue;
      entries.push({ rel: f.slice(prefix.length), host, stat: s, type, linkname: type === 'symlink' ? fs.readlinkSync(host) : undefined });
    }
    return { rel, host: r.host, isDir: true, entries };
  }

  /** The number of bytes in the context (what Docker reports as the context it sends). */
  public size(): number {
    let n = 0;
    for (const f of this.files()) {
      const st = fs.lstatSync(path.join(this.dir, f));
      if (st.isFile()) n += st.size;
    }
    return n;
  }
}

/** Docker's content hash of sources: `file:<hex>` (one file), `dir:<hex>` (one directory) or `multi:<hex>`. */
export function sourcesHash(sources: Source[], owner?: { uid: number; gid: number }): string {
  const one = (s: Source) => {
    const h = createHash('sha256');
    for (const e of s.entries) {
      h.update(`${e.rel}\0${e.type}\0${(e.stat.mode & 0o7777).toString(8)}\0${owner?.uid ?? e.stat.uid}\0${owner?.gid ?? e.stat.gid}\0${e.linkname ?? ''}\0`);
      if (e.type === 'file') h.update(fs.readFileSync(e.host));
      h.update('\0');
    }
    return `${s.isDir ? 'dir' : 'file'}:${h.digest('hex')}`;
  };
  if (sources.length === 1) return one(sources[0]);
  return `multi:${createHash('sha256').update(sources.map(one).join('\n')).digest('hex')}`;
}

/** A file or directory tree to write into an image: tar entries relative to the destination directory. */
export interface TarItem {
  /** Name in the tar (relative, no leading `/`). */
  readonly name: string;
  readonly type: 'file' | 'directory' | 'symlink';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: Date;
  readonly linkname?: string;
  /** File content: a host file to read, or bytes. */
  readonly host?: string;
  readonly data?: Buffer;
}

/** Writes items as a tar stream (tar-stream), files streamed from the host one after another. */
export function tarOf(items: TarItem[]): Readable {
  const pack = tarStream().pack();
  void (async () => {
    try {
      for (const it of items) {
        if (it.type !== 'file') {
          pack.entry({ name: it.name, type: it.type, mode: it.mode, uid: it.uid, gid: it.gid, mtime: it.mtime, linkname: it.linkname });
          continue;
        }
        const data = it.data ?? undefined;
        if (data) {
          pack.entry({ name: it.name, type: 'file', mode: it.mode, uid: it.uid, gid: it.gid, mtime: it.mtime }, data);
          continue;
        }
        const size = fs.statSync(it.host!).size;
        await new Promise<void>((resolve, reject) => {
          const sink = pack.entry({ name: it.name, type: 'file', mode: it.mode, uid: it.uid, gid: it.gid, mtime: it.mtime, size }, (err) => (err ? reject(err) : resolve()));
          const src = fs.createReadStream(it.host!);
          src.on('error', reject);
          src.pipe(sink);
        });
      }
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
    }
  })();
  return pack as unknown as Readable;
}
