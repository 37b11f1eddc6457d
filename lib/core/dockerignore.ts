import ignore from '@balena/dockerignore';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A build context as Docker sends it: one reading of `.dockerignore` and one walk, shared by the
 * plan's context hash (lib/plan/hashing) and the builder (runtime/build), so what `diff` calls a
 * change and what a build copies never disagree.
 */

/** Whether `patterns` (.dockerignore's syntax: `*`, `**`, `!`, a directory covering what is under it) match a relative POSIX path (case-sensitive, as Docker on Linux). */
export function patternMatcher(patterns: readonly string[]): (rel: string) => boolean {
  const ig = ignore({ ignorecase: false }).add([...patterns]);
  return (rel) => rel !== '' && rel !== '.' && ig.ignores(rel);
}

/** Whether the context's `.dockerignore` excludes a context-relative POSIX path. */
export function dockerignore(dir: string): (rel: string) => boolean {
  const file = path.join(dir, '.dockerignore');
  return patternMatcher(fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#')) : []);
}

/**
 * Every path of the context `.dockerignore` does not exclude, relative and in walk order (a
 * directory before its contents, names sorted). Excluded directories are still walked, since a
 * later `!` rule may bring files back; such a directory is listed when it holds one.
 */
export function contextPaths(dir: string, ignored = dockerignore(dir)): Array<{ readonly rel: string; readonly isDir: boolean }> {
  const out: Array<{ rel: string; isDir: boolean }> = [];
  const walk = (rel: string): void => {
    const entries = fs.readdirSync(rel ? path.join(dir, rel) : dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        const before = out.length;
        walk(r);
        if (!ignored(r) || out.length > before) out.splice(before, 0, { rel: r, isDir: true });
      } else if (!ignored(r)) {
        out.push({ rel: r, isDir: false });
      }
    }
  };
  walk('');
  return out;
}
