import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NotFoundError } from '../../lib/core/errors';
import { imageService, runtimeConfig } from '../../runtime';
import { BadArchiveError, DigestMismatchError, ImageService, RegistryAuthError, RegistryUnreachableError, UnsafeLayerError } from '../../runtime/images';
import { ROOT, tempDir } from '../helpers/cli';
import { tarOf, writeDockerArchive } from '../helpers/archive';
import { busyboxRootfsTar } from '../helpers/images';
import { requireCommand } from '../helpers/prereq';
import { manifestBytes } from '../../runtime/images/documents';
import { globPattern } from '../../runtime/util/filters';
import { TestRegistry, freePort, startRegistry } from '../helpers/registry';

jest.setTimeout(60_000);

let work: string;
let rootfs: string;
const services: string[] = [];

/** A runtime with a private state root. */
function runtime(): ImageService {
  const root = path.join(work, `root${services.length}`);
  services.push(root);
  return imageService(runtimeConfig({ CDK_DOCKER_ROOT: root, CDK_DOCKER_RUNROOT: path.join(work, `run${services.length}`) }));
}

async function importBusybox(svc: ImageService, ref = 'busybox:test'): Promise<string> {
  return (await svc.import(fs.createReadStream(rootfs), ref, { changes: ['CMD ["sh"]', 'ENV PATH=/bin', 'WORKDIR /root'] })).id;
}

beforeAll(() => {
  work = tempDir('cdk-docker-images-');
  rootfs = busyboxRootfsTar(work);
  process.env.DOCKER_CONFIG = path.join(work, 'docker-config');
});

afterAll(() => {
  delete process.env.DOCKER_CONFIG;
  fs.rmSync(work, { recursive: true, force: true });
});

describe('import, inspect, history, tag, rmi', () => {
  test('a rootfs tarball becomes a one-layer image with the changes applied', async () => {
    const svc = runtime();
    const id = await importBusybox(svc);
    const doc = svc.inspect('busybox:test') as { Id: string; RepoTags: string[]; Config: { Cmd: string[]; Env: string[]; WorkingDir: string }; RootFS: { Layers: string[] }; Os: string };
    expect(doc.Id).toBe(id);
    expect(doc.RepoTags).toEqual(['busybox:test']);
    expect(doc.Config.Cmd).toEqual(['sh']);
    expect(doc.Config.Env).toEqual(['PATH=/bin']);
    expect(doc.Config.WorkingDir).toBe('/root');
    expect(doc.RootFS.Layers).toHaveLength(1);
    expect(doc.Os).toBe('linux');
    const [row] = svc.list();
    expect(row).toMatchObject({ repository: 'busybox', tag: 'test', id });
    expect(row.size).toBeGreaterThan(1_000_000);
    const history = svc.history('busybox:test');
    expect(history).toHaveLength(0 + 1);
    expect(history[0]).toMatchObject({ id, comment: 'Imported from -' });
    // The unpacked layer is a usable lowerdir.
    const layer = svc.store.layerDiffDir(svc.store.chainIds(svc.store.resolve(id))[0]);
    expect(fs.readlinkSync(path.join(layer, 'bin', 'sh'))).toBe('busybox');
    expect(fs.statSync(path.join(layer, 'bin', 'busybox')).mode & 0o777).toBe(0o755);
  });

  test('tag adds a name; rmi of one tag only untags; rmi of the last deletes blobs and layers', async () => {
    const svc = runtime();
    const id = await importBusybox(svc);
    await svc.tag('busybox:test', 'example.com/team/tool:1');
    expect(svc.inspect(id)).toMatchObject({ RepoTags: ['busybox:test', 'example.com/team/tool:1'] });
    await expect(svc.remove(id)).rejects.toThrow(`conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);
    expect(await svc.remove('example.com/team/tool:1')).toEqual(['Untagged: example.com/team/tool:1']);
    // As Docker: the image, then the layer it alone held (by chain id; one layer: its diff id).
    const [chain] = svc.store.chainIds(svc.store.resolve(id));
    expect(await svc.remove('busybox:test')).toEqual(['Untagged: busybox:test', `Deleted: ${id}`, `Deleted: ${chain}`]);
    expect(svc.list()).toEqual([]);
    expect(fs.readdirSync(path.join(svc.store.dir, 'blobs', 'sha256'))).toEqual([]);
    expect(fs.readdirSync(path.join(svc.store.dir, 'layers'))).toEqual([]);
    expect(() => svc.inspect('busybox:test')).toThrow(new NotFoundError('No such image: busybox:test'));
  });

  test('rmi refuses an image a container uses unless forced, and then only untags it', async () => {
    const root = path.join(work, 'inuse');
    const svc = new ImageService(runtimeConfig({ CDK_DOCKER_ROOT: root }), () => () => [{ id: 'c0ffee123456', running: false }]);
    const id = await importBusybox(svc);
    await expect(svc.remove('busybox:test')).rejects.toThrow(`conflict: unable to remove repository reference "busybox:test" (must force) - container c0ffee123456 is using its referenced image ${id.slice(7, 19)}`);
    expect(await svc.remove('busybox:test', true)).toEqual(['Untagged: busybox:test']);
    expect(svc.list()).toMatchObject([{ repository: '<none>', tag: '<none>', id }]);
  });

  test('image prune removes dangling images', async () => {
    const svc = runtime();
    const first = await importBusybox(svc);
    await new Promise((r) => setTimeout(r, 5));
    const second = await importBusybox(svc); // takes the tag: the first is dangling now
    expect(second).not.toBe(first);
    const result = await svc.prune();
    expect(result.deleted).toEqual([first]);
    // The same tarball: the layer is the second image's too, so it is not deleted.
    expect(result.deletions).toEqual([{ deleted: first, image: first, layer: false }]);
    expect(svc.list().map((r) => r.id)).toEqual([second]);
    const [chain] = svc.store.chainIds(svc.store.resolve(second));
    expect((await svc.prune(true)).deletions).toEqual([
      { untagged: 'busybox:test', image: second, event: true },
      { deleted: second, image: second, layer: false },
      { deleted: chain, image: second, layer: true },
    ]);
    expect(fs.readdirSync(path.join(svc.store.dir, 'layers'))).toEqual([]);
  });
});

describe('reference patterns (Go path.Match, as Docker\'s reference filter)', () => {
  const match = (pattern: string, s: string) => globPattern(pattern)!.test(s);
  test('"*" and "?" stop at "/"; classes, ranges, negation and escapes work', () => {
    expect(match('app:*', 'app:1.2')).toBe(true);
    expect(match('*', 'team/app')).toBe(false);
    expect(match('*/*', 'team/app')).toBe(true);
    expect(match('app:?', 'app:1')).toBe(true);
    expect(match('app:?', 'app:10')).toBe(false);
    expect(match('app:[0-9]', 'app:7')).toBe(true);
    expect(match('app:[^0-9]', 'app:7')).toBe(false);
    expect(match('app:[^0-9]', 'app:x')).toBe(true);
    expect(match('app\\:1', 'app:1')).toBe(true);
    expect(match('a.p', 'axp')).toBe(false);
    expect(match('localhost:5000/app:1', 'localhost:5000/app:1')).toBe(true);
  });
  test('malformed patterns are refused', () => {
    for (const p of ['app:[1', 'app:[]', 'app:[9-0]', 'app\\', 'app:[a-]']) expect(globPattern(p)).toBeUndefined();
  });
});

describe('manifests made here', () => {
  const hex = (c: string) => `sha256:${c.repeat(64)}`;
  test('a Docker manifest is written as Docker\'s distribution writes it (Go MarshalIndent, three blanks)', () => {
    const bytes = manifestBytes({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: hex('a'), size: 1469 },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: hex('b'), size: 5, urls: ['https://example.com/l?a=1&b=<2>'], annotations: { z: '1', a: '\u2028\b' } },
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: hex('c'), size: 0 },
      ],
    });
    expect(bytes.toString('utf8')).toBe([
      '{',
      '   "schemaVersion": 2,',
      '   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",',
      '   "config": {',
      '      "mediaType": "application/vnd.docker.container.image.v1+json",',
      '      "size": 1469,',
      `      "digest": "${hex('a')}"`,
      '   },',
      '   "layers": [',
      '      {',
      '         "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",',
      '         "size": 5,',
      `         "digest": "${hex('b')}",`,
      '         "urls": [',
      '            "https://example.com/l?a=1\\u0026b=\\u003c2\\u003e"',
      '         ],',
      '         "annotations": {',
      '            "a": "\\u2028\\u0008",',
      '            "z": "1"',
      '         }',
      '      },',
      '      {',
      '         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",',
      `         "digest": "${hex('c')}"`,
      '      }',
      '   ]',
      '}',
    ].join('\n'));
    expect(JSON.parse(bytes.toString('utf8')).layers[0].annotations.a).toBe('\u2028\b');
  });

  test('an OCI manifest stays compact JSON; images made here store Docker\'s form', async () => {
    const oci = { schemaVersion: 2 as const, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: hex('a'), size: 2 }, layers: [] };
    expect(manifestBytes(oci).toString('utf8')).toBe(JSON.stringify(oci));
    const svc = runtime();
    const id = await importBusybox(svc);
    const record = svc.store.resolve(id);
    expect(svc.store.readBlob(record.manifestDigest)).toEqual(manifestBytes(svc.store.manifest(record)));
    expect(svc.store.readBlob(record.manifestDigest).toString('utf8')).toMatch(/^\{\n   "schemaVersion": 2,\n/);
  });
});

describe('archives', () => {
  test('save then load into another store keeps the id, tags and content', async () => {
    const a = runtime();
    const id = await importBusybox(a);
    const file = path.join(work, 'save.tar');
    await a.save(['busybox:test'], fs.createWriteStream(file));
    const names = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n');
    expect(names).toEqual(expect.arrayContaining(['manifest.json', 'repositories', 'oci-layout', 'index.json']));
    const b = runtime();
    expect(await b.load(fs.createReadStream(file))).toEqual(['Loaded image: busybox:test']);
    expect(b.inspect('busybox:test')).toMatchObject({ Id: id, Config: { Cmd: ['sh'] } });
  });

  test('an OCI archive with a zstd layer loads; without a zstd decoder the error says what to install', async () => {
    requireCommand('zstd', 'zstd');
    const layer = await tarOf([{ name: 'etc/', type: 'directory' }, { name: 'etc/motd', content: 'compressed with zstd\n' }]);
    const compressed = execFileSync('zstd', ['-q', '-c'], { input: layer });
    const hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['cat', '/etc/motd'] }, rootfs: { type: 'layers', diff_ids: [`sha256:${hex(layer)}`] } }));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${hex(config)}`, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: `sha256:${hex(compressed)}`, size: compressed.length }],
    }));
    const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex(manifest)}`, size: manifest.length, annotations: { 'io.containerd.image.name': 'docker.io/library/zstd-test:1', 'org.opencontainers.image.ref.name': '1' } }] };
    const file = path.join(work, 'zstd-oci.tar');
    fs.writeFileSync(file, await tarOf([
      { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'index.json', content: JSON.stringify(index) },
      { name: `blobs/sha256/${hex(config)}`, content: config },
      { name: `blobs/sha256/${hex(manifest)}`, content: manifest },
      { name: `blobs/sha256/${hex(compressed)}`, content: compressed },
    ]));

    // No zstd on PATH: a clear error, and no image left behind.
    const bin = path.join(work, 'bin-without-zstd');
    fs.mkdirSync(bin);
    for (const tool of ['bash', 'tar', 'tee', 'mkfifo', 'cat', 'gzip', 'mknod', 'setfattr']) fs.symlinkSync(requireCommand(tool, tool), path.join(bin, tool));
    const without = runtime();
    const savedPath = process.env.PATH;
    process.env.PATH = bin;
    try {
      await expect(without.load(fs.createReadStream(file))).rejects.toThrow('this layer needs zstd to be decompressed and zstd is not installed; install it with `apt-get install zstd`');
    } finally {
      process.env.PATH = savedPath;
    }
    expect(without.list()).toEqual([]);

    const svc = runtime();
    expect(await svc.load(fs.createReadStream(file))).toEqual(['Loaded image: zstd-test:1']);
    const dir = svc.store.layerDiffDir(svc.store.chainIds(svc.store.resolve('zstd-test:1'))[0]);
    expect(fs.readFileSync(path.join(dir, 'etc', 'motd'), 'utf8')).toBe('compressed with zstd\n');
  });

  test('a two-layer Docker archive with whiteouts loads as an overlayfs-ready image', async () => {
    requireCommand('getfattr', 'attr');
    const svc = runtime();
    const file = path.join(work, 'two-layer.tar');
    const id = await writeDockerArchive(
      file,
      [
        [
          { name: 'a/', type: 'directory' },
          { name: 'a/file', content: 'gone in layer 2' },
          { name: 'd/', type: 'directory' },
          { name: 'd/old', content: 'hidden by the opaque dir' },
          { name: 'tool', content: '#!/bin/sh\n', mode: 0o4755, uid: 1000, gid: 1000, pax: { 'SCHILY.xattr.user.origin': 'layer1' } },
          { name: 'hard', type: 'link', linkname: 'tool' },
          { name: 'soft', type: 'symlink', linkname: '/etc/passwd' },
        ],
        [
          { name: 'a/', type: 'directory' },
          { name: 'a/.wh.file', content: '' },
          { name: 'd/', type: 'directory' },
          { name: 'd/.wh..wh..opq', content: '' },
          { name: 'd/new', content: 'layer 2' },
        ],
      ],
      ['two:layers'],
    );
    expect(await svc.load(fs.createReadStream(file))).toEqual(['Loaded image: two:layers']);
    const [l1, l2] = svc.store.chainIds(svc.store.resolve(id)).map((c) => svc.store.layerDiffDir(c));
    const tool = fs.statSync(path.join(l1, 'tool'));
    expect([tool.mode & 0o7777, tool.uid, tool.gid]).toEqual([0o4755, 1000, 1000]);
    expect(fs.statSync(path.join(l1, 'hard')).ino).toBe(tool.ino);
    expect(fs.readlinkSync(path.join(l1, 'soft'))).toBe('/etc/passwd');
    expect(fs.statSync(path.join(l1, 'tool')).mtimeMs).toBe(1_600_000_000_000);
    expect(execFileSync('getfattr', ['--only-values', '-n', 'user.origin', path.join(l1, 'tool')], { encoding: 'utf8' })).toBe('layer1');
    const wh = fs.statSync(path.join(l2, 'a', 'file'));
    expect([wh.isCharacterDevice(), wh.rdev]).toEqual([true, 0]);
    expect(fs.existsSync(path.join(l2, 'a', '.wh.file'))).toBe(false);
    expect(execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', path.join(l2, 'd')], { encoding: 'utf8' })).toBe('y');
    expect(fs.readdirSync(path.join(l2, 'd'))).toEqual(['new']);
  });

  const outside = () => path.join(work, 'outside');
  test.each([
    ['a path with ..', [{ name: '../../outside/evil', content: 'x' }], 'entry "../../outside/evil" contains ".." and would escape the layer directory'],
    ['an absolute path', [{ name: '/outside/evil', content: 'x' }], 'entry "/outside/evil" has an absolute path'],
    [
      'a symlink of the layer',
      [{ name: 'link', type: 'symlink' as const, linkname: '/tmp' }, { name: 'link/evil', content: 'x' }],
      'entry "link/evil" goes through the symlink "link" of the same layer',
    ],
    ['a hardlink', [{ name: 'hl', type: 'link' as const, linkname: '../../../etc/passwd' }], 'entry "hl" is a hardlink to "../../../etc/passwd", outside the layer directory'],
  ])('a layer that escapes through %s is rejected and leaves nothing', async (_what, entries, message) => {
    const svc = runtime();
    const file = path.join(work, 'evil.tar');
    await writeDockerArchive(file, [[{ name: 'ok', content: 'fine' }], entries], ['evil:1']);
    const layer = createHash('sha256').update(await tarOf(entries)).digest('hex');
    await expect(svc.load(fs.createReadStream(file))).rejects.toThrow(new UnsafeLayerError(`layer sha256:${layer}: ${message}; the layer was rejected and nothing of it was kept`));
    expect(fs.existsSync(path.join(outside(), 'evil'))).toBe(false);
    expect(fs.existsSync('/tmp/evil')).toBe(false);
    expect(svc.list()).toEqual([]);
    expect(fs.readdirSync(path.join(svc.store.dir, 'layers')).filter((d) => d.startsWith('.tmp'))).toEqual([]);
    expect(fs.readdirSync(path.join(svc.store.dir, 'ingest'))).toEqual([]);
  });

  test('a truncated archive is a clear error', async () => {
    const a = runtime();
    await importBusybox(a);
    const file = path.join(work, 'full.tar');
    await a.save(['busybox:test'], fs.createWriteStream(file));
    const cut = path.join(work, 'cut.tar');
    fs.writeFileSync(cut, fs.readFileSync(file).subarray(0, 600_000));
    const b = runtime();
    await expect(b.load(fs.createReadStream(cut), cut)).rejects.toThrow(BadArchiveError);
    await expect(b.load(fs.createReadStream(cut), cut)).rejects.toThrow(/cut\.tar is not a complete image archive \(.*\): it may be truncated; save it again/);
    expect(b.list()).toEqual([]);
  });
});

describe('registry', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry.stop();
  });

  test('import → tag → push → rmi → pull gives the same digests', async () => {
    const svc = runtime();
    const id = await importBusybox(svc);
    const ref = `${registry.host}/cdk/busybox:1`;
    await svc.tag('busybox:test', ref);
    const pushed = await svc.push(ref);
    await svc.remove(ref);
    await svc.remove('busybox:test');
    expect(svc.list()).toEqual([]);
    const pulled = await svc.pull(ref);
    expect(pulled.id).toBe(id);
    expect(pulled.manifestDigest).toBe(pushed.digest);
    expect(pulled.repoDigests).toEqual([`${registry.host}/cdk/busybox@${pushed.digest}`]);
    // By digest too, and a second push finds every blob in place.
    const byDigest = await runtime().pull(`${registry.host}/cdk/busybox@${pushed.digest}`);
    expect(byDigest.id).toBe(id);
    await svc.tag(ref, `${registry.host}/cdk/other:2`);
    expect((await svc.push(`${registry.host}/cdk/other:2`)).digest).toBe(pushed.digest);
  });

  test('a two-layer image goes through the registry unchanged', async () => {
    const svc = runtime();
    const file = path.join(work, 'two.tar');
    const id = await writeDockerArchive(file, [[{ name: 'one', content: '1' }], [{ name: 'two', content: '2' }]], [`${registry.host}/cdk/two:1`]);
    await svc.load(fs.createReadStream(file));
    const pushed = await svc.push(`${registry.host}/cdk/two:1`);
    const other = runtime();
    const pulled = await other.pull(`${registry.host}/cdk/two:1`);
    expect([pulled.id, pulled.manifestDigest]).toEqual([id, pushed.digest]);
    const layers = other.store.chainIds(pulled).map((c) => fs.readdirSync(other.store.layerDiffDir(c)));
    expect(layers).toEqual([['one'], ['two']]);
  });

  test('two pulls of the same image at once both succeed and leave one record', async () => {
    const svc = runtime();
    await importBusybox(svc);
    const ref = `${registry.host}/cdk/concurrent:1`;
    await svc.tag('busybox:test', ref);
    await svc.push(ref);
    const target = runtime();
    const [a, b] = await Promise.all([target.pull(ref), target.pull(ref)]);
    expect(a.id).toBe(b.id);
    expect(target.list()).toHaveLength(1);
  });

  test('a pull killed at any moment leaves no half-registered image, and the next pull completes it', async () => {
    const svc = runtime();
    await importBusybox(svc);
    const ref = `${registry.host}/cdk/killed:1`;
    await svc.tag('busybox:test', ref);
    await svc.push(ref);
    const root = path.join(work, 'killed-root');
    const script = `const r = require(${JSON.stringify(path.join(ROOT, 'dist', 'runtime'))}); new r.ImageService(r.runtimeConfig({ CDK_DOCKER_ROOT: ${JSON.stringify(root)} })).pull(${JSON.stringify(ref)});`;
    for (const delay of [30, 80, 130, 180, 260]) {
      const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await exited;
      const check = imageService(runtimeConfig({ CDK_DOCKER_ROOT: root }));
      for (const row of check.list()) {
        // Whatever is registered is complete: its layers are unpacked.
        const rec = check.store.resolve(row.id);
        for (const c of check.store.chainIds(rec)) expect(check.store.hasLayer(c)).toBe(true);
      }
    }
    const again = imageService(runtimeConfig({ CDK_DOCKER_ROOT: root }));
    const record = await again.pull(ref);
    expect(again.list().map((r) => r.id)).toEqual([record.id]);
  });

  test('an unknown image names the registry and the repository', async () => {
    await expect(runtime().pull(`${registry.host}/cdk/nope:1`)).rejects.toThrow(
      new NotFoundError(`manifest for ${registry.host}/cdk/nope:1 not found: registry ${registry.host} has no tag "1" in repository cdk/nope (MANIFEST_UNKNOWN: manifest unknown)`),
    );
  });

  test('an unreachable registry is a clear error', async () => {
    const port = await freePort();
    await expect(runtime().pull(`127.0.0.1:${port}/x/y:1`)).rejects.toThrow(
      new RegistryUnreachableError(`cannot reach registry 127.0.0.1:${port} (ECONNREFUSED): check the address and that it is running`),
    );
  });

  test('a blob that does not match its digest is deleted and both digests are named', async () => {
    const svc = runtime();
    await importBusybox(svc);
    const ref = `${registry.host}/cdk/tampered:1`;
    await svc.tag('busybox:test', ref);
    await svc.push(ref);
    const layer = svc.store.manifest(svc.store.resolve(ref)).layers[0].digest;
    const data = path.join(registry.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', layer.slice(7, 9), layer.slice(7), 'data');
    const original = fs.readFileSync(data);
    fs.writeFileSync(data, Buffer.concat([original.subarray(0, original.length - 1), Buffer.from([original[original.length - 1] ^ 0xff])]));
    try {
      const target = runtime();
      const err = await target.pull(ref).catch((e) => e);
      expect(err).toBeInstanceOf(DigestMismatchError);
      expect(err.message).toMatch(new RegExp(`^layer ${layer} of ${registry.host}/cdk/tampered:1: digest mismatch: expected ${layer}, got sha256:[a-f0-9]{64}$`));
      expect(target.store.hasBlob(layer)).toBe(false);
      expect(fs.readdirSync(path.join(target.store.dir, 'ingest'))).toEqual([]);
      expect(target.list()).toEqual([]);
    } finally {
      fs.writeFileSync(data, original);
    }
  });
});

describe.each([
  ['basic auth (htpasswd)', 'basicAuth'],
  ['token auth', 'tokenAuth'],
] as const)('a registry with %s', (_name, kind) => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ [kind]: { alice: 's3cret' } });
  });
  afterAll(async () => {
    await registry.stop();
    fs.rmSync(path.join(work, 'docker-config'), { recursive: true, force: true });
  });

  test('refuses anonymous and wrong credentials, then push and pull work after login', async () => {
    const svc = runtime();
    await importBusybox(svc);
    const ref = `${registry.host}/private/busybox:1`;
    await svc.tag('busybox:test', ref);
    await expect(svc.push(ref)).rejects.toThrow(new RegistryAuthError(`registry ${registry.host} requires authentication: run \`cdk-docker runtime login ${registry.host}\``));
    await expect(svc.login(registry.host, { username: 'alice', password: 'wrong' })).rejects.toThrow(RegistryAuthError);
    await svc.login(registry.host, { username: 'alice', password: 's3cret' });
    const config = JSON.parse(fs.readFileSync(path.join(work, 'docker-config', 'config.json'), 'utf8'));
    expect(config.auths[registry.host].auth).toBe(Buffer.from('alice:s3cret').toString('base64'));
    const pushed = await svc.push(ref);
    const pulled = await runtime().pull(ref);
    expect(pulled.manifestDigest).toBe(pushed.digest);
    expect(svc.logout(registry.host)).toBe(true);
    await expect(runtime().pull(ref)).rejects.toThrow(RegistryAuthError);
  });
});
