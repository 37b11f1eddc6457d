import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../core/package-info';

/**
 * How a TypeScript app runs without npx and tsx: Node itself, with ./ts-register loaded first
 * (esbuild, cached by content). `npx tsx main.ts` costs two package-manager and toolchain starts
 * (~0.5 s) on every command; this costs one Node start.
 */
export interface DirectTsApp {
  /** The entry file, absolute. */
  readonly entry: string;
  /** The program to run (this CLI's own Node). */
  readonly command: string;
  /** Its arguments: Node options of ours only, then `--` and the entry. */
  readonly args: string[];
}

/**
 * The app commands run directly: the template's `npx tsx main.ts` (also `tsx main.ts`,
 * `npx --no-install tsx main.ts`) and a bare entry (`main.ts`). Anything else — tsx flags, more
 * arguments, environment assignments, shell syntax — runs through the shell as written.
 */
const TSX_COMMAND = /^(?:npx(?:\s+--no(?:-install)?)?\s+)?tsx\s+([^\s'"`$;&|<>()\\*?{}[\]~#!-][^\s'"`$;&|<>()\\*?{}[\]]*)$/;
const BARE_ENTRY = /^([^\s'"`$;&|<>()\\*?{}[\]~#!-][^\s'"`$;&|<>()\\*?{}[\]]*\.c?tsx?)$/;

/**
 * The direct way to run `app` in `dir`, or undefined when it must run as written: not one of
 * the forms above, an entry that is not a CommonJS TypeScript file (`.mts`, or a package of
 * `"type": "module"`: tsx runs those as ES modules), an entry that does not exist (the shell
 * then says so, as today), a tsconfig.json with `extends` or `paths`, or
 * CDK_DOCKER_APP_RUNNER=shell.
 */
export function directTsApp(app: string, dir: string, env: NodeJS.ProcessEnv = process.env): DirectTsApp | undefined {
  if (env.CDK_DOCKER_APP_RUNNER === 'shell') return undefined;
  const spec = app.trim();
  const file = TSX_COMMAND.exec(spec)?.[1] ?? BARE_ENTRY.exec(spec)?.[1];
  if (!file || !/\.(?:c?ts|tsx)$/.test(file)) return undefined;
  const entry = path.resolve(dir, file);
  try {
    if (!fs.statSync(entry).isFile()) return undefined;
  } catch {
    return undefined;
  }
  if (!entry.endsWith('.cts') && packageType(path.dirname(entry)) === 'module') return undefined;
  if (!plainTsconfig(dir)) return undefined;
  return {
    entry,
    command: process.execPath,
    args: ['--enable-source-maps', '--require', path.join(packageRoot(), 'dist', 'lib', 'toolkit', 'ts-register.js'), '--', entry],
  };
}

/**
 * Whether the project's tsconfig.json (if any) is one the hook reads as tsx does: esbuild's
 * transform takes the file's own compilerOptions, but neither follows `extends` nor maps
 * `paths` (tsx does both), so a tsconfig that mentions them runs the app through tsx.
 */
function plainTsconfig(dir: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, 'tsconfig.json'), 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
  return !/"(?:extends|paths)"/.test(text);
}

/** `type` of the package.json nearest to `dir` (as Node decides how to load a file). */
function packageType(dir: string): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')) as { type?: unknown };
      return typeof pkg.type === 'string' ? pkg.type : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return 'unreadable';
    }
    if (path.dirname(d) === d) return undefined;
  }
}
