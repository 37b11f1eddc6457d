import * as fs from 'node:fs';
import { InvalidArgumentError } from '../../lib/core/errors';
import { formatReference, parseReference } from '../../lib/core/reference';
import { Progress } from './progress';
import { mapLimit } from './pull';
import { RegistryClient } from './registry';
import { ImageStore } from './store';

export interface PushResult {
  /** Manifest digest in the registry. */
  readonly digest: string;
  /** Manifest size in bytes. */
  readonly size: number;
}

/**
 * Pushes a local image under `refText` (which must be one of its tags, as with Docker): each
 * blob is checked with HEAD, mounted from another repository of the same registry when it is
 * known to be there, or uploaded; then the manifest is put under the tag.
 */
export async function pushImage(store: ImageStore, client: RegistryClient, refText: string, opts: { progress?: Progress; concurrency?: number } = {}): Promise<PushResult> {
  const ref = parseReference(refText);
  if (ref.digest) throw new InvalidArgumentError(`cannot push by digest ("${refText}"); push a tag`);
  const full = formatReference(ref);
  const record = store.tryResolve(full);
  if (!record || !record.repoTags.includes(full)) {
    throw new InvalidArgumentError(`An image does not exist locally with the tag: ${refText}; tag one first with \`cdk-docker runtime tag IMAGE ${refText}\``);
  }
  const progress = opts.progress ?? Progress.silent();
  const manifest = store.manifest(record);
  const repo = `${ref.registry}/${ref.repository}`;
  progress.line(`The push refers to repository [${repo}]`);
  // Docker shows the layers only; the config goes up silently with them.
  const blobs = [...manifest.layers.map((l) => ({ digest: l.digest, size: l.size, shown: true })), { digest: manifest.config.digest, size: manifest.config.size, shown: false }];
  // As Docker's: every layer is listed as Preparing first; Pushing is only a live progress row.
  for (const b of blobs) if (b.shown) progress.layer(b.digest.slice(7, 19), 'Preparing');
  await mapLimit(blobs, opts.concurrency ?? 3, async (blob) => {
    const short = blob.digest.slice(7, 19);
    const show = (status: string, liveOnly = false) => blob.shown && progress.layer(short, status, { liveOnly });
    if (await client.hasBlob(ref.registry, ref.repository, blob.digest)) {
      show('Layer already exists');
      return;
    }
    for (const source of store.blobSources(blob.digest)) {
      if (!source.startsWith(`${ref.registry}/`) || source === repo) continue;
      if (await client.mountBlob(ref.registry, ref.repository, blob.digest, source.slice(ref.registry.length + 1))) {
        show(`Mounted from ${source.slice(ref.registry.length + 1)}`);
        return;
      }
    }
    show('Pushing', true);
    const file = store.blobPath(blob.digest);
    await client.uploadBlob(ref.registry, ref.repository, blob.digest, fs.statSync(file).size, () => fs.createReadStream(file));
    show('Pushed');
  });
  const body = store.readBlob(record.manifestDigest);
  const digest = await client.putManifest(ref.registry, ref.repository, ref.tag!, record.manifestMediaType, body);
  await store.recordPush(record.id, blobs.map((b) => b.digest), repo, `${repo}@${digest}`);
  progress.line(`${ref.tag}: digest: ${digest} size: ${body.length}`);
  return { digest, size: body.length };
}
