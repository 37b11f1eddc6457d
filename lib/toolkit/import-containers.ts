import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../core/errors';
import { checkName, suggestName } from '../core/names';
import type { Driver, ImageDefaults } from '../drivers/types';
import { generateStack, NotImported } from '../import/compose/generate';
import { COMPOSE_LABELS, containersModel } from '../import/containers/model';
import { defaultLibrarySpec, listTemplates } from './init';

export interface ImportContainersOptions {
  /** The engine's driver. */
  readonly driver: Driver;
  /** Container names to import. @default - every container the filters select */
  readonly names?: readonly string[];
  /** `--filter label=KEY` or `label=KEY=VALUE`, as `docker ps --filter`; all must match. */
  readonly filters?: readonly string[];
  /** `--compose-project`: the containers of this Compose project. */
  readonly composeProject?: string;
  /** `-o`: the project directory. @default `cwd` */
  readonly outDir?: string;
  /** `--stack`. @default the compose project, else "containers" */
  readonly stack?: string;
  /** Version spec of the cdk-docker dependency of a new project. */
  readonly librarySpec?: string;
  /** @default process.cwd() */
  readonly cwd?: string;
}

export interface ImportContainersResult {
  readonly dir: string;
  readonly stack: string;
  /** Files written (relative to `dir`). */
  readonly written: string[];
  readonly newProject: boolean;
  /** The containers imported, by name. */
  readonly containers: string[];
  readonly notImported: NotImported[];
  readonly warnings: string[];
}

/** A `--filter` as a label test. */
function labelFilter(f: string): (labels: { readonly [k: string]: string }) => boolean {
  const m = /^label=([^=]+)(?:=(.*))?$/s.exec(f);
  if (!m) throw new InvalidArgumentError(`--filter ${f}: only label filters are supported (label=KEY or label=KEY=VALUE)`);
  const [, key, value] = m;
  return (labels) => labels[key] !== undefined && (value === undefined || labels[key] === value);
}

/**
 * `cdk-docker import containers`: writes the TypeScript project whose stack describes existing
 * containers (those without cdk-docker's labels) with their networks and volumes, names kept, so
 * that `apply` of it adopts them. Writes nothing when no container matches.
 */
export async function importContainers(opts: ImportContainersOptions): Promise<ImportContainersResult> {
  const { driver } = opts;
  if (!driver.unmanaged) throw new InvalidArgumentError(`the ${driver.name} engine cannot list containers it did not make; import from the built-in engine or Docker`);
  const tests = (opts.filters ?? []).map(labelFilter);
  if (opts.composeProject !== undefined) tests.push((l) => l[COMPOSE_LABELS.project] === opts.composeProject);
  const cwd = opts.cwd ?? process.cwd();
  const dir = path.resolve(cwd, opts.outDir ?? '.');
  const stack = opts.stack ?? suggestName(opts.composeProject ?? 'containers');
  const problem = checkName('stack', stack);
  if (problem) throw new InvalidArgumentError(`${problem}; pass --stack`);
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new InvalidArgumentError(`${dir} exists and is not a directory; choose another -o`);

  // Another person's main.ts is never overwritten; one an import wrote is (importing again refreshes it).
  const mainPath = path.join(dir, 'main.ts');
  if (fs.existsSync(mainPath) && !/^\/\/ Imported from .* by `cdk-docker import (compose|containers)`/.test(fs.readFileSync(mainPath, 'utf8'))) {
    throw new ConflictError(`${mainPath} exists and was not written by \`cdk-docker import\`; import into another directory (-o) or move it away`);
  }

  const all = await driver.unmanaged();
  const names = opts.names ?? [];
  const missing = names.filter((n) => !all.containers.some((c) => c.name === n));
  if (missing.length > 0) {
    throw new NotFoundError(`no container ${missing.join(', ')} without cdk-docker's labels on the ${driver.name} engine; check the names (a stack's own containers are in its code already)`);
  }
  const chosen = all.containers.filter((c) => (names.length === 0 || names.includes(c.name)) && tests.every((t) => t(c.labels)));
  if (chosen.length === 0) {
    throw new NotFoundError(`no container on the ${driver.name} engine matches${opts.composeProject !== undefined ? ` compose project ${opts.composeProject}` : ''}${opts.filters?.length ? ` ${opts.filters.join(' ')}` : ''}; nothing written`);
  }
  const images = new Map<string, ImageDefaults | undefined>();
  for (const c of chosen) if (!images.has(c.imageId)) images.set(c.imageId, (await driver.image(c.imageId))?.config);
  const model = containersModel({ containers: chosen, networks: all.networks, volumes: all.volumes, images, defaults: driver.capabilities.defaults, name: stack, dir });
  const what = opts.composeProject !== undefined ? `the containers of the compose project ${JSON.stringify(opts.composeProject)}` : `${chosen.length} container${chosen.length === 1 ? '' : 's'}`;
  const gen = generateStack(model, {
    outDir: dir,
    stackName: stack,
    env: {},
    origin: {
      header: `// Imported from ${what} of the ${driver.name} engine by \`cdk-docker import containers\`: \`cdk-docker apply\` adopts them.`,
      description: `/** ${chosen.map((c) => c.name).join(', ')}, as they ran when imported. */`,
    },
  });
  const { written, newProject } = writeProject(dir, stack, gen.mainTs, gen.className, opts.librarySpec);
  return { dir, stack, written, newProject, containers: chosen.map((c) => c.name), notImported: gen.notImported, warnings: [...model.warnings, ...gen.notes] };
}

/** Writes main.ts, cdk-docker.json when missing, and the project files when the directory is new (as `import compose`). */
function writeProject(dir: string, stack: string, mainTs: string, stackClass: string, librarySpec: string | undefined): { written: string[]; newProject: boolean } {
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
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, target);
  }
  return { written: files.map(([n]) => n), newProject };
}
