import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../../lib/core/package-info';
import type { RuntimeConfig } from '../config';
import { recordContainerEvent } from '../events';
import { ImageStore } from '../images/store';
import type { NetworkStore } from '../networks';
import { VolumeStore } from '../volumes';
import { ContainerNetworking } from './network';
import { Runc } from './runc';
import { ContainerStore } from './store';
import type { ContainerRecord } from './types';

/** The context of each ContainerService (see `contextOf`). */
const contexts = new WeakMap<object, ContainerContext>();

/**
 * The context behind a ContainerService, for the modules of this section that are handed the
 * service (files.ts, attach.ts): the service keeps its stores private from every other caller
 * (runtime/index.ts does not export this function).
 */
export function contextOf(svc: object): ContainerContext {
  const ctx = contexts.get(svc);
  if (!ctx) throw new TypeError('contextOf: not a ContainerService');
  return ctx;
}

/** Makes `ctx` the context of `svc` (its constructor calls this). */
export function bindContext(svc: object, ctx: ContainerContext): void {
  contexts.set(svc, ctx);
}

/**
 * What every part of the containers section works with: the state root's stores, runc, the
 * networks, and the files the engine keeps per container in the run dir (exit files, exit claims).
 * `ContainerService` is the facade over the parts (create, start, lifecycle, queries, exec …),
 * each a module of functions taking this context; callers outside the section see only the facade.
 */
export class ContainerContext {
  public readonly store: ContainerStore;
  public readonly images: ImageStore;
  public readonly volumes: VolumeStore;
  /** Exit codes of the containers this process removed, for a `wait` that outlives them (Docker's `wait` of an `--rm` container). */
  public readonly lastExitCodes = new Map<string, number>();
  private networkingCache?: ContainerNetworking;
  private runcCache?: Runc;

  constructor(public readonly config: RuntimeConfig) {
    this.store = new ContainerStore(config.root, config.runRoot);
    this.images = new ImageStore(config.root);
    this.volumes = new VolumeStore(config.root);
  }

  /** Networks of containers (loaded on first use: a container without networks never needs it). */
  public get networking(): ContainerNetworking {
    if (!this.networkingCache) {
      const { NetworkStore: Store } = require('../networks/store') as { NetworkStore: typeof NetworkStore };
      this.networkingCache = new ContainerNetworking(this.config.runRoot, new Store(this.config.root, undefined, this.config.network));
    }
    return this.networkingCache;
  }

  public get runc(): Runc {
    this.runcCache ??= new Runc(path.join(this.config.runRoot, 'runc'));
    return this.runcCache;
  }

  /** Where conmon writes a container's exit code (a file named by the container's id). */
  public exitDir(): string {
    const d = path.join(this.config.runRoot, 'exits');
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  }

  public exitFile(id: string): string {
    return path.join(this.exitDir(), id);
  }

  /** Where a process that records `id`'s next exit itself leaves its pid (see `claimExit`). */
  public exitClaimFile(id: string): string {
    return path.join(this.config.runRoot, 'exit-claims', id);
  }

  /**
   * Claims the recording of `id`'s next exit for process `pid` (a `stop`, `kill`, `rm -f` or a
   * foreground `run`): while that process lives, conmon's exit command does nothing, so no second
   * Node process starts per container only to find the work done (30 of them are seconds of CPU
   * in a `destroy`). Should the claimant die first, the exit command does the work as before.
   */
  public claimExit(id: string, pid = process.pid): void {
    const file = this.exitClaimFile(id);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, String(pid));
  }

  public releaseExit(id: string): void {
    fs.rmSync(this.exitClaimFile(id), { force: true });
  }

  /**
   * How the engine calls itself back (conmon's exit commands, the health loop): this process's
   * Node running the engine's hook (runtime/hook.ts, built), every argument with a ':' in front
   * so that none can reach Node's own option parser (as bin/cdk-docker does for the CLI).
   */
  public hookCommand(...args: string[]): string[] {
    return [process.execPath, path.join(packageRoot(), 'dist', 'runtime', 'hook.js'), ...args.map((a) => `:${a}`)];
  }

  /** The environment of processes that call back: just enough to find this runtime's state. */
  public childEnv(): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CDK_DOCKER_ROOT: this.config.root, CDK_DOCKER_RUNROOT: this.config.runRoot };
  }

  /** conmon's k8s-file log of a container. */
  public logPath(id: string): string {
    return path.join(this.store.containerDir(id), 'ctr.log');
  }

  /** Where Docker's json-file log of a `--log-driver json-file` container is: `<container dir>/<id>-json.log`. */
  public jsonLogPath(id: string): string {
    return path.join(this.store.containerDir(id), `${id}-json.log`);
  }

  /** The container's merged root filesystem while it runs. */
  public rootfs(id: string): string {
    return path.join(this.store.bundleDir(id), 'rootfs');
  }

  /** The container's own changes: the overlay upper directory (whiteouts as 0:0 character devices). */
  public upperDir(id: string): string {
    return path.join(this.store.containerDir(id), 'diff');
  }

  /** Records a container event (`start`, `die`, `exec_create: …`) in the state root's event log. */
  public event(action: string, record: ContainerRecord, extra: { readonly [key: string]: string | undefined } = {}): void {
    recordContainerEvent(this.config.root, action, record, extra);
  }
}
