/**
 * The TypeScript hooks of an app run by cdk-docker (see ./ts-app): `require()` of `.ts`, `.cts`
 * and `.tsx` files compiles them with esbuild, as tsx does, and keeps each result in a cache keyed
 * by the file's path and content (and esbuild's version, the options and the project's
 * tsconfig.json), so an unchanged app starts without esbuild at all.
 *
 * Nothing of cdk-docker is loaded here (the app's own `cdk-docker` import resolves as usual, to
 * the project's installed package), only Node's built-ins and, on a cache miss, esbuild.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';

interface EsbuildApi {
  readonly version: string;
  transformSync(code: string, options: Record<string, unknown>): { code: string };
}

/** The project the hooks compile for: where compiled files are cached, its tsconfig.json. */
interface Project {
  readonly cacheDir: string;
  /** The project's tsconfig.json as esbuild's `tsconfigRaw` takes it (esbuild reads its comments and trailing commas). */
  readonly tsconfigRaw?: string;
}

let project: Project | undefined;

/** esbuild's version, read from its package.json: the cache key needs it without loading esbuild. */
const esbuildVersion = ((): string => {
  try {
    const pkg = require.resolve('esbuild/package.json');
    return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return 'missing';
  }
})();

let esbuild: EsbuildApi | undefined;

function options(filename: string): Record<string, unknown> {
  return {
    // As tsx: the running Node's syntax level, names kept (constructs print class names), CommonJS.
    target: `node${process.versions.node}`,
    format: 'cjs',
    loader: filename.endsWith('.tsx') ? 'tsx' : 'ts',
    keepNames: true,
    sourcemap: 'inline',
    sourcefile: filename,
    ...(project?.tsconfigRaw !== undefined ? { tsconfigRaw: project.tsconfigRaw } : {}),
  };
}

/** The file compiled to CommonJS, from the cache or by esbuild (then cached). */
function compile(filename: string): string {
  const cacheDir = project!.cacheDir;
  const source = fs.readFileSync(filename, 'utf8');
  const opts = options(filename);
  const key = crypto.createHash('sha256').update(JSON.stringify([esbuildVersion, opts, source])).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch {
    // not compiled yet
  }
  esbuild ??= require('esbuild') as EsbuildApi;
  let code: string;
  try {
    ({ code } = esbuild.transformSync(source, opts));
  } catch (e) {
    // esbuild's errors name file:line:column; its stack and error objects would only bury them.
    // A file that does not compile ends the app as tsc would, whoever imported it.
    const errors = (e as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> }).errors;
    if (!errors?.length) throw e;
    const message = errors.map((m) => (m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}` : m.text)).join('\n');
    process.stderr.write(`${message}\n`);
    process.exit(1);
  }
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, cached);
  } catch {
    // A cache that cannot be written (read-only project) only costs the next start a compile.
  }
  return code;
}

type Loader = (module: Module & { _compile(code: string, filename: string): void }, filename: string) => void;
type Resolve = (request: string, parent: unknown, ...rest: unknown[]) => string;

/**
 * Makes `require()` of `.ts`, `.cts` and `.tsx` files in this process compile them for the
 * project in `projectDir` (its tsconfig.json, its cache: `node_modules/.cache/cdk-docker-ts/`
 * when it has node_modules, else `.cache/ts/` under `outdir`). Installed once; a later call
 * only changes the project.
 */
export function installTsHooks(projectDir: string, outdir: string): void {
  let tsconfigRaw: string | undefined;
  try {
    tsconfigRaw = fs.readFileSync(path.join(projectDir, 'tsconfig.json'), 'utf8');
  } catch {
    tsconfigRaw = undefined;
  }
  const cacheDir = fs.existsSync(path.join(projectDir, 'node_modules')) ? path.join(projectDir, 'node_modules', '.cache', 'cdk-docker-ts') : path.join(outdir, '.cache', 'ts');
  const installed = project !== undefined;
  project = { cacheDir, tsconfigRaw };
  if (installed) return;

  const extensions = (Module as unknown as { _extensions: Record<string, Loader> })._extensions;
  const load: Loader = (module, filename) => module._compile(compile(filename), filename);
  for (const ext of ['.ts', '.cts', '.tsx']) extensions[ext] = load;

  // `import './util.js'` in TypeScript means util.ts (as tsc and tsx resolve it).
  const internals = Module as unknown as { _resolveFilename: Resolve };
  const resolve = internals._resolveFilename;
  internals._resolveFilename = function resolveTs(this: unknown, request, parent, ...rest) {
    try {
      return resolve.call(this, request, parent, ...rest);
    } catch (e) {
      const relative = request.startsWith('./') || request.startsWith('../') || path.isAbsolute(request);
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND' || !relative || !/\.[cm]?js$/.test(request)) throw e;
      try {
        return resolve.call(this, request.replace(/js$/, 'ts'), parent, ...rest);
      } catch {
        throw e;
      }
    }
  };
}
