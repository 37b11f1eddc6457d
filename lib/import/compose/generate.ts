import * as fs from 'node:fs';
import * as path from 'node:path';
import { IndentationText, NewLineKind, Project, QuoteKind } from 'ts-morph';
import { className, Code, code, Commented, commentText, identifier, print, quote, RESERVED } from './code';
import { features, Features } from './features';
import { InvalidArgumentError } from '../../core/errors';
import { shellSplit } from '../../core/shell-words';
import { ComposeProject, ComposeService, has, isHostPath, splitVolume } from './load';

/** A compose key the constructs cannot express (yet). */
export interface NotImported {
  /** The service, or `""` for a top-level key. */
  readonly service: string;
  /** The key path, such as `tty` or `volumes[0] nocopy`. */
  readonly key: string;
  readonly why: string;
}

export interface GeneratedStack {
  /** The TypeScript of main.ts. */
  readonly mainTs: string;
  /** The exported Stack class. */
  readonly className: string;
  /** Keys not imported, in file order. */
  readonly notImported: NotImported[];
  /** Every service key met (for coverage figures): service → keys. */
  readonly keys: { [service: string]: string[] };
  /** Other notes (values taken from the environment at import). */
  readonly notes: string[];
}

export interface GenerateOptions {
  /** The directory the project is written to: paths in the code are relative to it. */
  readonly outDir: string;
  /** Stack name. @default the project name */
  readonly stackName: string;
  /** Environment for `environment:` entries that have no value. @default process.env */
  readonly env?: { readonly [name: string]: string | undefined };
  /** Where the model came from, for the file's first comment and the class's doc (import containers). @default the compose files */
  readonly origin?: { readonly header: string; readonly description: string };
}

/** Keys that need no code: they were applied while loading. */
const APPLIED_AT_LOAD = new Set(['extends', 'profiles']);

/** Keys the generator handles (all others are reported as not imported). */
const NO_PROP_YET: Record<string, string> = {
  links: 'legacy links have no construct; containers on a shared network reach each other by service name',
  external_links: 'legacy links have no construct',
  security_opt: 'no ContainerProps field for security options yet',
  domainname: 'no ContainerProps field for the domain name yet',
  mac_address: 'no ContainerProps field for a MAC address yet',
  cgroup_parent: 'no ContainerProps field for the cgroup parent yet',
  group_add: 'no ContainerProps field for supplementary groups yet',
  userns_mode: 'no ContainerProps field for the user namespace mode yet',
  isolation: 'no ContainerProps field for isolation yet',
  oom_kill_disable: 'no ContainerProps field for the OOM killer yet',
  oom_score_adj: 'no ContainerProps field for the OOM score yet',
  mem_reservation: 'no ContainerProps field for a memory reservation yet',
  memswap_limit: 'no ContainerProps field for swap yet',
  mem_swappiness: 'no ContainerProps field for swappiness yet',
  cpu_shares: 'no ContainerProps field for CPU shares yet',
  cpu_quota: 'no ContainerProps field for a CPU quota yet (use cpus)',
  cpu_period: 'no ContainerProps field for a CPU period yet (use cpus)',
  cpuset: 'no ContainerProps field for a cpuset yet',
  cpu_count: 'no ContainerProps field for a CPU count yet',
  cpu_percent: 'no ContainerProps field for a CPU percentage yet',
  cpu_rt_runtime: 'no ContainerProps field for real-time CPU yet',
  cpu_rt_period: 'no ContainerProps field for real-time CPU yet',
  blkio_config: 'no ContainerProps field for block I/O limits yet',
  storage_opt: 'no ContainerProps field for storage options yet',
  device_cgroup_rules: 'no ContainerProps field for device cgroup rules yet',
  credential_spec: 'Windows only',
  post_start: 'no ContainerProps field for lifecycle hooks yet',
  pre_stop: 'no ContainerProps field for lifecycle hooks yet',
  annotations: 'no ContainerProps field for annotations yet',
  attach: 'log attachment is a Compose CLI setting with no construct',
  uts: 'no ContainerProps field for the UTS namespace yet',
  cgroup: 'no ContainerProps field for the cgroup namespace yet',
  volume_driver: 'no ContainerProps field for a volume driver yet',
  gpus: 'no ContainerProps field for GPUs yet',
  provider: 'Compose providers have no construct',
  models: 'Compose models have no construct',
  label_file: 'label files have no construct yet',
  use_api_socket: 'no ContainerProps field for the API socket yet',
};

/** Generates main.ts for a loaded compose project. */
export function generateStack(project: ComposeProject, opts: GenerateOptions): GeneratedStack {
  return new Generator(project, opts, features()).run();
}

class Generator {
  private readonly notImported: NotImported[] = [];
  private readonly keys: { [service: string]: string[] } = {};
  private readonly notes: string[] = [];
  private readonly used = new Set<string>(RESERVED);
  private readonly imports = new Set<string>(['App', 'Stack']);
  private readonly statements: string[] = [];
  private readonly serviceVars = new Map<string, string>();
  private readonly networkVars = new Map<string, string>();
  private readonly volumeVars = new Map<string, string>();
  private readonly secretVars = new Map<string, string>();
  private readonly configVars = new Map<string, string>();
  /** The name each imported secret has in the constructs (its file's base name, its variable). */
  private readonly secretNames = new Map<string, string>();
  private readonly env: { readonly [name: string]: string | undefined };
  /** Construct ids taken in the stack: compose's services, networks and volumes may share a name, constructs may not. */
  private readonly ids = new Set<string>();

  constructor(private readonly project: ComposeProject, private readonly opts: GenerateOptions, private readonly f: Features) {
    this.env = opts.env ?? process.env;
  }

  public run(): GeneratedStack {
    const p = this.project;
    // Services keep their names as ids (their containers are named after them); a network or volume of the same name gives way.
    for (const n of Object.keys(p.services)) {
      if (n in Object.prototype) throw new InvalidArgumentError(`service "${n}": the constructs library cannot have a construct of that id (a name of JavaScript's Object.prototype); rename the service`);
      this.ids.add(n);
    }
    const usesDefault = Object.values(p.services).some((s) => s.network_mode === undefined && (s.networks === undefined || Object.keys(s.networks as object).length === 0));
    const networkNames = [...Object.keys(p.networks)];
    if (usesDefault && !networkNames.includes('default')) networkNames.push('default');
    const usedNetworks = new Set<string>(usesDefault ? ['default'] : []);
    for (const s of Object.values(p.services)) for (const n of Object.keys((s.networks ?? {}) as object)) usedNetworks.add(n);
    for (const n of networkNames) if (usedNetworks.has(n)) this.network(n, p.networks[n] ?? {});
    for (const [n, v] of Object.entries(p.volumes)) this.volume(n, v ?? {});
    for (const [n, v] of Object.entries(p.secrets)) this.secret(n, v);
    for (const [n, v] of Object.entries(p.configs)) this.config(n, v);
    for (const name of this.serviceOrder()) this.service(name, p.services[name]);
    const topLevel: Record<string, string> = {
      models: 'Compose models have no construct',
    };
    for (const k of p.otherKeys) this.miss('', k, topLevel[k] ?? 'no construct for it yet');
    if (p.otherKeys.length > 0) this.statements.unshift(p.otherKeys.map((k) => `// not imported: ${commentText(k)} — ${topLevel[k] ?? 'no construct for it yet'}`).join('\n'));
    return {
      mainTs: this.render(),
      className: `${className(this.opts.stackName)}Stack`,
      notImported: this.notImported,
      keys: this.keys,
      notes: this.notes,
    };
  }

  /** Services in file order, except that one is declared after those it refers to. */
  private serviceOrder(): string[] {
    const services = this.project.services;
    const order: string[] = [];
    const visiting = new Set<string>();
    const refs = (s: ComposeService): string[] => {
      const out = Object.keys((s.depends_on ?? {}) as object);
      for (const v of (s.volumes_from ?? []) as string[]) if (!v.startsWith('container:')) out.push(v.replace(/^service:/, '').split(':')[0]);
      if (typeof s.network_mode === 'string' && s.network_mode.startsWith('service:')) out.push(s.network_mode.slice(8));
      if (typeof s.ipc === 'string' && s.ipc.startsWith('service:')) out.push(s.ipc.slice(8));
      return out.filter((r) => has(services, r));
    };
    const visit = (n: string) => {
      if (order.includes(n) || visiting.has(n)) return;
      visiting.add(n);
      for (const r of refs(services[n])) visit(r);
      visiting.delete(n);
      order.push(n);
    };
    for (const n of Object.keys(services)) visit(n);
    return order;
  }

  private varName(base: string, suffix: string): string {
    let v = identifier(base);
    if (this.used.has(v)) v = `${v}${suffix}`;
    for (let i = 2; this.used.has(v); i++) v = `${identifier(base)}${suffix}${i}`;
    this.used.add(v);
    return v;
  }

  /** `wanted` as a construct id, or `wanted-kind` (then numbered) when the stack has it already. */
  private constructId(wanted: string, kind: string): string {
    let id = wanted;
    // `constructor`, `toString`…: the constructs library keeps children in a plain object.
    if (this.ids.has(id) || id in Object.prototype) id = `${wanted}-${kind}`;
    for (let i = 2; this.ids.has(id); i++) id = `${wanted}-${kind}${i}`;
    this.ids.add(id);
    return id;
  }

  private miss(service: string, key: string, why: string): void {
    this.notImported.push({ service, key, why });
  }

  private comment(where: string): string[] {
    const c = this.project.comments[where];
    return c ? c.split('\n') : [];
  }

  private rel(abs: string): string {
    const r = path.relative(this.opts.outDir, abs).split(path.sep).join('/');
    if (r === '') return '.';
    // A path that shares nothing with the project but the root reads better absolute.
    const up = r.split('/').filter((p) => p === '..').length;
    if (up > 0 && up >= path.resolve(this.opts.outDir).split(path.sep).filter(Boolean).length) return abs;
    return r.startsWith('../') || r === '..' ? r : `./${r}`;
  }

  private statement(comments: string[], text: string): void {
    this.statements.push([...comments.map((c) => `// ${commentText(c)}`.trimEnd()), text].join('\n'));
  }

  private network(name: string, n: Record<string, unknown>): void {
    const v = this.varName(name === 'default' ? 'defaultNetwork' : name, 'Network');
    this.networkVars.set(name, v);
    const comments = this.comment(`networks.${name}`);
    const missing: string[] = [];
    if (n.external === true || (typeof n.external === 'object' && n.external !== null)) {
      this.imports.add('Network');
      this.statement(comments, `const ${v} = Network.fromName(this, ${quote(this.constructId(name, 'network'))}, ${quote(String(n.name ?? name))});`);
      return;
    }
    const props: Record<string, unknown> = {};
    const id = this.constructId(name, 'network');
    if (typeof n.name === 'string') props.name = n.name;
    else if (this.project.nameFixed || id !== name) props.name = `${this.project.name}_${name}`;
    for (const [k, value] of Object.entries(n)) {
      switch (k) {
        case 'name':
          break;
        case 'driver':
          if (value === 'bridge' || (value === 'overlay' && this.f.network.has('driver'))) props.driver = value;
          else missing.push(`driver "${String(value)}" — only bridge and overlay networks are constructs`);
          break;
        case 'internal':
          props.internal = Boolean(value);
          break;
        case 'attachable':
          if (this.f.network.has('attachable')) props.attachable = Boolean(value);
          else missing.push('attachable — no NetworkProps field yet');
          break;
        case 'labels':
          props.labels = labelMap(value);
          break;
        case 'ipam': {
          const ipam = value as { driver?: string; config?: Array<Record<string, unknown>>; options?: unknown };
          if (ipam.driver !== undefined && ipam.driver !== 'default') missing.push(`ipam.driver "${ipam.driver}" — only the default IPAM`);
          if (ipam.options !== undefined) missing.push('ipam.options — no NetworkProps field');
          const configs = ipam.config ?? [];
          const v4 = configs.filter((c) => typeof c.subnet === 'string' && !String(c.subnet).includes(':'));
          if (v4.length > 1) missing.push('ipam.config — only one IPv4 subnet per network');
          for (const c of configs.filter((c) => typeof c.subnet === 'string' && String(c.subnet).includes(':'))) missing.push(`ipam.config subnet ${String(c.subnet)} — no IPv6 yet`);
          const c = v4[0];
          if (c) {
            props.subnet = c.subnet;
            if (c.gateway !== undefined) props.gateway = c.gateway;
            if (c.ip_range !== undefined) props.ipRange = c.ip_range;
            if (c.aux_addresses !== undefined) missing.push('ipam.config.aux_addresses — no NetworkProps field');
          }
          break;
        }
        case 'enable_ipv6':
          if (value) missing.push('enable_ipv6 — no IPv6 networks yet');
          break;
        case 'encrypted':
          if (this.f.network.has('encrypted')) props.encrypted = Boolean(value);
          else missing.push('encrypted — no NetworkProps field yet');
          break;
        case 'external':
          break;
        default:
          if (!k.startsWith('x-')) missing.push(`${k} — no NetworkProps field`);
      }
    }
    for (const m of missing) {
      const [key, why] = m.split(' — ');
      this.miss('', `networks.${name}.${key}`, why);
    }
    this.imports.add('Network');
    const notes = missing.map((m) => `not imported: ${m}`);
    const args = Object.keys(props).length > 0 ? `, ${print(props, 2)}` : '';
    this.statement([...comments, ...notes], `const ${v} = new Network(this, ${quote(id)}${args});`);
  }

  private volume(name: string, vol: Record<string, unknown>): void {
    const v = this.varName(name, 'Volume');
    this.volumeVars.set(name, v);
    const comments = this.comment(`volumes.${name}`);
    this.imports.add('Volume');
    if (vol.external === true || (typeof vol.external === 'object' && vol.external !== null)) {
      this.statement(comments, `const ${v} = Volume.fromName(this, ${quote(this.constructId(name, 'volume'))}, ${quote(String(vol.name ?? name))});`);
      return;
    }
    const props: Record<string, unknown> = {};
    const notes: string[] = [];
    const id = this.constructId(name, 'volume');
    if (typeof vol.name === 'string') props.name = vol.name;
    else if (this.project.nameFixed || id !== name) props.name = `${this.project.name}_${name}`;
    for (const [k, value] of Object.entries(vol)) {
      if (k === 'driver') props.driver = value;
      else if (k === 'driver_opts') props.driverOpts = Object.fromEntries(Object.entries(value as object).map(([a, b]) => [a, String(b)]));
      else if (k === 'labels') props.labels = labelMap(value);
      else if (k !== 'name' && k !== 'external' && !k.startsWith('x-')) {
        this.miss('', `volumes.${name}.${k}`, 'no VolumeProps field');
        notes.push(`not imported: ${k} — no VolumeProps field`);
      }
    }
    const args = Object.keys(props).length > 0 ? `, ${print(props, 2)}` : '';
    this.statement([...comments, ...notes], `const ${v} = new Volume(this, ${quote(id)}${args});`);
  }

  private secret(name: string, s: Record<string, unknown>): void {
    const comments = this.comment(`secrets.${name}`);
    if (typeof s.file === 'string') {
      const v = this.varName(name, 'Secret');
      this.secretVars.set(name, v);
      this.imports.add('Secret');
      this.secretNames.set(name, path.basename(s.file));
      this.statement(comments, `const ${v} = Secret.fromFile(${quote(this.rel(s.file))});`);
    } else if (typeof s.environment === 'string') {
      const v = this.varName(name, 'Secret');
      this.secretVars.set(name, v);
      this.imports.add('Secret');
      this.secretNames.set(name, s.environment);
      this.statement(comments, `const ${v} = Secret.fromEnv(${quote(s.environment)});`);
    } else {
      this.miss('', `secrets.${name}`, s.external ? 'external (Swarm) secrets have no construct yet' : 'only file and environment secrets');
    }
  }

  private config(name: string, c: Record<string, unknown>): void {
    const comments = this.comment(`configs.${name}`);
    if (!this.f.config) {
      this.miss('', `configs.${name}`, 'no Config construct yet');
      return;
    }
    const v = this.varName(name, 'Config');
    if (typeof c.file === 'string') {
      this.statement(comments, `const ${v} = Config.fromFile(${quote(this.rel(c.file))});`);
    } else if (typeof c.content === 'string') {
      this.statement(comments, `const ${v} = Config.fromString(${quote(c.content)});`);
    } else if (typeof c.environment === 'string' && this.env[c.environment] !== undefined) {
      this.statement(comments, `const ${v} = Config.fromString(process.env[${quote(c.environment)}] ?? '');`);
    } else {
      this.miss('', `configs.${name}`, c.external ? 'external (Swarm) configs have no construct yet' : 'only file, content and environment configs');
      return;
    }
    this.imports.add('Config');
    this.configVars.set(name, v);
  }

  private service(name: string, s: ComposeService): void {
    const f = this.f;
    const props: Record<string, unknown> = {};
    const misses: Array<[string, string]> = [];
    const miss = (key: string, why: string) => misses.push([key, why]);
    const has = (prop: string) => f.container.has(prop);
    const set = (key: string, prop: string, value: unknown) => {
      if (value === undefined) return;
      if (!has(prop)) {
        miss(key, `no ContainerProps field "${prop}" yet`);
        return;
      }
      const comments = this.comment(`services.${name}.${key}`);
      props[prop] = comments.length > 0 ? new Commented(value, comments) : value;
    };
    this.keys[name] = Object.keys(s).filter((k) => !k.startsWith('x-'));
    const preStatements: string[] = [];

    // The image: a reference, or an Image built from the context (tagged with `image:` if given).
    if (s.build !== undefined) {
      const b = s.build as Record<string, unknown>;
      const build: Record<string, unknown> = { context: this.rel(String(b.context)) };
      for (const [k, value] of Object.entries(b)) {
        if (k === 'context') continue;
        else if (k === 'dockerfile') build.dockerfile = value;
        else if (k === 'args') build.buildArgs = stringMap(value, this.env, (arg) => this.notes.push(`service "${name}": build arg ${arg} has no value and is unset here: left out`));
        else if (k === 'target') build.target = value;
        else if (k === 'no_cache') build.noCache = Boolean(value);
        else if (!k.startsWith('x-')) miss(`build.${k}`, 'no BuildOptions field for it yet');
      }
      if (/^[a-z]+:\/\/|^git@/.test(String(b.context))) miss('build.context', 'remote build contexts are not supported; clone it and point context at the directory');
      const iv = this.varName(`${name}Image`, '');
      this.imports.add('Image');
      const imageProps: Record<string, unknown> = { build };
      if (typeof s.image === 'string') imageProps.tag = s.image;
      preStatements.push(`const ${iv} = new Image(this, ${quote(this.constructId(`${name}-image`, 'image'))}, ${print(imageProps, 2)});`);
      set('build', 'image', code(iv));
      if (s.pull_policy !== undefined && s.pull_policy !== 'build') miss('pull_policy', `pull_policy "${String(s.pull_policy)}" with build`);
    } else if (typeof s.image === 'string') {
      const policy = s.pull_policy as string | undefined;
      if (policy === 'always' || policy === 'missing' || policy === 'if_not_present') {
        const iv = this.varName(`${name}Image`, '');
        this.imports.add('Image');
        preStatements.push(`const ${iv} = Image.fromRegistry(this, ${quote(this.constructId(`${name}-image`, 'image'))}, ${quote(s.image)}, { pullPolicy: ${quote(policy === 'always' ? 'always' : 'missing')} });`);
        set('image', 'image', code(iv));
      } else {
        set('image', 'image', s.image);
        if (policy !== undefined) miss('pull_policy', `pull_policy "${policy}" has no PullPolicy`);
      }
    }

    for (const [key, value] of Object.entries(s)) {
      if (key.startsWith('x-') || key === 'image' || key === 'build' || key === 'pull_policy' || APPLIED_AT_LOAD.has(key)) continue;
      switch (key) {
        case 'container_name':
          set(key, 'name', value);
          break;
        case 'command':
        case 'entrypoint':
          // A string as written where the constructs split it as Compose does; else its words.
          set(key, key, value === null ? undefined : typeof value === 'string' ? (f.commandString ? value : shellSplit(value, key)) : (value as unknown[]).map(String));
          break;
        case 'tty':
          set(key, 'tty', value === true ? true : undefined);
          break;
        case 'stdin_open':
          set(key, 'stdinOpen', value === true ? true : undefined);
          break;
        case 'platform':
        case 'runtime':
          set(key, key, String(value));
          break;
        case 'logging': {
          const l = value as { driver?: string; options?: Record<string, unknown> | null };
          if (l.driver === undefined) {
            // Options without a driver are for the engine's default driver, which the plan cannot name.
            if (Object.keys(l.options ?? {}).length > 0) miss('logging.options', 'options without a driver: name the driver they are for');
            break;
          }
          const options = Object.fromEntries(Object.entries(l.options ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
          set(key, 'logging', Object.keys(options).length > 0 ? { driver: l.driver, options } : { driver: l.driver });
          break;
        }
        case 'environment': {
          const env: Record<string, unknown> = stringMap(value, this.env, (k) => this.notes.push(`service "${name}": environment ${k} has no value and is unset here: left out, as Compose leaves it out`));
          // A model may give an expression (import containers: a secret as Secret.fromEnv).
          for (const [k, v] of Object.entries((value ?? {}) as object)) {
            if (!(v instanceof Code)) continue;
            env[k] = v;
            if (v.text.startsWith('Secret.')) this.imports.add('Secret');
          }
          set(key, 'env', env);
          break;
        }
        case 'env_file': {
          const list = (value as Array<{ path: string; required?: boolean; format?: string }>).filter((e) => e.required !== false || fs.existsSync(e.path));
          for (const e of list) if (e.format !== undefined && e.format !== 'raw') miss('env_file.format', `format "${e.format}"`);
          set(key, 'envFiles', list.map((e) => this.rel(e.path)));
          break;
        }
        case 'working_dir':
          set(key, 'workingDir', value);
          break;
        case 'user':
        case 'hostname':
        case 'init':
        case 'privileged':
          set(key, key, value);
          break;
        case 'ports':
          set(key, 'ports', (value as unknown[]).map((p) => this.port(p, miss)).filter((p) => p !== undefined));
          break;
        case 'expose':
          set(key, 'expose', (value as unknown[]).map((e) => (typeof e === 'number' ? e : /^\d+$/.test(String(e)) ? Number(e) : String(e))));
          break;
        case 'volumes':
          this.mounts(name, value as unknown[], props, miss);
          break;
        case 'tmpfs': {
          const list = Array.isArray(value) ? (value as string[]) : [String(value)];
          const mounts = (props.mounts as unknown[] | undefined) ?? [];
          for (const t of list) {
            const [target, opts] = [t.split(':')[0], t.split(':').slice(1).join(':')];
            const m: Record<string, unknown> = { type: 'tmpfs', target };
            for (const o of opts.split(',').filter(Boolean)) {
              const [k, v] = o.split('=');
              if (k === 'size') m.size = v;
              else if (k === 'mode' && /^[0-7]{1,4}$/.test(v ?? '')) m.mode = code(`0o${v}`);
              else if (k === 'mode') miss(`tmpfs ${target} mode`, `mode ${JSON.stringify(v)} is not an octal mode such as 1777`);
              else miss(`tmpfs ${target} ${k}`, 'only size and mode tmpfs options');
            }
            mounts.push(m);
          }
          set(key, 'mounts', mounts);
          break;
        }
        case 'volumes_from':
          set(
            key,
            'volumesFrom',
            (value as string[]).map((v) => {
              const parts = v.split(':');
              let target: Code;
              let mode: string | undefined;
              if (parts[0] === 'container') {
                this.imports.add('Container');
                target = code(`Container.fromName(this, ${quote(this.constructId(`${parts[1]}-container`, 'ref'))}, ${quote(parts[1])})`);
                mode = parts[2];
              } else {
                const svc = parts[0] === 'service' ? parts[1] : parts[0];
                mode = parts[0] === 'service' ? parts[2] : parts[1];
                target = code(this.serviceVars.get(svc) ?? identifier(svc));
              }
              return mode === 'ro' ? { container: target, readOnly: true } : target;
            }),
          );
          break;
        case 'networks':
          this.networks(value as Record<string, Record<string, unknown> | null>, props, miss);
          break;
        case 'network_mode': {
          const mode = String(value);
          if (mode === 'host' || mode === 'none' || mode === 'bridge') set(key, 'networkMode', mode);
          else if (mode.startsWith('service:') && f.networkModeContainer) set(key, 'networkMode', code(this.serviceVars.get(mode.slice(8))!));
          else if (mode.startsWith('container:') && f.networkModeContainer) {
            this.imports.add('Container');
            set(key, 'networkMode', code(`Container.fromName(this, ${quote(this.constructId(`${mode.slice(10)}-container`, 'ref'))}, ${quote(mode.slice(10))})`));
          } else miss(key, `network_mode "${mode}" ${f.networkModeContainer ? 'is not one of host, none, bridge, service:X, container:X' : 'needs networkMode to accept a container (not yet)'}`);
          break;
        }
        case 'restart':
          set(key, 'restart', this.restart(String(value)));
          break;
        case 'healthcheck':
          this.healthcheck(value as Record<string, unknown>, (v) => set(key, 'healthcheck', v), miss);
          break;
        case 'depends_on':
          set(
            key,
            'dependsOn',
            Object.entries(value as Record<string, { condition?: string; restart?: boolean; required?: boolean }>)
              .filter(([d]) => this.serviceVars.has(d))
              .map(([d, opts]) => {
                const v = code(this.serviceVars.get(d)!);
                const restart = opts?.restart === true && f.dependsOnRestart;
                if (opts?.restart === true && !restart) miss(`depends_on.${d}.restart`, 'no ContainerDependencyOptions field "restart" yet');
                const condition = { service_healthy: 'healthy', service_completed_successfully: 'completed' }[opts?.condition ?? ''];
                return condition || restart ? { container: v, ...(condition ? { condition } : {}), ...(restart ? { restart: true } : {}) } : v;
              }),
          );
          break;
        case 'labels':
          set(key, 'labels', labelMap(value));
          break;
        case 'stop_signal':
          set(key, 'stopSignal', value);
          break;
        case 'stop_grace_period':
          set(key, 'stopTimeout', String(value));
          break;
        case 'read_only':
          set(key, 'readOnlyRootfs', value);
          break;
        case 'cap_add':
          set(key, 'capAdd', value);
          break;
        case 'cap_drop':
          set(key, 'capDrop', value);
          break;
        case 'mem_limit':
          set(key, 'memory', String(value));
          break;
        case 'cpus':
          set(key, 'cpus', Number(value));
          break;
        case 'pids_limit':
          if (Number(value) > 0) set(key, 'pidsLimit', Number(value));
          break;
        case 'scale':
          set(key, 'replicas', Number(value));
          break;
        case 'shm_size':
          set(key, 'shmSize', typeof value === 'number' ? `${value}b` : String(value));
          break;
        case 'extra_hosts':
          set(key, 'extraHosts', Object.fromEntries(Object.entries(value as object).map(([h, ip]) => [h, String(ip).replace(/^\[(.*)\]$/, '$1')])));
          break;
        case 'dns':
          set(key, 'dns', Array.isArray(value) ? value.map(String) : [String(value)]);
          break;
        case 'dns_search':
          set(key, 'dnsSearch', Array.isArray(value) ? value.map(String) : [String(value)]);
          break;
        case 'dns_opt':
          set(key, 'dnsOptions', (value as unknown[]).map(String));
          break;
        case 'sysctls':
          set(key, 'sysctls', Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, String(v)])));
          break;
        case 'ulimits':
          set(
            key,
            'ulimits',
            Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, typeof v === 'object' ? { soft: Number(v.soft), hard: Number(v.hard) } : Number(v)])),
          );
          break;
        case 'devices':
          set(
            key,
            'devices',
            (value as unknown[]).map((d) => {
              if (typeof d === 'string') return d;
              const o = d as { source: string; target?: string; permissions?: string };
              return { hostPath: o.source, containerPath: o.target, permissions: o.permissions };
            }),
          );
          break;
        case 'pid':
          if (value === 'host') set(key, 'pid', 'host');
          else miss(key, `pid "${String(value)}": only "host"`);
          break;
        case 'ipc':
          if (['host', 'private', 'shareable'].includes(String(value))) set(key, 'ipc', value);
          else miss(key, `ipc "${String(value)}": only host, private, shareable`);
          break;
        case 'secrets':
          this.mountsOf('secrets', value as unknown[], miss, set);
          break;
        case 'configs':
          this.mountsOf('configs', value as unknown[], miss, set);
          break;
        case 'deploy':
          this.deploy(value as Record<string, unknown>, props, set, miss);
          break;
        case 'develop': {
          const d = value as { watch?: Array<Record<string, unknown>> } & Record<string, unknown>;
          for (const k of Object.keys(d)) if (k !== 'watch' && !k.startsWith('x-')) miss(`develop.${k}`, 'no DevelopOptions field for it yet');
          const rules = (d.watch ?? []).flatMap((w, i) => {
            if (!['sync', 'rebuild', 'sync+restart'].includes(String(w.action))) {
              miss(`develop.watch[${i}].action`, `action "${String(w.action)}": only sync, sync+restart and rebuild`);
              return [];
            }
            for (const k of Object.keys(w)) if (!['path', 'action', 'target', 'ignore'].includes(k)) miss(`develop.watch[${i}].${k}`, 'no DevelopWatchOptions field for it yet');
            const rule: Record<string, unknown> = { path: this.rel(String(w.path)), action: w.action };
            if (w.target !== undefined) rule.target = w.target;
            if (Array.isArray(w.ignore)) rule.ignore = w.ignore.map(String);
            return [rule];
          });
          if (rules.length > 0) set(key, 'develop', { watch: rules });
          break;
        }
        default: {
          const why = NO_PROP_YET[key];
          miss(key, why || 'no construct field for it yet');
        }
      }
    }
    if (props.networks === undefined && props.networkMode === undefined && this.networkVars.has('default')) {
      props.networks = [code(this.networkVars.get('default')!)];
    }
    for (const [key, why] of misses) this.miss(name, key, why);

    const v = this.varName(name, 'Container');
    this.serviceVars.set(name, v);
    this.imports.add('Container');
    const comments = [...this.comment(`services.${name}`), ...misses.map(([k, why]) => `not imported: ${k} — ${why}`)];
    this.statements.push([...preStatements, ...comments.map((c) => `// ${commentText(c)}`.trimEnd()), `const ${v} = new Container(this, ${quote(name)}, ${print(orderProps(props), 2)});`].join('\n'));
  }

  private port(p: unknown, miss: (key: string, why: string) => void): unknown {
    if (typeof p === 'number') return p;
    if (typeof p === 'string') return p;
    const o = p as { target: number; published?: string | number; host_ip?: string; protocol?: string; mode?: string; name?: string; app_protocol?: string };
    const out: Record<string, unknown> = { containerPort: Number(o.target) };
    if (o.published !== undefined && o.published !== '') {
      if (/^\d+$/.test(String(o.published))) out.hostPort = Number(o.published);
      else miss(`ports ${o.target} published "${String(o.published)}"`, 'a published port range in long syntax');
    }
    if (o.host_ip !== undefined) out.hostIp = o.host_ip;
    if (o.protocol !== undefined) out.protocol = o.protocol;
    if (o.mode !== undefined && o.mode !== 'ingress') {
      if (this.f.port.has('mode')) out.mode = o.mode;
      else miss(`ports ${o.target} mode`, 'no PortOptions field "mode" yet');
    }
    return out;
  }

  private mounts(service: string, list: unknown[], props: Record<string, unknown>, miss: (key: string, why: string) => void): void {
    const mounts = (props.mounts as unknown[] | undefined) ?? [];
    for (const item of list) {
      let type: string;
      let source: string | undefined;
      let target: string;
      let readOnly = false;
      let tmpfs: Record<string, unknown> | undefined;
      if (typeof item === 'string') {
        const parts = splitVolume(item);
        if (parts.length === 1) {
          type = 'volume';
          target = parts[0];
        } else {
          source = parts[0];
          target = parts[1];
          type = isHostPath(source) ? 'bind' : 'volume';
          for (const mode of (parts[2] ?? '').split(',').filter(Boolean)) {
            if (mode === 'ro') readOnly = true;
            else if (mode !== 'rw' && mode !== 'cached' && mode !== 'delegated' && mode !== 'consistent') miss(`volumes ${target} mode "${mode}"`, 'no mount field for it yet');
          }
        }
      } else {
        const o = item as { type: string; source?: string; target: string; read_only?: boolean; tmpfs?: { size?: string | number; mode?: number }; volume?: Record<string, unknown>; bind?: Record<string, unknown>; consistency?: string };
        type = o.type;
        source = o.source;
        target = o.target;
        readOnly = o.read_only === true;
        if (o.volume?.nocopy) miss(`volumes ${target} volume.nocopy`, 'no mount field for it yet');
        if (o.volume?.subpath) miss(`volumes ${target} volume.subpath`, 'no mount field for it yet');
        if (o.bind?.propagation) miss(`volumes ${target} bind.propagation`, 'no mount field for it yet');
        if (o.bind?.selinux) miss(`volumes ${target} bind.selinux`, 'no mount field for it yet');
        if (o.type === 'tmpfs') {
          tmpfs = {};
          if (o.tmpfs?.size !== undefined) tmpfs.size = typeof o.tmpfs.size === 'number' ? `${o.tmpfs.size}b` : o.tmpfs.size;
          if (o.tmpfs?.mode !== undefined) tmpfs.mode = fileMode(o.tmpfs.mode, `service "${service}": volumes ${target} tmpfs`);
        }
        if (!['bind', 'volume', 'tmpfs'].includes(type)) {
          miss(`volumes ${target} type "${type}"`, 'only bind, volume and tmpfs mounts');
          continue;
        }
      }
      if (type === 'tmpfs') {
        mounts.push({ type: 'tmpfs', target, ...(tmpfs ?? {}) });
      } else if (type === 'bind') {
        mounts.push({ type: 'bind', source: this.rel(source!), target, ...(readOnly ? { readOnly: true } : {}) });
      } else {
        let v = source !== undefined ? this.volumeVars.get(source) : undefined;
        if (v === undefined) {
          // An anonymous volume (or one the file never declared): a volume of its own, removed with the stack.
          const id = source ?? `${service}${target.replace(/[^A-Za-z0-9]+/g, '-')}`.replace(/-+$/, '');
          v = this.varName(id, 'Volume');
          this.imports.add('Volume');
          if (source !== undefined) this.volumeVars.set(source, v);
          this.statements.push(`// ${commentText(source === undefined ? `the anonymous volume of ${service} at ${target}` : `volume "${source}"`)}, removed with the stack\nconst ${v} = new Volume(this, ${quote(this.constructId(id, 'volume'))}, { removalPolicy: 'destroy' });`);
        }
        mounts.push({ type: 'volume', source: code(v), target, ...(readOnly ? { readOnly: true } : {}) });
      }
    }
    props.mounts = mounts;
  }

  private networks(nets: Record<string, Record<string, unknown> | null>, props: Record<string, unknown>, miss: (key: string, why: string) => void): void {
    const out: unknown[] = [];
    for (const [n, opts] of Object.entries(nets)) {
      const v = this.networkVars.get(n);
      if (!v) continue;
      if (!opts || Object.keys(opts).length === 0) {
        out.push(code(v));
        continue;
      }
      const att: Record<string, unknown> = { network: code(v) };
      for (const [k, value] of Object.entries(opts)) {
        if (k === 'aliases') att.aliases = (value as unknown[]).map(String);
        else if (k === 'ipv4_address') att.ipv4Address = value;
        else if (k === 'priority' || k === 'gw_priority') continue;
        else miss(`networks.${n}.${k}`, 'no NetworkAttachmentOptions field for it yet');
      }
      out.push(att);
    }
    props.networks = out;
  }

  private mountsOf(kind: 'secrets' | 'configs', list: unknown[], miss: (key: string, why: string) => void, set: (key: string, prop: string, value: unknown) => void): void {
    const vars = kind === 'secrets' ? this.secretVars : this.configVars;
    const out: unknown[] = [];
    for (const item of list) {
      const o = typeof item === 'string' ? { source: item } : (item as { source: string; target?: string; mode?: number; uid?: string; gid?: string });
      const v = vars.get(o.source);
      if (!v) {
        miss(`${kind}.${o.source}`, `the top-level ${kind.slice(0, -1)} "${o.source}" was not imported`);
        continue;
      }
      const field = kind === 'secrets' ? 'secret' : 'config';
      // Compose mounts a secret at /run/secrets/<its key>; the construct's default is the file's (or variable's) name.
      const target = o.target ?? (kind === 'secrets' ? (this.secretNames.get(o.source) === o.source ? undefined : o.source) : `/${o.source}`);
      if (target === undefined && o.mode === undefined && o.uid === undefined && o.gid === undefined) {
        out.push(code(v));
        continue;
      }
      const m: Record<string, unknown> = { [field]: code(v) };
      if (target !== undefined) m.target = target;
      if (o.mode !== undefined) m.mode = fileMode(o.mode, `${kind} "${o.source}"`);
      if (o.uid !== undefined) m.uid = String(o.uid);
      if (o.gid !== undefined) m.gid = String(o.gid);
      out.push(m);
    }
    set(kind, kind, out);
  }

  private restart(r: string): unknown {
    const m = /^on-failure(?::(\d+))?$/.exec(r);
    if (m && m[1] !== undefined && Number(m[1]) > 0) {
      this.imports.add('Restart');
      return code(`Restart.onFailure(${Number(m[1])})`);
    }
    return m ? 'on-failure' : r;
  }

  private healthcheck(h: Record<string, unknown>, set: (v: unknown) => void, miss: (key: string, why: string) => void): void {
    if (h.disable === true || (Array.isArray(h.test) && h.test[0] === 'NONE')) {
      miss('healthcheck.disable', "no prop turns off the image's HEALTHCHECK yet");
      return;
    }
    if (h.test === undefined) {
      miss('healthcheck', 'a healthcheck without test (timings for the image\'s HEALTHCHECK) has no construct yet');
      return;
    }
    const out: Record<string, unknown> = {};
    out.test = Array.isArray(h.test) ? h.test.map(String) : String(h.test);
    if (h.interval !== undefined) out.interval = String(h.interval);
    if (h.timeout !== undefined) out.timeout = String(h.timeout);
    if (h.retries !== undefined) out.retries = Number(h.retries);
    if (h.start_period !== undefined) out.startPeriod = String(h.start_period);
    if (h.start_interval !== undefined) miss('healthcheck.start_interval', 'no HealthcheckOptions field for it yet');
    set(out);
  }

  private deploy(d: Record<string, unknown>, props: Record<string, unknown>, set: (key: string, prop: string, value: unknown) => void, miss: (key: string, why: string) => void): void {
    const swarm: Record<string, unknown> = {};
    const dep = this.f.deploy;
    const toSwarm = (key: string, field: string, value: unknown) => {
      if (dep.has(field)) swarm[field] = value;
      else miss(`deploy.${key}`, dep.size === 0 ? 'no DeployOptions (Swarm) construct yet' : `no DeployOptions field "${field}" yet`);
    };
    for (const [k, value] of Object.entries(d)) {
      switch (k) {
        case 'replicas':
          set('deploy.replicas', 'replicas', Number(value));
          break;
        case 'resources': {
          const r = value as { limits?: Record<string, unknown>; reservations?: Record<string, unknown> };
          for (const [lk, lv] of Object.entries(r.limits ?? {})) {
            if (lk === 'cpus') set('deploy.resources.limits.cpus', 'cpus', Number(lv));
            else if (lk === 'memory') set('deploy.resources.limits.memory', 'memory', String(lv));
            else if (lk === 'pids') set('deploy.resources.limits.pids', 'pidsLimit', Number(lv));
            else miss(`deploy.resources.limits.${lk}`, 'no field for it yet');
          }
          if (r.reservations) {
            const res: Record<string, unknown> = {};
            for (const [rk, rv] of Object.entries(r.reservations)) {
              if (rk === 'cpus') res.cpus = Number(rv);
              else if (rk === 'memory') res.memory = String(rv);
              else miss(`deploy.resources.reservations.${rk}`, 'no field for it yet');
            }
            if (Object.keys(res).length > 0) toSwarm('resources.reservations', 'resources', { reservations: res });
          }
          break;
        }
        case 'restart_policy': {
          const rp = value as { condition?: string; delay?: string; max_attempts?: number; window?: string };
          // Compose on one engine turns the policy into the container's restart policy.
          if (props.restart === undefined) {
            const cond = rp.condition ?? 'any';
            const r = cond === 'none' ? 'no' : cond === 'on-failure' ? (rp.max_attempts ? `on-failure:${rp.max_attempts}` : 'on-failure') : 'always';
            set('deploy.restart_policy', 'restart', this.restart(r));
          }
          if (rp.delay !== undefined || rp.window !== undefined) {
            const policy: Record<string, unknown> = {};
            if (rp.condition) policy.condition = rp.condition;
            if (rp.delay !== undefined) policy.delay = String(rp.delay);
            if (rp.max_attempts !== undefined) policy.maxAttempts = Number(rp.max_attempts);
            if (rp.window !== undefined) policy.window = String(rp.window);
            toSwarm('restart_policy', 'restartPolicy', policy);
          }
          break;
        }
        case 'mode':
          if (value !== 'replicated') toSwarm('mode', 'mode', value);
          break;
        case 'endpoint_mode':
          toSwarm('endpoint_mode', 'endpointMode', value);
          break;
        case 'placement': {
          const pl = value as { constraints?: string[]; preferences?: Array<{ spread: string }>; max_replicas_per_node?: number };
          const out: Record<string, unknown> = {};
          if (pl.constraints) out.constraints = pl.constraints;
          if (pl.preferences) out.preferences = pl.preferences.map((p) => ({ spread: p.spread }));
          if (pl.max_replicas_per_node !== undefined) out.maxReplicasPerNode = pl.max_replicas_per_node;
          toSwarm('placement', 'placement', out);
          break;
        }
        case 'update_config':
        case 'rollback_config': {
          const u = value as Record<string, unknown>;
          const out: Record<string, unknown> = {};
          const names: Record<string, string> = { parallelism: 'parallelism', delay: 'delay', order: 'order', failure_action: 'failureAction', monitor: 'monitor', max_failure_ratio: 'maxFailureRatio' };
          for (const [uk, uv] of Object.entries(u)) {
            if (names[uk]) out[names[uk]] = uk === 'delay' || uk === 'monitor' ? String(uv) : uv;
          }
          toSwarm(k, k === 'update_config' ? 'updateConfig' : 'rollbackConfig', out);
          break;
        }
        default:
          miss(`deploy.${k}`, 'no field for it yet');
      }
    }
    if (Object.keys(swarm).length > 0) set('deploy', 'deploy', swarm);
  }

  private render(): string {
    const p = this.project;
    const cls = `${className(this.opts.stackName)}Stack`;
    const header = [
      this.opts.origin?.header ?? `// Imported from ${commentText(p.files.map((f) => path.basename(f)).join(', '))} by \`cdk-docker import compose\`.`,
      ...(p.comments[''] ? p.comments[''].split('\n').map((l) => `// ${commentText(l)}`.trimEnd()) : []),
    ];
    // A construct no other one refers to needs no variable.
    const all = this.statements.join('\n').replace(/^\s*\/\/.*$/gm, '').replace(/'(?:[^'\\\n]|\\.)*'/g, "''");
    const body = this.statements
      .filter((s) => s !== '')
      .map((s) => s.replace(/^const ([A-Za-z_$][A-Za-z0-9_$]*) = (new Container\()/m, (m, v: string, rest: string) => (all.match(new RegExp(`(?<![\\w$.])${v.replace(/\$/g, '\\$')}(?![\\w$])`, 'g'))!.length > 1 ? m : rest)))
      .join('\n\n');
    const imports = [...this.imports].sort();
    const text = [
      ...header,
      `import { ${imports.join(', ')} } from 'cdk-docker';`,
      '',
      this.opts.origin?.description ?? `/** The services of the compose project "${p.name}". */`,
      `export class ${cls} extends Stack {`,
      '  constructor(scope: App, id: string) {',
      '    super(scope, id);',
      '',
      body
        .split('\n')
        .map((l) => (l === '' ? '' : `    ${l}`))
        .join('\n'),
      '  }',
      '}',
      '',
      '// `cdk-docker synth` (and diff, apply) run this file; tests import the class instead.',
      'if (require.main === module) {',
      '  const app = new App();',
      `  new ${cls}(app, ${quote(this.opts.stackName)});`,
      '  app.synth();',
      '}',
      '',
    ].join('\n');
    return format(text);
  }
}

/** Props in a fixed order: what runs, then how it is reached, then how it behaves. */
function orderProps(props: Record<string, unknown>): Record<string, unknown> {
  const order = [
    'image', 'name', 'command', 'entrypoint', 'workingDir', 'user', 'hostname', 'env', 'envFiles', 'secrets', 'configs',
    'ports', 'expose', 'networks', 'networkMode', 'extraHosts', 'dns', 'dnsSearch', 'dnsOptions', 'mounts', 'volumesFrom',
    'dependsOn', 'healthcheck', 'restart', 'replicas', 'deploy', 'memory', 'cpus', 'pidsLimit', 'shmSize', 'ulimits', 'sysctls',
    'devices', 'pid', 'ipc', 'capAdd', 'capDrop', 'privileged', 'readOnlyRootfs', 'init', 'stopSignal', 'stopTimeout', 'labels', 'develop',
  ];
  const out: Record<string, unknown> = {};
  for (const k of order) if (props[k] !== undefined) out[k] = props[k];
  for (const k of Object.keys(props)) if (!(k in out)) out[k] = props[k];
  return out;
}

/** environment / build.args: a mapping of strings; a name without a value comes from the environment, else is left out. */
function stringMap(value: unknown, env: { readonly [name: string]: string | undefined }, unset: (name: string) => void): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((value ?? {}) as object)) {
    if (v === null || v === undefined) {
      if (env[k] !== undefined) out[k] = env[k]!;
      else unset(k);
    } else {
      out[k] = typeof v === 'boolean' || typeof v === 'number' ? String(v) : String(v);
    }
  }
  return out;
}

/**
 * A file mode as written in the code, octal (`0o440`); anything but a whole number from 0 to
 * 0o7777 is refused as Compose refuses it (written as it is, `0o${NaN}` or `0o1.4` would be code
 * that does not parse).
 */
function fileMode(value: unknown, where: string): Code {
  const n = Number(value);
  if (!(Number.isInteger(n) && n >= 0 && n <= 0o7777)) throw new InvalidArgumentError(`${where}: mode ${JSON.stringify(value) ?? String(value)} is not a file mode such as 0440; fix the compose file`);
  return code(`0o${n.toString(8)}`);
}

function labelMap(value: unknown): Record<string, string> {
  if (Array.isArray(value)) {
    return Object.fromEntries(value.map((l) => {
      const s = String(l);
      const i = s.indexOf('=');
      return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
    }));
  }
  return Object.fromEntries(Object.entries((value ?? {}) as object).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** Formats generated TypeScript with the TypeScript formatter, through ts-morph. */
export function format(text: string): string {
  const project = new Project({
    useInMemoryFileSystem: true,
    manipulationSettings: { indentationText: IndentationText.TwoSpaces, quoteKind: QuoteKind.Single, newLineKind: NewLineKind.LineFeed, useTrailingCommas: true },
  });
  const file = project.createSourceFile('main.ts', text);
  file.formatText({ indentSize: 2, tabSize: 2, convertTabsToSpaces: true, semicolons: 'insert' as never, insertSpaceAfterOpeningAndBeforeClosingNonemptyBraces: true });
  return file.getFullText();
}
