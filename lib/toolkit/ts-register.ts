/**
 * Loaded with `node --require` into the process that runs a TypeScript app (see ./ts-app): it
 * makes `require()` of `.ts`, `.cts` and `.tsx` files compile them with esbuild, as tsx does, and
 * keeps each result in a cache keyed by the file's path and content (and esbuild's version, the
 * options and the project's tsconfig.json), so an unchanged app starts without esbuild at all.
 *
 * It sets nothing in the app's environment: the cache directory is found from the working
 * directory the app starts in (the project's): `node_modules/.cache/cdk-docker-ts/` when the
 * project has node_modules, else `.cache/ts/` under CDK_DOCKER_OUTDIR.
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

const projectDir = process.cwd();
const cacheDir = fs.existsSync(path.join(projectDir, 'node_modules'))
  ? path.join(projectDir, 'node_modules', '.cache', 'cdk-docker-ts')
  : path.join(process.env.CDK_DOCKER_OUTDIR ?? path.join(projectDir, 'cdk.out'), '.cache', 'ts');

/** The project's tsconfig.json as esbuild's `tsconfigRaw` takes it (esbuild reads its comments and trailing commas). */
const tsconfigRaw = ((): string | undefined => {
  try {
    return fs.readFileSync(path.join(projectDir, 'tsconfig.json'), 'utf8');
  } catch {
    return undefined;
  }
})();

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
    ...(tsconfigRaw !== undefined ? { tsconfigRaw } : {}),
  };
}

/** The file compiled to CommonJS, from the cache or by esbuild (then cached). */
export function compile(filename: string): string {
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
const extensions = (Module as unknown as { _extensions: Record<string, Loader> })._extensions;
const load: Loader = (module, filename) => module._compile(compile(filename), filename);
for (const ext of ['.ts', '.cts', '.tsx']) extensions[ext] = load;

// `import './util.js'` in TypeScript means util.ts (as tsc and tsx resolve it).
type Resolve = (request: string, parent: unknown, ...rest: unknown[]) => string;
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
