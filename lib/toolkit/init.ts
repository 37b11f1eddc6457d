import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CdkDockerError, ConflictError, InvalidArgumentError } from '../core/errors';
import { checkName, suggestName } from '../core/names';
import { packageRoot, packageVersion } from '../core/package-info';

/** A project template under `templates/<language>-<name>`. */
export interface TemplateInfo {
  readonly name: string;
  readonly language: string;
  readonly dir: string;
}

export interface InitOptions {
  /** Template name. @default "app" */
  readonly template?: string;
  /** @default "typescript" */
  readonly language?: string;
  /** Directory to create the project in; it must be empty (dot files aside). */
  readonly dir: string;
  /** Stack and package name. @default the directory's name, made valid */
  readonly name?: string;
  /** Version spec of the cdk-docker dependency. @default see `defaultLibrarySpec` */
  readonly librarySpec?: string;
  /** Run `npm install`. @default true */
  readonly install?: boolean;
  /** Where npm's output goes. @default process.stderr */
  readonly log?: NodeJS.WritableStream;
}

/** Files whose names npm would drop or misread in a published package, renamed on copy. */
const RENAMES: Record<string, string> = { gitignore: '.gitignore', 'package.json.tmpl': 'package.json' };

/** The templates this package ships. */
export function listTemplates(): TemplateInfo[] {
  const root = path.join(packageRoot(), 'templates');
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name.includes('-'))
    .map((e) => {
      const i = e.name.indexOf('-');
      return { language: e.name.slice(0, i), name: e.name.slice(i + 1), dir: path.join(root, e.name) };
    })
    .sort((a, b) => `${a.language}-${a.name}`.localeCompare(`${b.language}-${b.name}`));
}

/**
 * The dependency spec a new project gets: this CLI's own version from the registry, or — when
 * the CLI runs from a source checkout rather than an installed package — `file:` that checkout,
 * so a project made by a development build uses that build.
 */
export function defaultLibrarySpec(): string {
  const root = packageRoot();
  return root.split(path.sep).includes('node_modules') ? `^${packageVersion()}` : `file:${root}`;
}

/** The exported Stack class of a project: `shop-front` → `ShopFrontStack`. */
export function stackClassName(name: string): string {
  const id = name.split(/[^A-Za-z0-9]+/).filter(Boolean).map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
  return `${/^[0-9]/.test(id) ? '_' : ''}${id}Stack`;
}

function isEmptyEnough(dir: string): boolean {
  return fs.readdirSync(dir).every((f) => f.startsWith('.'));
}

/** Creates a project from a template and (unless told not to) installs its dependencies. */
export function initProject(opts: InitOptions): { dir: string; name: string; template: TemplateInfo; installed: boolean } {
  const language = opts.language ?? 'typescript';
  const templateName = opts.template ?? 'app';
  const templates = listTemplates();
  const template = templates.find((t) => t.name === templateName && t.language === language);
  if (!template) {
    const known = templates.map((t) => `${t.name} (--language ${t.language})`).join(', ');
    throw new InvalidArgumentError(`no template "${templateName}" for language "${language}"; available: ${known}`);
  }

  const dir = path.resolve(opts.dir);
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new ConflictError(`${dir} exists and is not a directory; choose another directory`);
    if (!isEmptyEnough(dir)) {
      throw new ConflictError(`\`cdk-docker init\` cannot be run in a non-empty directory: ${dir} already has ${fs.readdirSync(dir).filter((f) => !f.startsWith('.')).slice(0, 3).join(', ')}…; run it in a new directory`);
    }
  }

  const name = opts.name ?? suggestName(path.basename(dir).toLowerCase());
  const problem = checkName('project', name);
  if (problem) throw new InvalidArgumentError(`${problem}; pass --name`);

  const values: Record<string, string> = { name, stackClass: stackClassName(name), cdkDockerSpec: opts.librarySpec ?? defaultLibrarySpec(), cdkDockerVersion: packageVersion() };
  fs.mkdirSync(dir, { recursive: true });
  const copy = (from: string, to: string) => {
    for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
      const src = path.join(from, entry.name);
      const dst = path.join(to, RENAMES[entry.name] ?? entry.name);
      if (entry.isDirectory()) {
        fs.mkdirSync(dst, { recursive: true });
        copy(src, dst);
      } else {
        const text = fs.readFileSync(src, 'utf8').replace(/\{\{(\w+)\}\}/g, (m, key: string) => values[key] ?? m);
        fs.writeFileSync(dst, text);
      }
    }
  };
  copy(template.dir, dir);

  let installed = false;
  if (opts.install !== false) {
    const log = opts.log ?? process.stderr;
    log.write('Installing dependencies with npm install…\n');
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8' });
    log.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    if (r.error || r.status !== 0) {
      throw new CdkDockerError(`npm install failed in ${dir} (${r.error?.message ?? `exit code ${r.status}`}); the project files are in place: fix the cause above and run \`npm install\` there`);
    }
    installed = true;
  }
  return { dir, name, template, installed };
}
