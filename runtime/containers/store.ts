import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../lib/core/errors';
import { checkName } from '../../lib/core/names';
import { JsonFileCache, readJsonIfExists, removeCachedFile, withLock, writeJsonAtomic } from '../util/files';
import type { RuntimeConfig } from '../config';
import type { ImageUser, ImageUsers } from '../images/store';
import { pidAlive } from '../../lib/core/process';
import type { ContainerRecord, ContainerState } from './types';

/**
 * Container records and states on disk:
 *
 *   <root>/containers/<id>/config.json   the record (what create decided)
 *   <root>/containers/<id>/state.json    the state (what happened since)
 *   <root>/containers/<id>/diff, work    the overlay upper and work dirs
 *   <root>/containers/<id>/ctr.log       conmon's k8s-file log
 *   <root>/containers/<id>/hosts …       /etc/hosts, /etc/hostname, /etc/resolv.conf
 *   <runRoot>/containers/<id>/           the bundle: OCI config.json, merged root, pid and exit files
 *
 * Each container has its own lock; creating, renaming and removing also take the names lock,
 * so two commands never give two containers one name.
 */
export class ContainerStore {
  public readonly dir: string;
  public readonly runDir: string;
  /** Records read before, read again only when rewritten: creating, starting or resolving scans every record. */
  private readonly recordFiles = new JsonFileCache<ContainerRecord>();

  constructor(root: string, runRoot: string) {
    this.dir = path.join(root, 'containers');
    this.runDir = path.join(runRoot, 'containers');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(this.runDir, { recursive: true, mode: 0o700 });
  }

  public containerDir(id: string): string {
    return path.join(this.dir, id);
  }

  public bundleDir(id: string): string {
    return path.join(this.runDir, id);
  }

  /** A fresh 64-hex id. */
  public static newId(): string {
    return randomBytes(32).toString('hex');
  }

  /** Runs `fn` holding the container's lock. */
  public locked<T>(id: string, fn: () => Promise<T> | T): Promise<T> {
    return withLock(path.join(this.dir, `${id}.lock`), fn, { staleMs: 10_000 });
  }

  /** Runs `fn` holding the names lock (create, rename, rm). */
  public namesLocked<T>(fn: () => Promise<T> | T): Promise<T> {
    return withLock(path.join(this.dir, 'names.lock'), fn);
  }

  /** The record of container `id` (frozen: shared with every other reader; change a copy and write it). */
  public record(id: string): ContainerRecord {
    const r = this.tryRecord(id);
    if (!r) throw new NotFoundError(`No such container: ${id}`);
    return r;
  }

  public tryRecord(id: string): ContainerRecord | undefined {
    return this.recordFiles.read(path.join(this.dir, id, 'config.json'));
  }

  public state(id: string): ContainerState {
    return readJsonIfExists<ContainerState>(path.join(this.dir, id, 'state.json')) ?? initialState();
  }

  public records(): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    for (const f of fs.readdirSync(this.dir)) {
      const r = /^[0-9a-f]{64}$/.test(f) ? this.tryRecord(f) : undefined;
      if (r) out.push(r);
    }
    return out;
  }

  /** The id of the container named `nameOrId` (a name, a full id or a unique id prefix), as Docker resolves it. */
  public resolve(nameOrId: string): string {
    const id = this.tryResolve(nameOrId);
    if (!id) throw new NotFoundError(`No such container: ${nameOrId}`);
    return id;
  }

  public tryResolve(nameOrId: string): string | undefined {
    const wanted = nameOrId.replace(/^\//, '');
    const all = this.records();
    const exact = all.find((r) => r.Id === wanted) ?? all.find((r) => r.Name === wanted);
    if (exact) return exact.Id;
    if (!/^[0-9a-f]+$/.test(wanted)) return undefined;
    const matches = all.filter((r) => r.Id.startsWith(wanted));
    if (matches.length > 1) throw new InvalidArgumentError(`multiple containers found with provided prefix: ${wanted}`);
    return matches[0]?.Id;
  }

  /** Throws Docker's conflict error when `name` is taken by another container. Call under the names lock. */
  public checkNameFree(name: string, except?: string): void {
    const problem = checkName('container', name);
    if (problem) throw new InvalidArgumentError(problem);
    const other = this.records().find((r) => r.Name === name && r.Id !== except);
    if (other) {
      throw new ConflictError(
        `Conflict. The container name "/${name}" is already in use by container "${other.Id}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
  }

  /** Writes a new container's record and state. Call under the names lock. */
  public add(record: ContainerRecord): void {
    const dir = this.containerDir(record.Id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeJsonAtomic(path.join(dir, 'state.json'), initialState());
    // The record is written last: a container without config.json does not exist.
    writeJsonAtomic(path.join(dir, 'config.json'), record);
  }

  public writeRecord(record: ContainerRecord): void {
    writeJsonAtomic(path.join(this.containerDir(record.Id), 'config.json'), record);
  }

  public writeState(id: string, state: ContainerState): void {
    writeJsonAtomic(path.join(this.containerDir(id), 'state.json'), state);
  }

  /** Updates the state with `patch` (call under the container's lock); returns the new state. */
  public patchState(id: string, patch: Partial<ContainerState>): ContainerState {
    const next = { ...this.state(id), ...patch };
    this.writeState(id, next);
    return next;
  }

  /** Deletes a container's record and directories (the record first, so a crash leaves no half container). */
  public delete(id: string): void {
    removeCachedFile(path.join(this.containerDir(id), 'config.json'));
    fs.rmSync(this.containerDir(id), { recursive: true, force: true });
    fs.rmSync(this.bundleDir(id), { recursive: true, force: true });
  }
}

export function initialState(): ContainerState {
  return {
    Status: 'created',
    Pid: 0,
    ExitCode: 0,
    OOMKilled: false,
    Error: '',
    StartedAt: '0001-01-01T00:00:00Z',
    FinishedAt: '0001-01-01T00:00:00Z',
    RestartCount: 0,
    StoppedByUser: false,
  };
}

/**
 * The containers of a state root by the image they use, read from the container records when a
 * decision is made (`rmi` and `prune` decide under the image index lock on what is there now).
 * A container counts as running while its monitor lives (a record left `running` by a crash does not).
 */
export function containerImageUsers(config: RuntimeConfig): ImageUsers {
  return () => {
    const byImage = new Map<string, ImageUser[]>();
    const users = (imageId: string): readonly ImageUser[] => byImage.get(imageId) ?? [];
    if (!fs.existsSync(path.join(config.root, 'containers'))) return users;
    const store = new ContainerStore(config.root, config.runRoot);
    for (const r of store.records()) {
      const state = store.state(r.Id);
      const running = ((state.Status === 'running' || state.Status === 'paused') && pidAlive(state.MonitorPid ?? 0)) || state.Status === 'restarting';
      byImage.set(r.ImageId, [...users(r.ImageId), { id: r.Id, running }]);
    }
    return users;
  };
}
