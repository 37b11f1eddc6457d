import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Document, isMap, isPair, isScalar, parseDocument, Scalar, ScalarTag, YAMLMap } from 'yaml';
import { InvalidArgumentError } from '../../core/errors';
import { InterpolationError, interpolateTree, parseDotEnv, Variables } from './interpolate';
import { composeSchemaProblem } from './validate';

/** A service after interpolation, merge, `extends` and path resolution (keys as in the file). */
export type ComposeService = Record<string, unknown>;

/** Comments of the YAML, by where they stood: `services.web`, `services.web.ports`, `networks.front`. */
export type Comments = { [where: string]: string };

/** A compose project as Compose would model it, ready for code generation. */
export interface ComposeProject {
  /** Project name: `name:`, else COMPOSE_PROJECT_NAME, else the directory's name. */
  readonly name: string;
  /** Whether the file fixed the name (`name:`), so resources keep compose's names. */
  readonly nameFixed: boolean;
  /** The project directory (that of the first file): relative paths in the model are absolute now. */
  readonly dir: string;
  /** The files read, in order. */
  readonly files: string[];
  /** Enabled services, in the order they first appear. */
  readonly services: { [name: string]: ComposeService };
  readonly networks: { [name: string]: Record<string, unknown> | null };
  readonly volumes: { [name: string]: Record<string, unknown> | null };
  readonly secrets: { [name: string]: Record<string, unknown> };
  readonly configs: { [name: string]: Record<string, unknown> };
  /** Comments carried over from the files. */
  readonly comments: Comments;
  /** Warnings Compose would print (unset variables, profiles). */
  readonly warnings: string[];
  /** Top-level keys the model does not carry (`include`, `models`…), for the importer to report. */
  readonly otherKeys: string[];
}

export interface LoadComposeOptions {
  /** Compose files, in merge order. @default compose.yaml (or its other names) in `cwd` */
  readonly files?: string[];
  /** Env files for interpolation. @default `.env` in the project directory, if it exists */
  readonly envFiles?: string[];
  /** Profiles to enable, besides those in COMPOSE_PROFILES. */
  readonly profiles?: string[];
  /** The environment. @default process.env */
  readonly env?: Variables;
  /** @default process.cwd() */
  readonly cwd?: string;
  /** Files that include this one, to refuse a cycle. @internal */
  readonly _includeChain?: string[];
}

/**
 * `0440` is octal to Compose (Go's YAML reads YAML 1.1 integers), as file modes are written in
 * compose files; YAML 1.2 would read it as decimal 440.
 */
const LEGACY_OCTAL: ScalarTag = {
  identify: () => false,
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: /^0[0-7]+$/,
  resolve: (s: string) => parseInt(s, 8),
};

const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

/** Reads, interpolates, validates and merges compose files as Compose does. */
export function loadCompose(opts: LoadComposeOptions = {}): ComposeProject {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  let files = (opts.files ?? []).map((f) => path.resolve(cwd, f));
  if (files.length === 0) {
    const found = DEFAULT_FILES.map((f) => path.join(cwd, f)).find((f) => fs.existsSync(f));
    if (!found) throw new InvalidArgumentError(`no compose file in ${cwd} (looked for ${DEFAULT_FILES.join(', ')}); pass one with -f`);
    files = [found];
  }
  const dir = path.dirname(files[0]);

  // Variables: the env files (later ones win), then the process environment over them.
  const fileVars: Record<string, string> = {};
  const envFiles = opts.envFiles?.map((f) => path.resolve(cwd, f)) ?? (fs.existsSync(path.join(dir, '.env')) ? [path.join(dir, '.env')] : []);
  for (const f of envFiles) {
    const text = readText(f, 'env file');
    try {
      Object.assign(fileVars, parseDotEnv(text, { ...fileVars, ...env }, rel(f)));
    } catch (e) {
      if (e instanceof InterpolationError) throw new InvalidArgumentError(`${e.message}; fix the env file`);
      throw e;
    }
  }
  const vars: Variables = { ...fileVars, ...definedOnly(env) };

  const warnings: string[] = [];
  const unset = new Set<string>();
  const loader = new FileLoader(vars, (name) => {
    if (!unset.has(name)) {
      unset.add(name);
      warnings.push(`The "${name}" variable is not set. Defaulting to a blank string.`);
    }
  });

  const comments: Comments = {};
  let merged: Record<string, unknown> = {};
  for (const [i, f] of files.entries()) {
    // Paths of every -f file are relative to the project directory, as Compose has it.
    const doc = loader.load(f, dir);
    if (i === 0) Object.assign(comments, collectComments(loader.document(f)));
    // `include`: each included project is loaded on its own (its directory, its .env) and its
    // resources added; one that defines a resource again is refused, as Compose refuses it.
    for (const entry of (doc.include ?? []) as Array<string | { path: string | string[]; project_directory?: string; env_file?: string | string[] }>) {
      const e = typeof entry === 'string' ? { path: entry } : entry;
      const paths = (Array.isArray(e.path) ? e.path : [e.path]).map((p) => path.resolve(path.dirname(f), p));
      const chain = opts._includeChain ?? [];
      if (paths.some((p) => chain.includes(p) || files.includes(p))) throw new InvalidArgumentError(`${rel(f)}: include of ${paths.map(rel).join(', ')} makes a cycle; remove one of the includes`);
      const inner = loadCompose({
        files: paths,
        cwd: e.project_directory ? path.resolve(path.dirname(f), e.project_directory) : path.dirname(paths[0]),
        envFiles: e.env_file === undefined ? undefined : (Array.isArray(e.env_file) ? e.env_file : [e.env_file]).map((x) => path.resolve(path.dirname(f), x)),
        profiles: opts.profiles,
        env,
        _includeChain: [...chain, ...files],
      });
      warnings.push(...inner.warnings);
      for (const section of ['services', 'networks', 'volumes', 'secrets', 'configs'] as const) {
        const target = ((merged[section] ??= {}) as Record<string, unknown>);
        for (const [k, v] of Object.entries(inner[section])) {
          if (k in target || (((doc[section] ?? {}) as Record<string, unknown>)[k] !== undefined && section === 'services')) {
            throw new InvalidArgumentError(`${rel(f)}: ${section.slice(0, -1)} "${k}" of the included ${rel(paths[0])} is defined again; rename one of them`);
          }
          target[k] = v;
        }
      }
    }
    delete doc.include;
    merged = mergeTop(merged, doc);
    // `!reset` removes what earlier files set; `!override` replaces it instead of merging (13-merge.md).
    const { resets, overrides } = loader.directives(f);
    for (const p of resets) deletePath(merged, p);
    for (const p of overrides) {
      const v = getPath(doc, p);
      if (v !== undefined) setPath(merged, p, v);
    }
  }

  const rawName = typeof merged.name === 'string' && merged.name !== '' ? merged.name : vars.COMPOSE_PROJECT_NAME ?? path.basename(dir);
  const name = rawName.toLowerCase().replace(/[^a-z0-9_-]/g, '');
  if (name === '') throw new InvalidArgumentError(`project name "${rawName}" has no letter or digit; set "name:" in ${rel(files[0])} or pass --stack`);

  const allServices = (merged.services ?? {}) as Record<string, ComposeService>;
  const active = new Set([...(opts.profiles ?? []), ...(vars.COMPOSE_PROFILES ?? '').split(',').map((p) => p.trim()).filter(Boolean)]);
  const services: Record<string, ComposeService> = {};
  for (const [svcName, svc] of Object.entries(allServices)) {
    const profiles = (svc.profiles as string[] | undefined) ?? [];
    if (profiles.length === 0 || profiles.some((p) => active.has(p) || p === '*') || active.has('*')) services[svcName] = svc;
  }
  checkReferences(services, allServices, files[0]);

  return {
    name,
    nameFixed: typeof merged.name === 'string' && merged.name !== '',
    dir,
    files,
    services,
    networks: (merged.networks ?? {}) as ComposeProject['networks'],
    volumes: (merged.volumes ?? {}) as ComposeProject['volumes'],
    secrets: (merged.secrets ?? {}) as ComposeProject['secrets'],
    configs: (merged.configs ?? {}) as ComposeProject['configs'],
    comments,
    warnings,
    otherKeys: Object.keys(merged).filter((k) => !['name', 'version', 'services', 'networks', 'volumes', 'secrets', 'configs'].includes(k) && !k.startsWith('x-')),
  };
}

/** Loads single files (interpolated, validated, `extends` resolved, paths absolute), each once. */
class FileLoader {
  private readonly docs = new Map<string, Document>();
  private readonly raw = new Map<string, Record<string, unknown>>();

  constructor(private readonly vars: Variables, private readonly missing: (name: string) => void) {}

  private readonly tagged = new Map<string, { resets: string[][]; overrides: string[][] }>();

  /** The `!reset` and `!override` paths of a file. */
  public directives(file: string): { resets: string[][]; overrides: string[][] } {
    return this.tagged.get(file) ?? { resets: [], overrides: [] };
  }

  public document(file: string): Document {
    return this.docs.get(file)!;
  }

  /** The file's model with relative paths resolved against `base`. */
  public load(file: string, base: string): Record<string, unknown> {
    const doc = this.parsed(file);
    const out = { ...doc };
    const services: Record<string, ComposeService> = {};
    for (const svcName of Object.keys((doc.services ?? {}) as object)) services[svcName] = this.service(file, svcName, base, []);
    if (doc.services !== undefined) out.services = services;
    for (const section of ['secrets', 'configs'] as const) {
      const items = doc[section] as Record<string, Record<string, unknown>> | undefined;
      if (!items) continue;
      out[section] = Object.fromEntries(Object.entries(items).map(([k, v]) => [k, v && typeof v.file === 'string' ? { ...v, file: hostPath(base, v.file) } : v]));
    }
    return out;
  }

  /** Parsed, interpolated and schema-checked content of a file (not yet path-resolved). */
  private parsed(file: string): Record<string, unknown> {
    const cached = this.raw.get(file);
    if (cached) return cached;
    const text = readText(file, 'compose file');
    const doc = parseDocument(text, { merge: true, prettyErrors: true, uniqueKeys: true, customTags: (tags) => [LEGACY_OCTAL, ...tags] });
    const err = doc.errors[0];
    if (err) {
      const line = err.linePos?.[0];
      throw new InvalidArgumentError(`${rel(file)}${line ? `:${line.line}:${line.col}` : ''}: not valid YAML: ${err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}; fix the file`);
    }
    const directives = { resets: [] as string[][], overrides: [] as string[][] };
    takeDirectives(doc.contents, [], directives);
    this.tagged.set(file, directives);
    let js: unknown;
    try {
      js = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      throw new InvalidArgumentError(`${rel(file)}: ${(e as Error).message.split('\n')[0]}; fix the file`);
    }
    if (js === null || js === undefined) js = {};
    if (typeof js !== 'object' || Array.isArray(js)) throw new InvalidArgumentError(`${rel(file)}: a compose file must be a mapping with "services:", not ${Array.isArray(js) ? 'a list' : `a ${typeof js}`}`);
    const interpolated = interpolateTree(js, this.vars, (p, m) => {
      throw new InvalidArgumentError(`${rel(file)}: ${describePath(p)}${m}`);
    }, this.missing) as Record<string, unknown>;
    const problem = composeSchemaProblem(interpolated);
    if (problem) throw new InvalidArgumentError(`${rel(file)}: ${problem}`);
    this.docs.set(file, doc);
    this.raw.set(file, interpolated);
    return interpolated;
  }

  /** One service with `extends` resolved and paths made absolute. */
  private service(file: string, name: string, base: string, chain: string[]): ComposeService {
    const key = `${file}#${name}`;
    if (chain.includes(key)) throw new InvalidArgumentError(`${rel(file)}: service "${name}": extends makes a cycle (${[...chain, key].map((k) => k.replace(/^.*\//, '').replace('#', ' service ')).join(' → ')})`);
    const services = (this.parsed(file).services ?? {}) as Record<string, ComposeService>;
    // Own keys only: `extends: toString` names no service, whatever Object.prototype has.
    const svc = has(services, name) ? services[name] : undefined;
    if (svc === undefined) throw new InvalidArgumentError(`${rel(file)}: no service "${name}" to extend; check extends.service`);
    let own = resolvePaths(normalizeService(svc ?? {}), base);
    const ext = own.extends as string | { service: string; file?: string } | undefined;
    delete own.extends;
    if (ext !== undefined) {
      const target = typeof ext === 'string' ? { service: ext } : ext;
      const other = target.file ? path.resolve(path.dirname(file), target.file) : file;
      const otherBase = target.file ? path.dirname(other) : base;
      const parent = this.service(other, target.service, otherBase, [...chain, key]);
      own = mergeService(parent, own);
    }
    return own;
  }
}

/** Records and takes out `!reset` entries, and records and untags `!override` ones, at mapping keys. */
function takeDirectives(node: unknown, at: string[], out: { resets: string[][]; overrides: string[][] }): void {
  if (!isMap(node)) return;
  const map = node as YAMLMap;
  for (const pair of [...map.items]) {
    if (!isPair(pair) || !isScalar(pair.key)) continue;
    const key = String((pair.key as Scalar).value);
    const value = pair.value as { tag?: string } | null;
    if (value && value.tag === '!reset') {
      out.resets.push([...at, key]);
      map.items.splice(map.items.indexOf(pair), 1);
      continue;
    }
    if (value && value.tag === '!override') {
      out.overrides.push([...at, key]);
      value.tag = undefined;
    }
    takeDirectives(pair.value, [...at, key], out);
  }
}

function getPath(obj: unknown, p: string[]): unknown {
  let cur = obj;
  for (const k of p) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, p: string[], v: unknown): void {
  const parent = getPath(obj, p.slice(0, -1));
  if (isPlainObject(parent)) parent[p[p.length - 1]] = v;
}

function deletePath(obj: Record<string, unknown>, p: string[]): void {
  const parent = getPath(obj, p.slice(0, -1));
  if (isPlainObject(parent)) delete parent[p[p.length - 1]];
}

/** Puts the list forms into the mapping forms that merging needs (environment, labels, …). */
function normalizeService(svc: ComposeService): ComposeService {
  const out: ComposeService = { ...svc };
  for (const k of ['environment', 'labels', 'extra_hosts', 'sysctls', 'annotations']) {
    if (Array.isArray(out[k])) out[k] = listToMap(out[k] as string[], k === 'extra_hosts' ? /[=:]/ : /=/, k === 'environment');
  }
  if (out.build && typeof out.build === 'object' && Array.isArray((out.build as Record<string, unknown>).args)) {
    out.build = { ...(out.build as object), args: listToMap((out.build as { args: string[] }).args, /=/, true) };
  }
  if (Array.isArray(out.depends_on)) out.depends_on = Object.fromEntries((out.depends_on as string[]).map((d) => [d, { condition: 'service_started' }]));
  if (Array.isArray(out.networks)) out.networks = Object.fromEntries((out.networks as string[]).map((n) => [n, null]));
  return out;
}

/** `["A=1", "B"]` → `{A: "1", B: null}` (a name without a value: from the environment). */
function listToMap(list: unknown[], sep: RegExp, allowBare: boolean): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const item of list) {
    const s = String(item);
    const m = sep.exec(s);
    if ((m ? s.slice(0, m.index) : s) === '__proto__') throw new InvalidArgumentError(`"${s}": __proto__ cannot be a name here (it would be lost); rename it`);
    if (!m) out[s] = allowBare ? null : '';
    else out[s.slice(0, m.index)] = s.slice(m.index + 1);
  }
  return out;
}

/** Host paths in a service made absolute against `base`: build context, env files, bind sources. */
function resolvePaths(svc: ComposeService, base: string): ComposeService {
  const out: ComposeService = { ...svc };
  if (typeof out.build === 'string') out.build = { context: out.build };
  if (out.build && typeof out.build === 'object') {
    const b = out.build as Record<string, unknown>;
    const context = String(b.context ?? '.');
    out.build = { ...b, context: /^[a-z]+:\/\//.test(context) || context.startsWith('git@') ? context : hostPath(base, context) };
  }
  if (out.env_file !== undefined) {
    const list = Array.isArray(out.env_file) ? out.env_file : [out.env_file];
    out.env_file = list.map((e) => (typeof e === 'string' ? { path: hostPath(base, e), required: true } : { ...(e as object), path: hostPath(base, String((e as { path: string }).path)) }));
  }
  const develop = out.develop as { watch?: Array<Record<string, unknown>> } | undefined;
  if (develop && Array.isArray(develop.watch)) {
    out.develop = { ...develop, watch: develop.watch.map((w) => (typeof w.path === 'string' ? { ...w, path: hostPath(base, w.path) } : w)) };
  }
  if (Array.isArray(out.volumes)) {
    out.volumes = (out.volumes as unknown[]).map((v) => {
      if (typeof v === 'string') {
        const parts = splitVolume(v);
        if (parts.length >= 2 && isHostPath(parts[0])) return [hostPath(base, parts[0]), ...parts.slice(1)].join(':');
        return v;
      }
      const o = v as Record<string, unknown>;
      if (o.type === 'bind' && typeof o.source === 'string') return { ...o, source: hostPath(base, o.source) };
      return v;
    });
  }
  return out;
}

/** Splits a volume short syntax, keeping a Windows-style drive letter out of the question. */
export function splitVolume(v: string): string[] {
  return v.split(':');
}

/** A short-syntax source that is a host path rather than a volume name. */
export function isHostPath(source: string): boolean {
  return source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
}

function hostPath(base: string, p: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(os.homedir(), p.slice(1));
  return path.resolve(base, p);
}

/** Merges two whole files: services by name, the other sections as mappings. */
function mergeTop(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (k === 'services') {
      const services: Record<string, ComposeService> = { ...((base.services ?? {}) as Record<string, ComposeService>) };
      for (const [name, svc] of Object.entries((v ?? {}) as Record<string, ComposeService>)) services[name] = services[name] ? mergeService(services[name], svc) : svc;
      out.services = services;
    } else if (['networks', 'volumes', 'secrets', 'configs'].includes(k)) {
      out[k] = mergeMap((base[k] ?? {}) as Record<string, unknown>, (v ?? {}) as Record<string, unknown>);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Merges an overriding service into a base one by the Compose Specification's rules (13-merge.md). */
export function mergeService(base: ComposeService, over: ComposeService): ComposeService {
  const out: ComposeService = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = base[k];
    if (b === undefined || v === null || b === null) {
      out[k] = v;
    } else if (k === 'command' || k === 'entrypoint' || k === 'image') {
      out[k] = v;
    } else if (k === 'healthcheck' && typeof v === 'object' && typeof b === 'object') {
      out[k] = { ...(b as object), ...(v as object) };
    } else if (k === 'build' && typeof v === 'object' && typeof b === 'object') {
      out[k] = mergeMap(b as Record<string, unknown>, v as Record<string, unknown>);
    } else if (k === 'ports' || k === 'volumes' || k === 'secrets' || k === 'configs') {
      out[k] = mergeUnique(b as unknown[], v as unknown[], k);
    } else if (Array.isArray(b) && Array.isArray(v)) {
      out[k] = [...b, ...v.filter((x) => !b.some((y) => JSON.stringify(y) === JSON.stringify(x)))];
    } else if (isPlainObject(b) && isPlainObject(v)) {
      out[k] = mergeMap(b, v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

function mergeMap(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = base[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? mergeMap(b, v) : v;
  }
  return out;
}

/** Sequences whose entries are unique by a key: a later entry with the same key replaces the earlier. */
function mergeUnique(base: unknown[], over: unknown[], kind: string): unknown[] {
  const keyOf = (x: unknown): string => {
    if (kind === 'volumes') {
      if (typeof x === 'string') {
        const parts = splitVolume(x);
        return parts.length === 1 ? parts[0] : parts[1];
      }
      return String((x as { target?: string }).target);
    }
    if (kind === 'secrets' || kind === 'configs') {
      if (typeof x === 'string') return `/run/secrets/${x}`;
      const o = x as { source: string; target?: string };
      return o.target ?? o.source;
    }
    return JSON.stringify(x);
  };
  const out = [...base];
  for (const v of over) {
    const i = out.findIndex((b) => keyOf(b) === keyOf(v));
    if (i >= 0) out[i] = v;
    else out.push(v);
  }
  return out;
}

/** Whether `key` is an own key of `o` (a service named `constructor` or `toString` is no service). */
export function has(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** Services that refer to one not enabled (or not there) are refused, as Compose refuses them. */
function checkReferences(services: Record<string, ComposeService>, all: Record<string, ComposeService>, file: string): void {
  for (const [name, svc] of Object.entries(services)) {
    const refs: Array<[string, string]> = [];
    for (const d of Object.keys((svc.depends_on ?? {}) as object)) refs.push(['depends_on', d]);
    for (const v of (svc.volumes_from ?? []) as string[]) if (!v.startsWith('container:')) refs.push(['volumes_from', v.replace(/^service:/, '').split(':')[0]]);
    if (typeof svc.network_mode === 'string' && svc.network_mode.startsWith('service:')) refs.push(['network_mode', svc.network_mode.slice(8)]);
    for (const [key, ref] of refs) {
      const dep = (svc.depends_on as Record<string, { required?: boolean }> | undefined)?.[ref];
      if (has(services, ref)) continue;
      if (key === 'depends_on' && dep?.required === false) continue;
      if (has(all, ref)) throw new InvalidArgumentError(`${rel(file)}: service "${name}": ${key} refers to service "${ref}", which no active profile enables; enable its profile with --profile ${((all[ref].profiles as string[]) ?? [])[0]}`);
      throw new InvalidArgumentError(`${rel(file)}: service "${name}": ${key} refers to undefined service "${ref}"; define it or remove the reference`);
    }
  }
}

function describePath(p: string[]): string {
  if (p[0] === 'services' && p.length >= 2) return `service "${p[1]}": ${p.length > 2 ? `key "${p.slice(2).join('.')}": ` : ''}`;
  return p.length > 0 ? `${p.join('.')}: ` : '';
}

function readText(file: string, what: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new InvalidArgumentError(`${what} ${rel(file)} does not exist; check the path`);
  }
  if (!st.isFile()) throw new InvalidArgumentError(`${what} ${rel(file)} is not a file`);
  if (st.size > 8 * 1024 * 1024) throw new InvalidArgumentError(`${what} ${rel(file)} is ${st.size} bytes, more than the 8 MiB a ${what} may have`);
  const buf = fs.readFileSync(file);
  const text = buf.toString('utf8');
  if (text.includes('\uFFFD') && !Buffer.from(text, 'utf8').equals(buf)) throw new InvalidArgumentError(`${what} ${rel(file)} is not UTF-8 text`);
  return text;
}

function rel(file: string): string {
  const r = path.relative(process.cwd(), file);
  return r && !r.startsWith('..') ? r : file;
}

function definedOnly(env: Variables): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** The comments of the first file: before each service, each of its keys, each top-level entry. */
function collectComments(doc: Document): Comments {
  const out: Comments = {};
  const text = (s?: string | null) => (s ?? '').split('\n').map((l) => l.replace(/^ ?/, '')).join('\n').trim();
  const add = (where: string, c?: string | null) => {
    const t = text(c);
    if (t) out[where] = out[where] ? `${out[where]}\n${t}` : t;
  };
  const root = doc.contents;
  if (!isMap(root)) return out;
  add('', doc.commentBefore);
  // A comment before the first entry of a mapping is the mapping's; it belongs to that entry.
  const entries = (map: YAMLMap) =>
    map.items.filter(isPair).filter((p) => isScalar(p.key)).map((p, i) => ({ key: String((p.key as Scalar).value), pair: p, before: [i === 0 ? map.commentBefore : undefined, (p.key as Scalar).commentBefore].filter(Boolean).join('\n') }));
  for (const top of entries(root as YAMLMap)) {
    const section = top.key;
    add(['services', 'networks', 'volumes', 'secrets', 'configs'].includes(section) ? section : '', top.before);
    if (!isMap(top.pair.value)) continue;
    for (const entry of entries(top.pair.value as YAMLMap)) {
      add(`${section}.${entry.key}`, entry.before);
      if (!isMap(entry.pair.value)) continue;
      for (const kv of entries(entry.pair.value as YAMLMap)) {
        const where = `${section}.${entry.key}.${kv.key}`;
        add(where, kv.before);
        const value = kv.pair.value as { comment?: string | null; commentBefore?: string | null } | null;
        if (value && isScalar(value)) add(where, value.comment);
        else if (value) add(where, value.commentBefore);
      }
    }
  }
  return out;
}
