import { Construct, IConstruct } from 'constructs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dockerfileBaseImages, hashBuildContext, hashFileContent } from '../plan/hashing';
import { Manifest, writeAssembly } from '../plan/io';
import type { Plan, PortMapping } from '../plan/types';
import { describeAppError } from '../core/app-run';
import { canonicalize, hmacSha256 } from '../core/canonical';
import { CdkDockerError, ValidationError } from '../core/errors';
import { readInputFile } from '../core/input-file';
import type { ClaimKind } from './private/claims';
import { portsClash } from './private/ports';
import { StackResource } from './private/resource';
import type { SynthContext } from './private/synth-context';
import type { Secret } from './secret';
import { Stack } from './stack';

const APP_SYMBOL = Symbol.for('cdk-docker.App');

/** Properties of an App. */
export interface AppProps {
  /**
   * Directory the plans are written to.
   * @default - `$CDK_DOCKER_OUTDIR` (set by `cdk-docker synth`), else "cdk.out"
   */
  readonly outdir?: string;
  /**
   * Directory that relative paths in props (build contexts, bind mounts, env files, secret
   * files, archives) are resolved against.
   * @default - the current working directory
   */
  readonly baseDir?: string;
  /**
   * Environment that `Secret.fromEnv` reads (and `CDK_DOCKER_SECRET_KEY`, the HMAC key).
   * @default process.env
   */
  readonly env?: { readonly [name: string]: string | undefined };
}

/** The result of `App.synth()`. */
export interface Assembly {
  /** Absolute path of the output directory. */
  readonly outdir: string;
  readonly manifest: Manifest;
  /** The plans, by stack name. */
  readonly plans: { readonly [stackName: string]: Plan };
}

/**
 * The root of a construct tree. `synth()` validates the whole tree and writes one plan per
 * stack. The App is the boundary with the outside world: it reads the environment and files
 * (hashes of build contexts, bind-mounted files, env files and secrets); constructs do not.
 */
export class App extends Construct {
  /** True when `x` is an App, even from another copy of this library. */
  public static isApp(x: unknown): x is App {
    return x !== null && typeof x === 'object' && APP_SYMBOL in x;
  }

  public readonly outdir: string;
  public readonly baseDir: string;
  private readonly env: { readonly [name: string]: string | undefined };
  /** Writes its plans where the cdk-docker CLI running it (`synth`, `diff`, `apply` …) reads and validates them. */
  private readonly forCli: boolean;

  constructor(props: AppProps = {}) {
    super(undefined as unknown as Construct, '');
    Object.defineProperty(this, APP_SYMBOL, { value: true });
    this.env = props.env ?? process.env;
    this.baseDir = path.resolve(props.baseDir ?? process.cwd());
    this.outdir = path.resolve(this.baseDir, props.outdir ?? this.env.CDK_DOCKER_OUTDIR ?? 'cdk.out');
    // Run by `cdk-docker synth` (and diff, apply…): the app's errors are shown to the user there.
    const underCli = props.env === undefined && process.env.CDK_DOCKER_OUTDIR !== undefined;
    if (underCli) reportErrorsPlainly();
    this.forCli = underCli && props.outdir === undefined;
  }

  /** The stacks of this app, in tree order. */
  public get stacks(): Stack[] {
    return this.node.findAll().filter((c): c is Stack => Stack.isStack(c));
  }

  /**
   * Validates the tree and writes `<outdir>/<stack>.plan.json` for every stack plus
   * `manifest.json`. Throws ValidationError listing every problem, each prefixed by the
   * construct path; nothing is written then.
   */
  public synth(): Assembly {
    const plans = this._render();
    // The CLI checks each plan against the schema as it reads it (the check is the trust
    // boundary, ~20 ms): the app under it leaves that check to it rather than doing it twice.
    const manifest = writeAssembly(this.outdir, Object.values(plans), ['json'], { validate: !this.forCli });
    return { outdir: this.outdir, manifest, plans };
  }

  /**
   * Validates the tree and renders the plans in canonical form (sorted keys, no undefined)
   * without writing them; the schema check is the caller's (writeAssembly, Testing.synth).
   * @internal
   */
  public _render(only?: Stack[]): { [stackName: string]: Plan } {
    const problems: string[] = [];
    for (const c of this.node.findAll()) {
      for (const m of c.node.validate()) problems.push(`[${c.node.path}] ${m}`);
    }
    problems.push(...crossChecks(this));
    const stacks = this.stacks;
    const byName = new Map<string, Stack>();
    for (const s of stacks) {
      const other = byName.get(s.stackName);
      if (other) problems.push(`[${s.node.path}] stack name "${s.stackName}" is already used by ${other.node.path}; set a different stackName`);
      byName.set(s.stackName, s);
    }
    const ctx = new AppSynthContext(this.baseDir, this.env, problems);
    const plans: { [stackName: string]: Plan } = {};
    for (const s of only ?? stacks) plans[s.stackName] = canonicalize(s._toPlan(ctx));
    if (problems.length > 0) throw new ValidationError(problems);
    return plans;
  }
}

let reporting = false;

/**
 * Under the cdk-docker CLI, an error the app does not catch — a construct's validation error, the
 * ValidationError of `synth()` — is printed as its message lines (`Error: [stack/web] memory …`),
 * not as a Node stack through this library's frames: the lines name the construct, the prop and
 * the fix. Any other error is printed as Node prints it (with its stack). Either exits 1, as
 * Node does for an uncaught error.
 */
function reportErrorsPlainly(): void {
  if (reporting) return;
  reporting = true;
  process.on('uncaughtException', (err: unknown) => {
    process.stderr.write(describeAppError(err));
    process.exit(1);
  });
}

class AppSynthContext implements SynthContext {
  private readonly fileHashes = new Map<string, string | undefined>();

  constructor(
    private readonly baseDir: string,
    private readonly env: { readonly [name: string]: string | undefined },
    private readonly problems: string[],
  ) {}

  public resolvePath(p: string): string {
    return path.resolve(this.baseDir, p);
  }

  public error(scope: IConstruct, message: string): void {
    this.problems.push(`[${scope.node.path}] ${message}`);
  }

  public hashFile(scope: IConstruct, what: string, absPath: string): string | undefined {
    if (!this.fileHashes.has(absPath)) {
      try {
        this.fileHashes.set(absPath, hashFileContent(absPath));
      } catch (e) {
        this.fileHashes.set(absPath, undefined);
        if (e instanceof CdkDockerError) this.error(scope, `${what} ${e.message.replace(/^file /, '')}`);
        else this.error(scope, `${what} ${absPath} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); create it or fix the path`);
      }
    }
    return this.fileHashes.get(absPath);
  }

  public statPath(scope: IConstruct, what: string, absPath: string): 'file' | 'directory' | 'other' | 'missing' {
    try {
      const st = fs.statSync(absPath);
      return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
    } catch {
      this.error(scope, `${what}: ${absPath} does not exist; create it (mkdir -p ${absPath}) or fix the path`);
      return 'missing';
    }
  }

  public hashBuildContext(scope: IConstruct, context: string, dockerfile: string): string | undefined {
    if (this.statPath(scope, 'build context', context) !== 'directory') return undefined;
    const df = path.resolve(context, dockerfile);
    if (!fs.existsSync(df)) {
      this.error(scope, `Dockerfile ${df} does not exist; create it or set build.dockerfile`);
      return undefined;
    }
    try {
      return hashBuildContext(context, dockerfile);
    } catch (e) {
      if (!(e instanceof CdkDockerError)) throw e;
      this.error(scope, e.message);
      return undefined;
    }
  }

  public dockerfileBaseImages(context: string, dockerfile: string): string[] {
    try {
      return dockerfileBaseImages(readInputFile(path.resolve(context, dockerfile), 'Dockerfile').toString('utf8'));
    } catch {
      return []; // hashBuildContext reports the missing file
    }
  }

  public secretHmac(scope: IConstruct, stackName: string, secret: Secret): string | undefined {
    let value: string | undefined;
    if (secret.source === 'env') {
      value = this.env[secret.from];
      if (value === undefined) {
        this.error(scope, `${secret.toString()}: environment variable ${secret.from} is not set; export it before running cdk-docker`);
        return undefined;
      }
    } else {
      const file = this.resolvePath(secret.from);
      try {
        value = readInputFile(file, 'secret file').toString('utf8');
      } catch (e) {
        if (e instanceof CdkDockerError) {
          this.error(scope, `${secret.toString()}: ${e.message}`);
          return undefined;
        }
        this.error(scope, `${secret.toString()}: ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); create it or fix the path`);
        return undefined;
      }
    }
    return secretHmac(stackName, value, this.env.CDK_DOCKER_SECRET_KEY);
  }
}

/**
 * The HMAC a secret is diffed by. Keyed by `CDK_DOCKER_SECRET_KEY` when set (recommended for
 * low-entropy secrets), else by the stack name, so plans are identical across machines.
 */
export function secretHmac(stackName: string, value: string, key?: string): string {
  return hmacSha256(key ?? `cdk-docker/secret/${stackName}`, value);
}

/**
 * Checks across constructs: names and host ports are global on one engine; no dependsOn cycles.
 * Each resource declares what it claims (`_claims()`), so this knows no resource type.
 */
function crossChecks(app: App): string[] {
  const problems: string[] = [];
  const resources = app.node.findAll().filter(StackResource.isStackResource);
  const claims = new Map(resources.map((r) => [r, r._claims()] as const));

  // Names, kind by kind, each in tree order.
  for (const kind of ['container', 'network', 'volume'] as const satisfies readonly ClaimKind[]) {
    const owners = new Map<string, IConstruct>();
    for (const [r, c] of claims) {
      for (const { name } of c.names.filter((n) => n.kind === kind)) {
        const other = owners.get(name);
        if (other && other !== r) {
          problems.push(`[${r.node.path}] ${kind} name "${name}" is already used by ${other.node.path}; give one of them another name`);
        } else {
          owners.set(name, r);
        }
      }
    }
  }

  // Host ports, grouped by port and protocol so the check stays linear.
  const byPort = new Map<string, Array<{ r: IConstruct; p: PortMapping }>>();
  for (const [r, c] of claims) {
    for (const p of c.hostPorts) {
      if (p.hostPort === 0) continue;
      const key = `${p.hostPort}/${p.protocol}`;
      const group = byPort.get(key) ?? [];
      const clash = group.find((g) => g.r !== r && portsClash(g.p, p));
      if (clash) {
        problems.push(`[${r.node.path}] host port ${p.hostIp}:${p.hostPort}/${p.protocol} is already published by ${clash.r.node.path} (${clash.p.hostIp}:${clash.p.hostPort}); choose another hostPort or hostIp`);
      }
      group.push({ r, p });
      byPort.set(key, group);
    }
  }

  // dependsOn (and volumesFrom) cycles, among the resources of the app (one imported by name has no edges).
  const state = new Map<StackResource, 'visiting' | 'done'>();
  const path: StackResource[] = [];
  const visit = (r: StackResource): void => {
    state.set(r, 'visiting');
    path.push(r);
    for (const next of claims.get(r)?.startsAfter ?? []) {
      if (!StackResource.isStackResource(next)) continue;
      const s = state.get(next);
      if (s === 'visiting') {
        const cycle = [...path.slice(path.indexOf(next)), next].map((x) => x.node.path);
        problems.push(`[${next.node.path}] dependsOn cycle: ${cycle.join(' → ')}; remove one of these dependencies`);
      } else if (s === undefined) {
        visit(next);
      }
    }
    path.pop();
    state.set(r, 'done');
  };
  for (const r of resources) if (!state.has(r)) visit(r);
  return problems;
}
