import { Readable, Writable } from 'node:stream';
import { familiarReference, parseReference } from '../../lib/util/reference';
import type { RuntimeConfig } from '../config';
import { importRootfs, ImportOptions, loadImages, saveImages } from './archive';
import { Credentials, removeCredentials, storeCredentials } from './credentials';
import { layerSize } from './layers';
import { Progress } from './progress';
import { pullImage } from './pull';
import { pushImage, PushResult } from './push';
import { RegistryClient } from './registry';
import { ImageRecord, ImageStore } from './store';
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

/**
 * The images half of the built-in runtime: what `cdk-docker runtime` image commands and the
 * built-in driver call. Each method takes plain values and returns data; printing is the CLI's.
 */
export class ImageService {
  public readonly store: ImageStore;

  constructor(
    private readonly config: RuntimeConfig,
    /** Names the container using an image, if any (the containers half plugs in here). */
    private readonly inUse: (imageId: string) => string | undefined = () => undefined,
  ) {
    this.store = new ImageStore(config.root);
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

  public pull(ref: string, progress?: Progress): Promise<ImageRecord> {
    return this.withClient((c) => pullImage(this.store, c, ref, { progress }));
  }

  public push(ref: string, progress?: Progress): Promise<PushResult> {
    return this.withClient((c) => pushImage(this.store, c, ref, { progress }));
  }

  public tag(source: string, target: string): Promise<ImageRecord> {
    return this.store.tag(source, target);
  }

  /** Verifies credentials against the registry, then stores them in the Docker config. */
  public async login(registry: string, creds: Credentials): Promise<void> {
    const host = parseReference(`${registry}/x`).registry;
    await this.withClient((c) => c.checkLogin(host, creds));
    storeCredentials(host, creds);
  }

  public logout(registry: string): boolean {
    return removeCredentials(parseReference(`${registry}/x`).registry);
  }

  /** `images`: without `all`, intermediate images (a build's untagged steps) are left out. */
  public list(all = false): ImageSummary[] {
    const rows: ImageSummary[] = [];
    for (const r of this.store.list(all)) {
      const size = this.store.size(r);
      const digestOf = (repo: string) => r.repoDigests.find((d) => d.startsWith(`${repo}@`))?.split('@')[1] ?? '<none>';
      if (r.repoTags.length === 0) {
        const repo = r.repoDigests[0]?.split('@')[0];
        rows.push({ repository: repo ? familiarReference(parseReference(repo)).replace(/:latest$/, '') : '<none>', tag: '<none>', digest: repo ? digestOf(repo) : '<none>', id: r.id, created: r.created, size });
      }
      for (const t of r.repoTags) {
        const p = parseReference(t);
        const repo = `${p.registry}/${p.repository}`;
        rows.push({ repository: familiarReference({ registry: p.registry, repository: p.repository }), tag: p.tag!, digest: digestOf(repo), id: r.id, created: r.created, size });
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

  public remove(nameOrId: string, force = false): Promise<string[]> {
    return this.store.remove(nameOrId, { force, inUse: this.inUse });
  }

  public prune(all = false): Promise<{ deleted: string[]; reclaimed: number }> {
    return this.store.prune({ all, inUse: this.inUse });
  }

  public save(names: string[], out: Writable): Promise<void> {
    return saveImages(this.store, names, out);
  }

  public load(input: Readable, source?: string): Promise<string[]> {
    return loadImages(this.store, input, source);
  }

  public import(input: Readable, ref: string | undefined, opts?: ImportOptions): Promise<ImageRecord> {
    return importRootfs(this.store, input, ref, opts);
  }
}
