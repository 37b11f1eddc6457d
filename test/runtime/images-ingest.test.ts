import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { CdkDockerError } from '../../lib/core/errors';
import { imageService, runtimeConfig } from '../../runtime';
import type { ImageService } from '../../runtime/images';
import { CLI, cdkDocker, ok, sleep, tempDir, until } from '../helpers/cli';
import { EntrySpec, tarOf } from '../helpers/archive';
import { requireCommand, sh } from '../helpers/prereq';
import { TestRegistry, startRegistry } from '../helpers/registry';

/**
 * Issue 11 items 3, 4 and 6: names and digests from archives and registries never become host
 * paths, and interrupted ingest is collected.
 *
 * Each test has a private state root `<work>/rootN` and a canary tree `<work>/canary` beside
 * it; a hostile input must leave the canary byte-identical and the root as it was.
 */

jest.setTimeout(120_000);

// Made when the file loads: the test tables below name paths in the canary.
const work = tempDir('cdk-docker-ingest-');
const canary = path.join(work, 'canary');
let n = 0;

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

function freshRoot(): { root: string; env: NodeJS.ProcessEnv; svc: () => ImageService } {
  const root = path.join(work, `root${n++}`);
  const env = { CDK_DOCKER_ROOT: root, CDK_DOCKER_RUNROOT: path.join(work, `run${n}`) };
  return { root, env, svc: () => imageService(runtimeConfig(env)) };
}

/** Every path under `dir` with its type, size and content hash (files). */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let names: string[] = [];
    try {
      names = fs.readdirSync(d).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) {
        out.push(`${path.relative(dir, p)}/`);
        walk(p);
      } else out.push(`${path.relative(dir, p)} ${st.size} ${st.isFile() ? sha(fs.readFileSync(p)) : 'special'}`);
    }
  };
  walk(dir);
  return out;
}

/** The root's content without lock notes (transient). */
/** The root's files, but locks and the event log (which records every command, as it should). */
const rootState = (root: string) => snapshot(root).filter((l) => !l.includes('.lock') && !l.startsWith('events/'));

/** A canary tree beside the roots: a secret file and a host tar whose diff id a hostile config can name. */
let secretTar: Buffer;
beforeAll(async () => {
  requireCommand('tar', 'tar');
  fs.mkdirSync(canary);
  secretTar = await tarOf([{ name: 'pwned', content: 'from the host' }]);
  fs.writeFileSync(path.join(canary, 'secret.tar'), secretTar);
  fs.writeFileSync(path.join(canary, 'config.json'), JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

/** A relative path from anywhere under the work dir to `abs` on the host. */
const escape = (abs: string): string => `${'../'.repeat(24)}${abs.replace(/^\/+/, '')}`;

async function writeTar(file: string, entries: EntrySpec[]): Promise<string> {
  fs.writeFileSync(file, await tarOf(entries));
  return file;
}

/** A small valid layer, gzip'd (so its diff id is only checked when it is unpacked). */
async function layer(): Promise<{ tar: Buffer; gz: Buffer; diffId: string }> {
  const tar = await tarOf([{ name: 'hello', content: 'world' }]);
  return { tar, gz: zlib.gzipSync(tar), diffId: `sha256:${sha(tar)}` };
}

function configOf(diffIds: string[]): Buffer {
  return Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: diffIds } }));
}

/** Loads `file` and returns the error (the load must fail). */
async function loadFails(svc: ImageService, file: string): Promise<Error> {
  try {
    await svc.load(fs.createReadStream(file), path.basename(file));
  } catch (e) {
    return e as Error;
  }
  throw new Error(`loading ${file} succeeded`);
}

function expectOneLine(e: Error, ...parts: string[]): void {
  expect(e).toBeInstanceOf(CdkDockerError);
  expect(e.message.split('\n')).toHaveLength(1);
  for (const p of parts) expect(e.message).toContain(p);
}

/** The hostile digest values: a path escape into the canary, wrong length, uppercase, another algorithm. */
const badDigests = (): Array<[string, string]> => [
  ['a path escape', `sha256:../../../canary/newdir/x`],
  ['63 hex digits', `sha256:${'a'.repeat(63)}`],
  ['uppercase hex', `sha256:${'A'.repeat(64)}`],
  ['another algorithm', `sha512:${'a'.repeat(128)}`],
];

describe('docker-save archives: names are entries of the archive (item 3)', () => {
  test('a Layers entry with .. that names a host tar is refused: nothing read, nothing loaded', async () => {
    const { root, svc: open } = freshRoot();
    const svc = open();
    const before = rootState(root);
    const canaryBefore = snapshot(canary);
    // The config names the host tar's real diff id: the old loader took the host file as the layer.
    const config = configOf([`sha256:${sha(secretTar)}`]);
    const file = await writeTar(path.join(work, 'dotdot.tar'), [
      { name: 'config.json', content: config },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: ['evil:1'], Layers: [escape(path.join(canary, 'secret.tar'))] }]) },
    ]);
    const e = await loadFails(svc, file);
    expectOneLine(e, 'dotdot.tar', 'manifest.json[0].Layers[0]', 'outside the archive');
    expect(svc.list(true)).toEqual([]);
    expect(rootState(root)).toEqual(before);
    expect(snapshot(canary)).toEqual(canaryBefore);
  });

  test('a Layers entry with .. and a wrong diff id does not disclose the host file\'s digest', async () => {
    const { root, svc: open } = freshRoot();
    const svc = open();
    const before = rootState(root);
    const file = await writeTar(path.join(work, 'disclose.tar'), [
      { name: 'config.json', content: configOf([`sha256:${'0'.repeat(64)}`]) },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: null, Layers: [escape(path.join(canary, 'secret.tar'))] }]) },
    ]);
    const e = await loadFails(svc, file);
    expectOneLine(e, 'Layers[0]', 'outside the archive');
    expect(e.message).not.toContain(sha(secretTar));
    expect(rootState(root)).toEqual(before);
  });

  test('a Config entry with .. is refused without reading the host file', async () => {
    const { root, svc: open } = freshRoot();
    const svc = open();
    const before = rootState(root);
    const file = await writeTar(path.join(work, 'config-dotdot.tar'), [
      { name: 'manifest.json', content: JSON.stringify([{ Config: escape(path.join(canary, 'config.json')), RepoTags: ['evil:2'], Layers: [] }]) },
    ]);
    const e = await loadFails(svc, file);
    expectOneLine(e, 'manifest.json[0].Config', 'outside the archive');
    expect(svc.list(true)).toEqual([]);
    expect(rootState(root)).toEqual(before);
  });

  test('a symlinked layer entry that leaves the archive is refused', async () => {
    const { root, svc: open } = freshRoot();
    const svc = open();
    const before = rootState(root);
    const file = await writeTar(path.join(work, 'symlink-out.tar'), [
      { name: 'config.json', content: configOf([`sha256:${sha(secretTar)}`]) },
      { name: 'layer.tar', type: 'symlink', linkname: path.join(canary, 'secret.tar') },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: ['evil:3'], Layers: ['layer.tar'] }]) },
    ]);
    const e = await loadFails(svc, file);
    expectOneLine(e, 'Layers[0]', '"layer.tar"');
    expect(svc.list(true)).toEqual([]);
    expect(rootState(root)).toEqual(before);
  });

  test('a layer entry linked to another entry of the archive loads (Docker 24 links identical layers)', async () => {
    const { svc: open } = freshRoot();
    const svc = open();
    const l = await layer();
    const file = await writeTar(path.join(work, 'linked.tar'), [
      { name: 'a/layer.tar', content: l.tar },
      { name: 'b/', type: 'directory' },
      { name: 'b/layer.tar', type: 'symlink', linkname: '../a/layer.tar' },
      { name: 'config.json', content: configOf([l.diffId]) },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: ['linked:1'], Layers: ['./b/layer.tar'] }]) },
    ]);
    expect(await svc.load(fs.createReadStream(file), 'linked.tar')).toEqual(['Loaded image: linked:1']);
  });

  test('a manifest.json over the size limit is refused before it is read', async () => {
    const { root, svc: open } = freshRoot();
    const svc = open();
    const before = rootState(root);
    const file = await writeTar(path.join(work, 'huge-manifest.tar'), [{ name: 'manifest.json', content: Buffer.alloc(5 * 1024 * 1024, 0x20) }]);
    const e = await loadFails(svc, file);
    expectOneLine(e, 'huge-manifest.tar: manifest.json', 'over the limit');
    expect(rootState(root)).toEqual(before);
  });

  test('a Layers entry ../dev/zero fails fast instead of reading forever', async () => {
    const { root, svc: open } = freshRoot();
    const svc = open();
    const before = rootState(root);
    const file = await writeTar(path.join(work, 'zero.tar'), [
      { name: 'config.json', content: configOf([`sha256:${'0'.repeat(64)}`]) },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: null, Layers: [escape('/dev/zero')] }]) },
    ]);
    const started = Date.now();
    const e = await loadFails(svc, file);
    expect(Date.now() - started).toBeLessThan(3_000);
    expectOneLine(e, 'Layers[0]', 'outside the archive');
    expect(rootState(root)).toEqual(before);
  }, 8_000);

  test('a missing entry is named with the archive, and the CLI prints one line', async () => {
    const { env } = freshRoot();
    const file = await writeTar(path.join(work, 'missing.tar'), [{ name: 'manifest.json', content: JSON.stringify([{ Config: 'nope.json', RepoTags: null, Layers: [] }]) }]);
    const r = cdkDocker(['runtime', 'load', '-i', file], work, env);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${file}: manifest.json[0].Config "nope.json" is not an entry of the archive`);
  });
});

describe('digests are parsed strictly before they become paths (item 4)', () => {
  test.each(badDigests())('config diff_ids with %s: a docker-save load is refused, nothing written in or out', async (_what, bad) => {
    const { root, svc: open } = freshRoot();
    const svc = open();
    const before = rootState(root);
    const canaryBefore = snapshot(canary);
    const l = await layer();
    const file = await writeTar(path.join(work, `diffid-${n}.tar`), [
      { name: 'layer.tar.gz', content: l.gz },
      { name: 'config.json', content: configOf([bad]) },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: ['evil:4'], Layers: ['layer.tar.gz'] }]) },
    ]);
    const e = await loadFails(svc, file);
    expectOneLine(e, 'rootfs.diff_ids[0]', 'not a valid digest');
    expect(rootState(root)).toEqual(before);
    expect(snapshot(canary)).toEqual(canaryBefore);
  });

  /** An OCI layout archive of one image, with `mutate` applied to its documents. */
  async function ociArchive(file: string, mutate: { layerDigest?: string; configDigest?: string; manifestDigest?: string; diffId?: string }): Promise<string> {
    const l = await layer();
    const config = configOf([mutate.diffId ?? l.diffId]);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: mutate.configDigest ?? `sha256:${sha(config)}`, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: mutate.layerDigest ?? `sha256:${sha(l.gz)}`, size: l.gz.length }],
      }),
    );
    const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: mutate.manifestDigest ?? `sha256:${sha(manifest)}`, size: manifest.length, annotations: { 'io.containerd.image.name': 'docker.io/library/oci:1' } }] };
    return writeTar(file, [
      { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'index.json', content: JSON.stringify(index) },
      { name: `blobs/sha256/${sha(l.gz)}`, content: l.gz },
      { name: `blobs/sha256/${sha(config)}`, content: config },
      { name: `blobs/sha256/${sha(manifest)}`, content: manifest },
    ]);
  }

  test('a well-formed OCI layout still loads', async () => {
    const { svc: open } = freshRoot();
    const svc = open();
    expect(await svc.load(fs.createReadStream(await ociArchive(path.join(work, 'oci-ok.tar'), {})), 'oci-ok.tar')).toEqual(['Loaded image: oci:1']);
  });

  const ociCases = (): Array<[string, string, object, string]> => [
    ...badDigests().map(([what, bad]): [string, string, object, string] => ['manifest layers[0].digest', what, { layerDigest: bad }, 'layers[0].digest']),
    ['manifest layers[0].digest', 'a path to a host file', { layerDigest: `sha256:${escape(path.join(canary, 'secret.tar'))}` }, 'layers[0].digest'],
    ...badDigests().map(([what, bad]): [string, string, object, string] => ['index manifests[0].digest', what, { manifestDigest: bad }, 'manifests[0].digest']),
    ...badDigests().map(([what, bad]): [string, string, object, string] => ['manifest config.digest', what, { configDigest: bad }, 'config.digest']),
    ...badDigests().map(([what, bad]): [string, string, object, string] => ['config diff_ids', what, { diffId: bad }, 'rootfs.diff_ids[0]']),
  ];
  test.each(ociCases())('OCI layout with a bad %s (%s) is refused, nothing written in or out', async (_field, _what, mutate, named) => {
    const { root, svc: open } = freshRoot();
    const svc = open();
    const before = rootState(root);
    const canaryBefore = snapshot(canary);
    const name = `oci-${n}.tar`;
    const file = await ociArchive(path.join(work, name), mutate);
    const e = await loadFails(svc, file);
    expectOneLine(e, name, named, 'not a valid digest');
    expect(e.message).not.toContain(sha(secretTar));
    expect(rootState(root)).toEqual(before);
    expect(snapshot(canary)).toEqual(canaryBefore);
  });
});

/**
 * A hostile registry: serves canned manifests and blobs, accepts pushes, and records every
 * request path (a bad digest must never reach a URL).
 */
interface Hostile {
  host: string;
  paths: string[];
  manifests: Map<string, { body: Buffer; type: string; headers?: Record<string, string> }>;
  blobs: Map<string, Buffer>;
  pushDigestHeader?: string;
  close(): Promise<void>;
}

async function hostileRegistry(): Promise<Hostile> {
  const h: Hostile = { host: '', paths: [], manifests: new Map(), blobs: new Map(), close: async () => undefined };
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    h.paths.push(`${req.method} ${url}`);
    req.resume();
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/(.+)$/.exec(url);
    if (url === '/v2/') return void res.writeHead(200).end('{}');
    if (m && m[2] === 'manifests' && req.method === 'GET') {
      const man = h.manifests.get(decodeURIComponent(m[3]));
      if (!man) return void res.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}');
      return void res.writeHead(200, { 'content-type': man.type, 'content-length': String(man.body.length), ...(man.headers ?? {}) }).end(man.body);
    }
    if (m && m[2] === 'manifests' && req.method === 'PUT') {
      return void req.on('end', () => res.writeHead(201, h.pushDigestHeader !== undefined ? { 'docker-content-digest': h.pushDigestHeader } : {}).end());
    }
    if (m && m[2] === 'blobs' && (req.method === 'GET' || req.method === 'HEAD')) {
      const blob = h.blobs.get(decodeURIComponent(m[3]));
      if (req.method === 'HEAD') return void res.writeHead(200, { 'content-length': '0' }).end();
      if (!blob) return void res.writeHead(404).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"unknown"}]}');
      return void res.writeHead(200, { 'content-length': String(blob.length) }).end(blob);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  h.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  h.close = () => new Promise<void>((r) => server.close(() => r()));
  return h;
}

describe('registry responses are checked before use (item 4)', () => {
  let reg: Hostile;
  beforeAll(async () => {
    reg = await hostileRegistry();
  });
  afterAll(() => reg.close());

  const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
  const LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

  /** Serves an image under `tag` with `mutate` applied; returns its parts. */
  async function serve(tag: string, mutate: { layerDigest?: string; configDigest?: string; diffId?: string; configSize?: number; layerSize?: number; header?: string } = {}) {
    const l = await layer();
    const config = configOf([mutate.diffId ?? l.diffId]);
    reg.blobs.set(`sha256:${sha(config)}`, config);
    reg.blobs.set(`sha256:${sha(l.gz)}`, l.gz);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST,
        config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: mutate.configDigest ?? `sha256:${sha(config)}`, size: mutate.configSize ?? config.length },
        layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: mutate.layerDigest ?? `sha256:${sha(l.gz)}`, size: mutate.layerSize ?? l.gz.length }],
      }),
    );
    reg.manifests.set(tag, { body: manifest, type: MANIFEST, headers: mutate.header !== undefined ? { 'docker-content-digest': mutate.header } : undefined });
    reg.manifests.set(`sha256:${sha(manifest)}`, { body: manifest, type: MANIFEST });
    return { manifest, config, layer: l };
  }

  async function pullFails(svc: ImageService, ref: string): Promise<Error> {
    try {
      await svc.pull(ref);
    } catch (e) {
      return e as Error;
    }
    throw new Error(`pulling ${ref} succeeded`);
  }

  test('a well-formed image pulls from it', async () => {
    await serve('ok');
    const { svc: open } = freshRoot();
    expect((await open().pull(`${reg.host}/app:ok`)).repoTags).toEqual([`${reg.host}/app:ok`]);
  });

  const cases = (): Array<[string, string, object, string]> => [
    ...badDigests().map(([what, bad]): [string, string, object, string] => ['config diff_ids', what, { diffId: bad }, 'rootfs.diff_ids[0]']),
    ...badDigests().map(([what, bad]): [string, string, object, string] => ['manifest layers[0].digest', what, { layerDigest: bad }, 'layers[0].digest']),
    ...badDigests().map(([what, bad]): [string, string, object, string] => ['manifest config.digest', what, { configDigest: bad }, 'config.digest']),
    ...badDigests().map(([what, bad]): [string, string, object, string] => ['Docker-Content-Digest header', what, { header: bad }, 'Docker-Content-Digest']),
    ['config size', 'a negative size', { configSize: -1 }, '/config/size'],
    ['layer size', 'a fractional size', { layerSize: 1.5 }, '/layers/0/size'],
    ['config size', 'a 100 MB config', { configSize: 100 * 1024 * 1024 }, 'over the limit'],
  ];
  test.each(cases())('a pull whose %s has %s is refused before any request with it; nothing written in or out', async (_field, _what, mutate, named) => {
    const tag = `t${n}`;
    await serve(tag, mutate);
    const { root, svc: open } = freshRoot();
    const svc = open();
    const before = rootState(root);
    const canaryBefore = snapshot(canary);
    reg.paths.length = 0;
    const e = await pullFails(svc, `${reg.host}/app:${tag}`);
    expectOneLine(e, named);
    // No bad value ever reached a URL.
    expect(reg.paths.filter((p) => /\.\.|%2E%2E|sha512|sha256:a{63}(?!a)|AAAA/i.test(p) && !/sha256:[a-f0-9]{64}/.test(p))).toEqual([]);
    expect(rootState(root)).toEqual(before);
    expect(snapshot(canary)).toEqual(canaryBefore);
  });

  test.each(badDigests())('a manifest list with a manifests[0].digest of %s is refused before it is requested', async (_what, bad) => {
    const tag = `list${n}`;
    reg.manifests.set(tag, {
      type: LIST,
      body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: LIST, manifests: [{ mediaType: MANIFEST, digest: bad, size: 100, platform: { architecture: 'amd64', os: 'linux' } }] })),
    });
    const { root, svc: open } = freshRoot();
    const svc = open();
    const before = rootState(root);
    reg.paths.length = 0;
    const e = await pullFails(svc, `${reg.host}/app:${tag}`);
    expectOneLine(e, 'manifest list', 'manifests[0].digest', 'not a valid digest');
    expect(reg.paths).toEqual([`GET /v2/app/manifests/${tag}`]);
    expect(rootState(root)).toEqual(before);
  });

  test('a manifest of 100 MB is refused, not read', async () => {
    const big = Buffer.alloc(100 * 1024 * 1024, 0x20);
    reg.manifests.set('huge', { type: MANIFEST, body: big });
    const { svc: open } = freshRoot();
    const e = await pullFails(open(), `${reg.host}/app:huge`);
    expectOneLine(e, 'over the limit');
    reg.manifests.delete('huge');
  });

  test.each(badDigests())('a push whose Docker-Content-Digest answer is %s is refused and not recorded', async (_what, bad) => {
    const { svc: open } = freshRoot();
    const svc = open();
    const l = await layer();
    const archive = await writeTar(path.join(work, `push-${n}.tar`), [
      { name: 'layer.tar', content: l.tar },
      { name: 'config.json', content: configOf([l.diffId]) },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: [`${reg.host}/pushed:1`], Layers: ['layer.tar'] }]) },
    ]);
    await svc.load(fs.createReadStream(archive));
    reg.pushDigestHeader = bad;
    let err: Error | undefined;
    try {
      await svc.push(`${reg.host}/pushed:1`);
    } catch (e) {
      err = e as Error;
    } finally {
      reg.pushDigestHeader = undefined;
    }
    expect(err).toBeDefined();
    expectOneLine(err!, 'Docker-Content-Digest');
    expect((svc.inspect(`${reg.host}/pushed:1`) as { RepoDigests: string[] }).RepoDigests).toEqual([]);
  });
});

// --- item 6: interrupted ingest --------------------------------------------------------------------

/** What a killed writer can leave: entries of images/ingest and layers/.tmp-*. */
function leftovers(root: string): string[] {
  const list = (d: string) => {
    try {
      return fs.readdirSync(d);
    } catch {
      return [];
    }
  };
  return [...list(path.join(root, 'images', 'ingest')).map((x) => `ingest/${x}`), ...list(path.join(root, 'images', 'layers')).filter((x) => x.startsWith('.tmp-')).map((x) => `layers/${x}`)];
}

/** Bytes under the root, the event log aside (it records every command). */
const du = (root: string): number => Number(sh('du', ['-sb', '--exclude=events', root]).split(/\s/)[0]);

/** Starts `cdk-docker ARGS` as a user would, in the background. */
function start(args: string[], env: NodeJS.ProcessEnv): ChildProcess & { done: Promise<{ code: number | null; signal: string | null; stderr: string }> } {
  const child = spawn(CLI, args, { cwd: work, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  return Object.assign(child, { done });
}

/** Whether process `pid`'s ingest working directory has something in it. */
function writing(root: string, pid: number): boolean {
  const own = fs.readdirSync(path.join(root, 'images', 'ingest')).find((x) => x.startsWith(`w-${pid}-`));
  return own !== undefined && fs.readdirSync(path.join(root, 'images', 'ingest', own)).length > 0;
}

describe('interrupted loads and pulls are collected (item 6)', () => {
  let big: string;
  let registry: TestRegistry;
  beforeAll(async () => {
    if (!fs.existsSync(path.join(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
    // One image with a 48 MB layer of random bytes (incompressible: ingest takes seconds).
    const data = randomBytes(48 * 1024 * 1024);
    const tar = await tarOf([{ name: 'big.bin', content: data }]);
    big = await writeTar(path.join(work, 'big.tar'), [
      { name: 'layer.tar', content: tar },
      { name: 'config.json', content: configOf([`sha256:${sha(tar)}`]) },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: ['big:1'], Layers: ['layer.tar'] }]) },
    ]);
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  test('kill -9 of loads and pulls leaks nothing after the next command and image prune', async () => {
    const { root, env, svc: open } = freshRoot();
    // The root as a used one is: its index written once.
    const tiny = await layer();
    const tinyArchive = await writeTar(path.join(work, 'tiny.tar'), [
      { name: 'layer.tar', content: tiny.tar },
      { name: 'config.json', content: configOf([tiny.diffId]) },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: ['tiny:1'], Layers: ['layer.tar'] }]) },
    ]);
    ok(cdkDocker(['runtime', 'load', '-i', tinyArchive], work, env));
    ok(cdkDocker(['runtime', 'image', 'prune', '-a', '-f'], work, env));
    const baseline = du(root);
    const baselineState = rootState(root);
    // The image in the registry, pushed from another root.
    const other = freshRoot();
    const pusher = other.svc();
    await pusher.load(fs.createReadStream(big));
    await pusher.tag('big:1', `${registry.host}/big:1`);
    await pusher.push(`${registry.host}/big:1`);

    // Pulls first (the first one downloads for sure), then loads (each spools and gzips 48 MB).
    // A later pull may find everything in place and finish before it is killed: that is fine.
    let leaked = 0;
    let kills = 0;
    /** The most the root grew over its baseline right after a writer ended (killed or not). */
    let grown = 0;
    const pull = ['runtime', 'pull', '-q', `${registry.host}/big:1`];
    const load = ['runtime', 'load', '-i', big];
    for (const args of [pull, pull, pull, load, load, load]) {
      const seen = new Set(leftovers(root));
      const child = start(args, env);
      let exited = false;
      void child.done.then(() => (exited = true));
      await until(`${args.join(' ')} to write`, () => exited || writing(root, child.pid!) || leftovers(root).some((x) => !seen.has(x)), 60_000);
      // Killed within 100 ms of its first write: a load of 48 MB now and then finished within
      // the 300 ms this waited before, leaving fewer than four writers killed mid-way.
      await sleep(Math.floor(Math.random() * 100));
      if (!exited) process.kill(child.pid!, 'SIGKILL');
      const r = await child.done;
      if (r.signal === 'SIGKILL') kills++;
      else expect(r).toMatchObject({ code: 0, stderr: '' });
      leaked = Math.max(leaked, leftovers(root).length);
      grown = Math.max(grown, du(root) - baseline);
    }
    expect(kills).toBeGreaterThanOrEqual(4);
    expect(leaked).toBeGreaterThan(0);
    // Something real to collect: megabytes, not just empty directories. (Measured after each
    // writer: a command collects the dead writers before it, so the end holds only the last one's,
    // and a writer killed within 100 ms of its first write may have written less than 10 MB.)
    expect(grown).toBeGreaterThan(1_000_000);
    // The next command collects the dead writers' temporary data.
    ok(cdkDocker(['runtime', 'images'], work, env));
    expect(leftovers(root)).toEqual([]);
    // Prune collects the complete but unreferenced blobs and layers: the root is as it was.
    ok(cdkDocker(['runtime', 'image', 'prune', '-a', '-f'], work, env));
    expect(leftovers(root)).toEqual([]);
    expect(rootState(root)).toEqual(baselineState);
    expect(du(root)).toBe(baseline);
    expect(open().list(true)).toEqual([]);
  }, 300_000);

  test('a killed writer that is still a zombie (its parent does not reap it) counts as dead', async () => {
    const { root, env } = freshRoot();
    ok(cdkDocker(['runtime', 'images'], work, env));
    // sh starts the load in the background and becomes `sleep`, which never reaps it.
    const parent = spawn('sh', ['-c', `"$0" runtime load -i "$1" & echo $!; exec sleep 60`, CLI, big], { cwd: work, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    parent.stdout!.on('data', (d) => (out += d));
    try {
      await until('the load to start', () => /^\d+\n/.test(out), 10_000);
      const pid = Number(out.trim());
      await until('the load to write', () => writing(root, pid), 60_000);
      process.kill(pid, 'SIGKILL');
      await until('the load to be a zombie', () => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].startsWith('Z'), 10_000);
      expect(leftovers(root).some((x) => x.startsWith(`ingest/w-${pid}-`))).toBe(true);
      ok(cdkDocker(['runtime', 'images'], work, env));
      expect(leftovers(root)).toEqual([]);
    } finally {
      parent.kill('SIGKILL');
    }
  }, 120_000);

  test('two stores of one root in one process ingest at once without removing each other\'s data', async () => {
    const { root, svc: open } = freshRoot();
    const [first, second] = [open(), open()];
    const l = await layer();
    const small = await writeTar(path.join(work, 'small.tar'), [
      { name: 'layer.tar', content: l.tar },
      { name: 'config.json', content: configOf([l.diffId]) },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: ['small:1'], Layers: ['layer.tar'] }]) },
    ]);
    const loading = first.load(fs.createReadStream(big), 'big.tar');
    await until('the big load to write', () => writing(root, process.pid), 30_000);
    // The small load starts and ends while the big one is still writing.
    expect(await second.load(fs.createReadStream(small), 'small.tar')).toEqual(['Loaded image: small:1']);
    expect(writing(root, process.pid)).toBe(true);
    expect(await loading).toEqual(['Loaded image: big:1']);
    expect(leftovers(root)).toEqual([]);
  });

  test('a sweep never removes a live writer\'s data: two loads and a pull go on while a killed load is collected', async () => {
    const { root, env } = freshRoot();
    ok(cdkDocker(['runtime', 'images'], work, env));
    const killed = start(['runtime', 'load', '-i', big], env);
    const a = start(['runtime', 'load', '-i', big], env);
    const b = start(['runtime', 'load', '-i', big], env);
    const c = start(['runtime', 'pull', '-q', `${registry.host}/big:1`], env);
    await until('all four to write', () => [killed, a, b].every((p) => writing(root, p.pid!)), 60_000);
    process.kill(killed.pid!, 'SIGKILL');
    await killed.done;
    const dead = leftovers(root).filter((x) => x.startsWith(`ingest/w-${killed.pid}-`));
    expect(dead).toHaveLength(1);
    // A sweep while the others are writing: only the dead one's data goes.
    const live = [a, b].filter((p) => writing(root, p.pid!));
    expect(live.length).toBeGreaterThan(0);
    ok(cdkDocker(['runtime', 'images'], work, env));
    expect(leftovers(root)).not.toContain(dead[0]);
    for (const p of live) expect(writing(root, p.pid!)).toBe(true);
    for (const p of [a, b, c]) {
      const r = await p.done;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    expect(leftovers(root)).toEqual([]);
    const svc = imageService(runtimeConfig(env));
    expect(svc.list().map((r) => `${r.repository}:${r.tag}`).sort()).toEqual([`${registry.host}/big:1`, 'big:1'].sort());
  }, 300_000);
});
