import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConflictError, InvalidArgumentError } from '../core/errors';
import { checkName, suggestName } from '../core/names';
import { generateStack, NotImported } from '../import/compose/generate';
import { loadCompose } from '../import/compose/load';
import { defaultLibrarySpec, listTemplates } from './init';

export interface ImportComposeOptions {
  /** Compose files (`-f`), in merge order. @default compose.yaml (or its other names) in `cwd` */
  readonly files?: string[];
  /** `--env-file`s for interpolation. @default `.env` of the project directory */
  readonly envFiles?: string[];
  /** `--profile`s to enable. */
  readonly profiles?: string[];
  /** `-o`: the project directory to write. @default `cwd` */
  readonly outDir?: string;
  /** `--stack`: the stack name. @default the compose project name */
  readonly stack?: string;
  /** Version spec of the cdk-docker dependency of a new project. @default see `defaultLibrarySpec` */
  readonly librarySpec?: string;
  /** @default process.cwd() */
  readonly cwd?: string;
  /** @default process.env */
  readonly env?: { readonly [name: string]: string | undefined };
}

export interface ImportComposeResult {
  readonly dir: string;
  readonly stack: string;
  /** Files written (relative to `dir`), in order. */
  readonly written: string[];
  /** Whether the directory was new (the project files were written too). */
  readonly newProject: boolean;
  /** Keys the constructs cannot express: the stack is not equivalent when there are any. */
  readonly notImported: NotImported[];
  /** Compose's own warnings and the importer's notes. */
  readonly warnings: string[];
  /** Service keys met: service → keys (for coverage figures). */
  readonly keys: { [service: string]: string[] };
}

/** Whether anything (a dangling symlink too) is at `p`. */
export function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * The first line of a regular file (at most 4 KiB are read), or '' for anything else: a main.ts
 * that is a symlink (to /dev/zero, to a file elsewhere) or a FIFO was not written by the importer.
 */
export function firstLine(p: string): string {
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return '';
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return '';
    const buf = Buffer.alloc(4096);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8').split('\n')[0];
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes an imported project into `dir`: main.ts, cdk-docker.json when missing, and when the
 * directory is new (no package.json) the files of the typescript app template (package.json,
 * tsconfig.json, jest config, the snapshot test, .gitignore). Each file is written whole (a
 * reader never sees half a main.ts), through a temporary created afresh (O_EXCL: a symlink
 * planted at its name is removed, never written through).
 */
export function writeProject(dir: string, stack: string, mainTs: string, stackClass: string, librarySpec: string | undefined): { written: string[]; newProject: boolean } {
  const newProject = !fs.existsSync(path.join(dir, 'package.json'));
  const files: Array<[string, string]> = [['main.ts', mainTs]];
  if (!fs.existsSync(path.join(dir, 'cdk-docker.json'))) files.push(['cdk-docker.json', `${JSON.stringify({ app: 'npx tsx main.ts' }, null, 2)}\n`]);
  if (newProject) {
    const template = listTemplates().find((t) => t.language === 'typescript' && t.name === 'app');
    if (!template) throw new InvalidArgumentError('the typescript app template is missing from this installation; reinstall cdk-docker');
    const values: Record<string, string> = { name: stack, stackClass, cdkDockerSpec: librarySpec ?? defaultLibrarySpec() };
    const fill = (f: string) => fs.readFileSync(path.join(template.dir, f), 'utf8').replace(/\{\{(\w+)\}\}/g, (m, key: string) => values[key] ?? m);
    files.push(['package.json', fill('package.json.tmpl')], ['tsconfig.json', fill('tsconfig.json')], ['jest.config.js', fill('jest.config.js')], ['main.test.ts', fill('main.test.ts')]);
    if (!fs.existsSync(path.join(dir, '.gitignore'))) files.push(['.gitignore', fill('gitignore')]);
  }
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of files) {
    const target = path.join(dir, name);
    const tmp = `${target}.${process.pid}.tmp`;
    fs.rmSync(tmp, { force: true, recursive: true });
    fs.writeFileSync(tmp, text, { flag: 'wx' });
    fs.renameSync(tmp, target);
  }
  return { written: files.map(([n]) => n), newProject };
}

/**
 * `cdk-docker import compose`: reads compose files as Compose does and writes the TypeScript
 * project of the same stack (main.ts, cdk-docker.json; package.json, tsconfig.json, jest config and
 * a snapshot test of the plan when the directory is new). Writes nothing when a file is invalid.
 */
export function importCompose(opts: ImportComposeOptions = {}): ImportComposeResult {
  const cwd = opts.cwd ?? process.cwd();
  const project = loadCompose({ files: opts.files, envFiles: opts.envFiles, profiles: opts.profiles, env: opts.env, cwd });
  const dir = path.resolve(cwd, opts.outDir ?? '.');
  const stack = opts.stack ?? suggestName(project.name);
  const problem = checkName('stack', stack);
  if (problem) throw new InvalidArgumentError(`${problem}; pass --stack`);
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new InvalidArgumentError(`${dir} exists and is not a directory; choose another -o`);

  const mainPath = path.join(dir, 'main.ts');
  if (exists(mainPath) && !/^\/\/ Imported from .* by `cdk-docker import compose`\./.test(firstLine(mainPath))) {
    throw new ConflictError(`${mainPath} exists and was not written by \`cdk-docker import compose\`; import into another directory (-o) or move it away`);
  }
  const gen = generateStack(project, { outDir: dir, stackName: stack, env: opts.env });
  const { written, newProject } = writeProject(dir, stack, gen.mainTs, gen.className, opts.librarySpec);
  return {
    dir,
    stack,
    written,
    newProject,
    notImported: gen.notImported,
    warnings: [...project.warnings, ...gen.notes],
    keys: gen.keys,
  };
}
