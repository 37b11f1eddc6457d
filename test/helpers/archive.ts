import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as tarStream from 'tar-stream';

/** One tar entry of a hand-made layer. */
export interface EntrySpec {
  readonly name: string;
  readonly type?: 'file' | 'directory' | 'symlink' | 'link';
  readonly content?: string | Buffer;
  readonly linkname?: string;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly pax?: { [k: string]: string };
}

/** An uncompressed tar of `entries`. */
export async function tarOf(entries: EntrySpec[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const readable = pack as unknown as NodeJS.ReadableStream;
  readable.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((r) => readable.on("end", () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = { name: e.name, type, linkname: e.linkname, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: new Date(1_600_000_000_000), pax: e.pax };
    if (type === 'file') pack.entry(header, e.content ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * Writes a Docker-format archive (`docker save` of Docker ≤ 24: `<id>/layer.tar` entries,
 * uncompressed) holding one image made of `layers`, tagged `tags`. Returns the image id.
 */
export async function writeDockerArchive(file: string, layers: EntrySpec[][], tags: string[], config: object = { Cmd: ['sh'] }): Promise<string> {
  const tars = await Promise.all(layers.map((l) => tarOf(l)));
  const diffIds = tars.map((t) => `sha256:${sha(t)}`);
  const imageConfig = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2020-09-13T12:26:40Z',
      config,
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: tars.map((_, i) => ({ created: '2020-09-13T12:26:40Z', created_by: `layer ${i}` })),
    }),
  );
  const id = sha(imageConfig);
  const pack = tarStream.pack();
  const out = fs.createWriteStream(file);
  pack.pipe(out);
  const layerPaths = tars.map((t) => `${sha(t)}/layer.tar`);
  tars.forEach((t, i) => pack.entry({ name: layerPaths[i] }, t));
  pack.entry({ name: `${id}.json` }, imageConfig);
  pack.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: `${id}.json`, RepoTags: tags, Layers: layerPaths }]));
  pack.finalize();
  await new Promise<void>((r) => out.on('close', () => r()));
  return `sha256:${id}`;
}
