import { Readable, Writable } from 'node:stream';
import { InvalidArgumentError } from '../../lib/core/errors';
import { familiarReference, parseReference } from '../../lib/core/reference';
import type { RuntimeConfig } from '../config';
import { recordImageEvent } from '../events';
import { boolFilter, globPattern, groupFilters, matchLabels } from '../util/filters';
import { importRootfs, ImportOptions, loadImages, saveImages } from './archive';
import { Credentials, dockerConfigPath, lookupCredentials, removeCredentials, storeCredentials } from './credentials';
import { layerSize } from './layers';
import { Progress, ProgressSink } from './progress';
import { pullImage } from './pull';
import { pushImage, PushResult } from './push';
import { RegistryClient } from './registry';
import { deletionLine, ImageDeletion, ImageRecord, ImageStore, ImageUsers } from './store';
import type { ImageConfig } from './types';

/** A row of `images`. */
export interface ImageSummary {
  readonly repository: string;
  readonly tag: string;
  readonly digest: string;
  readonly id: string;
  readonly created: string;
  readonly size: number;
}

/** `images --filter` (and `images REPOSITORY[:TAG]`); different keys must all match. */
export interface ImageListFilters {
  /**
   * Docker's reference patterns: Go `path.Match` globs on the short reference (`busybox:1.36`,
   * `app:*`) or on the repository name alone (`busybox`: every tag); any may match.
   */
  readonly reference?: readonly string[];
  /** true: only untagged images; false: only tagged ones. */
  readonly dangling?: boolean;
  /** `KEY` or `KEY=VALUE` of the image config's labels; every one must match. */
  readonly label?: readonly string[];
  /** Only images created before this one (a reference or an id). */
  readonly before?: string;
  /** Only images created after this one (a reference or an id). */
  readonly since?: string;
}

/** Parses `images --filter` arguments: `reference=`, `dangling=true|false`, `label=KEY[=VALUE]`, `before=IMAGE`, `since=IMAGE`. */
export function parseImageListFilters(args: readonly string[]): ImageListFilters {
  const g = groupFilters(args, ['reference', 'dangling', 'label', 'before', 'since'], 'image');
  for (const p of g.get('reference') ?? []) if (!globPattern(p)) throw new InvalidArgumentError(`invalid filter 'reference=${p}': syntax error in pattern`);
  // As Docker, the last before= and since= count.
  return { reference: g.get('reference'), dangling: boolFilter(g, 'dangling'), label: g.get('label'), before: g.get('before')?.at(-1), since: g.get('since')?.at(-1) };
}

/**
 * The images half of the built-in runtime: what `cdk-docker runtime` image commands and the
 * built-in driver call. Each method takes plain values and returns data; printing is the CLI's.
 */
export class ImageService {
  public readonly store: ImageStore;

  constructor(
    private readonly config: RuntimeConfig,
    /** The containers using an image (runtime/containers' `containerImageUsers` for this state root). */
    private readonly inUse: ImageUsers,
  ) {
    this.store = new ImageStore(config.root);
    // Whatever command opens the store collects what killed loads and pulls left behind.
    this.store.sweepInterrupted();
  }

  private client(): RegistryClient {
    return new RegistryClient({ insecureRegistries: this.config.insecureRegistries });
  }

  private async withClient<T>(fn: (c: RegistryClient) => Promise<T>): Promise<T> {
    const c = this.client();
    try {
      return await fn(c);
    } finally {
      await c.close();
    }
  }

  public pull(ref: string, progress?: ProgressSink): Promise<ImageRecord> {
    return this.withClient((c) => pullImage(this.store, c, ref, { progress })).then((r) => (this.event('pull', familiarReference(parseReference(ref)), r, familiarReference({ ...parseReference(ref), tag: undefined, digest: undefined })), r));
  }

  public push(ref: string, progress?: Progress): Promise<PushResult> {
    return this.withClient((c) => pushImage(this.store, c, ref, { progress })).then((r) => (this.event('push', familiarReference(parseReference(ref)), this.store.tryResolve(ref), familiarReference({ ...parseReference(ref), tag: undefined, digest: undefined })), r));
  }

  public tag(source: string, target: string): Promise<ImageRecord> {
    return this.store.tag(source, target).then((r) => (this.event('tag', r.id, r, familiarReference(parseReference(target))), r));
  }

  /** Verifies credentials against the registry, then stores them in the Docker config. */
  public async login(registry: string, creds: Credentials): Promise<void> {
    const host = parseReference(`${registry}/x`).registry;
    await this.withClient((c) => c.checkLogin(host, creds));
    storeCredentials(host, creds);
  }

  /** The Docker client config file where `login` stores credentials. */
  public credentialsFile(): string {
    return dockerConfigPath();
  }

  /** The credentials stored for a registry (`login` without flags tries them first, as Docker does). */
  public storedCredentials(registry: string): Credentials | undefined {
    return lookupCredentials(parseReference(`${registry}/x`).registry);
  }

  public logout(registry: string): boolean {
    return removeCredentials(parseReference(`${registry}/x`).registry);
  }

  /**
   * `images`: a row per tag (one `<none>` row for an untagged image), newest first, matching
   * `filters`. Without `all`, intermediate images (a build's untagged steps) are left out.
   */
  public list(all = false, filters: ImageListFilters = {}): ImageSummary[] {
    const created = (ref: string) => Date.parse(this.store.resolve(ref).created);
    const before = filters.before !== undefined ? created(filters.before) : undefined;
    const since = filters.since !== undefined ? created(filters.since) : undefined;
    const patterns = filters.reference?.map((p) => globPattern(p)!);
    // Docker's reference.FamiliarMatch: the short reference, else the repository name.
    const referenced = (familiar: string, name: string) => patterns === undefined || patterns.some((re) => re.test(familiar) || re.test(name));
    const rows: ImageSummary[] = [];
    for (const r of this.store.list(all)) {
      const t = Date.parse(r.created);
      if ((before !== undefined && !(t < before)) || (since !== undefined && !(t > since))) continue;
      if (filters.dangling !== undefined && (r.repoTags.length === 0) !== filters.dangling) continue;
      if (filters.label !== undefined && !matchLabels(this.store.config(r).config?.Labels, filters)) continue;
      let bytes: number | undefined;
      const size = () => (bytes ??= this.store.size(r));
      const digestOf = (repo: string) => r.repoDigests.find((d) => d.startsWith(`${repo}@`))?.split('@')[1] ?? '<none>';
      if (r.repoTags.length === 0) {
        const repo = r.repoDigests[0]?.split('@')[0];
        const name = repo ? familiarReference(parseReference(repo)).replace(/:latest$/, '') : '<none>';
        const digest = repo ? digestOf(repo) : '<none>';
        if (filters.reference !== undefined && (!repo || !referenced(`${name}@${digest}`, name))) continue;
        rows.push({ repository: name, tag: '<none>', digest, id: r.id, created: r.created, size: size() });
      }
      for (const tag of r.repoTags) {
        const p = parseReference(tag);
        const name = familiarReference({ registry: p.registry, repository: p.repository });
        if (!referenced(`${name}:${p.tag}`, name)) continue;
        rows.push({ repository: name, tag: p.tag!, digest: digestOf(`${p.registry}/${p.repository}`), id: r.id, created: r.created, size: size() });
      }
    }
    return rows;
  }

  /** Docker-like `image inspect` JSON. */
  public inspect(nameOrId: string): object {
    const r = this.store.resolve(nameOrId);
    const config: ImageConfig = this.store.config(r);
    const c = config.config ?? {};
    return {
      Id: r.id,
      RepoTags: r.repoTags.map((t) => familiarReference(parseReference(t))),
      RepoDigests: r.repoDigests.map((d) => familiarReference(parseReference(d))),
      Parent: r.parent ?? '',
      Comment: config.history?.slice(-1)[0]?.comment ?? '',
      Created: r.created,
      DockerVersion: config.docker_version ?? '',
      Author: config.author ?? '',
      Config: {
        Hostname: '',
        User: c.User ?? '',
        ExposedPorts: c.ExposedPorts ?? null,
        Env: c.Env ?? null,
        Cmd: c.Cmd ?? null,
        Healthcheck: c.Healthcheck,
        Entrypoint: c.Entrypoint ?? null,
        Volumes: c.Volumes ?? null,
        WorkingDir: c.WorkingDir ?? '',
        Labels: c.Labels ?? null,
        StopSignal: c.StopSignal,
        OnBuild: c.OnBuild ?? null,
        Shell: c.Shell,
      },
      Architecture: config.architecture,
      Variant: config.variant,
      Os: config.os,
      Size: this.store.size(r),
      RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
      Metadata: { LastTagTime: r.added },
    };
  }

  /** `history`: newest first, with the size of each non-empty layer. */
  public history(nameOrId: string): Array<{ id: string; created: string; createdBy: string; size: number; comment: string }> {
    const r = this.store.resolve(nameOrId);
    const config = this.store.config(r);
    const chains = this.store.chainIds(r);
    const rows = [];
    let layer = 0;
    for (const h of config.history ?? []) {
      let size = 0;
      if (!h.empty_layer) {
        size = chains[layer] ? layerSize(this.store.layerDir(chains[layer])) : 0;
        layer++;
      }
      rows.push({ id: '<missing>', created: h.created ?? '', createdBy: h.created_by ?? '', size, comment: h.comment ?? '' });
    }
    // Each image of the parent chain still here names the history row it added (a build's steps).
    for (let p: ImageRecord | undefined = r; p; p = p.parent ? this.store.tryResolve(p.parent) : undefined) {
      const n = (p === r ? config : this.store.config(p)).history?.length ?? 0;
      if (n > 0 && rows[n - 1]) rows[n - 1].id = p.id;
    }
    rows.reverse();
    if (rows.length) rows[0].id = r.id;
    return rows;
  }

  /** `rmi`: Docker's `Untagged:`/`Deleted:` lines (see ImageStore.remove). */
  public async remove(nameOrId: string, force = false): Promise<string[]> {
    const done = await this.store.remove(nameOrId, { force, inUse: this.inUse });
    this.removalEvents(done);
    return done.map(deletionLine);
  }

  /**
   * `image prune`: what was done (Docker prints it as `untagged: …`/`deleted: …` lines), the ids
   * of the images deleted, and the bytes freed.
   */
  public async prune(all = false): Promise<{ deletions: ImageDeletion[]; deleted: string[]; reclaimed: number }> {
    const r = await this.store.prune({ all, inUse: this.inUse });
    this.removalEvents(r.deletions);
    return { ...r, deleted: r.deletions.filter((d) => 'deleted' in d && !d.layer).map((d) => d.image) };
  }

  public save(names: string[], out: Writable): Promise<void> {
    return saveImages(this.store, names, out).then(() => names.forEach((n) => { const r = this.store.tryResolve(n); if (r) this.event('save', r.id, r); }));
  }

  public load(input: Readable, source?: string): Promise<string[]> {
    return loadImages(this.store, input, source).then((lines) => (lines.forEach((l) => { const r = this.store.tryResolve(l.replace(/^Loaded image( ID)?: /, '')); if (r) this.event('load', r.id, r); }), lines));
  }

  public import(input: Readable, ref: string | undefined, opts?: ImportOptions): Promise<ImageRecord> {
    return importRootfs(this.store, input, ref, opts).then((r) => {
      // Docker tags an imported image (a tag event), then announces the import.
      if (ref !== undefined) this.event('tag', r.id, r, familiarReference(parseReference(ref)));
      this.event('import', r.id, r);
      return r;
    });
  }

  /** Records an image event; `name` is the image id unless given (Docker's pull, push and tag name a reference). */
  private event(action: string, id: string, record: ImageRecord | undefined, name = id): void {
    let labels: { [k: string]: string } | undefined;
    try {
      labels = record ? (this.store.config(record).config?.Labels ?? undefined) : undefined;
    } catch {
      labels = undefined;
    }
    recordImageEvent(this.config.root, action, id, name, labels);
  }

  /** Docker's `untag` and `delete` events for what `rmi`/`image prune` did (both name the image id; layers have none). */
  private removalEvents(done: readonly ImageDeletion[]): void {
    for (const d of done) {
      if ('untagged' in d ? d.event : !d.layer) recordImageEvent(this.config.root, 'untagged' in d ? 'untag' : 'delete', d.image, d.image);
    }
  }
}
