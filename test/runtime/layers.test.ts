import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UnsafeLayerError, unpackLayer } from '../../runtime/images/layers';
import { EntrySpec, tarOf } from '../helpers/archive';
import { CliResult, cdkDocker, ok, tempDir } from '../helpers/cli';
import { privateNetworkConfig } from '../helpers/network';
import { requireCommand } from '../helpers/prereq';

/**
 * Layer extraction (issue 11 items 1 and 8): one reader decides every entry and writes it,
 * nothing ever follows a symlink out of the layer directory, malformed archives and whiteouts
 * are refused with one line naming the layer and the entry, and a benign layer comes out as
 * GNU tar extracted it.
 */

jest.setTimeout(120_000);

let work: string;
let count = 0;

beforeAll(() => {
  for (const [cmd, pkg] of [['tar', 'tar'], ['mknod', 'coreutils'], ['setfattr', 'attr'], ['getfattr', 'attr'], ['setcap', 'libcap2-bin']]) requireCommand(cmd, pkg);
  work = tempDir('cdk-docker-layers-');
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const ZERO_BLOCK = Buffer.alloc(512);

/** A canary tree outside every layer directory; the attacks aim at it. */
function canary(): string {
  const dir = path.join(work, `canary-${++count}`);
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'important'), 'do not delete\n');
  fs.writeFileSync(path.join(dir, 'sub', 'file'), 'nested\n');
  fs.chmodSync(path.join(dir, 'important'), 0o640);
  return dir;
}

/** Everything about a tree that a file system can tell: type, mode, owner, content, links, xattrs, mtimes. */
function describeTree(root: string, opts: { mtimes?: boolean } = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    const file = rel ? path.join(root, rel) : root;
    const st = fs.lstatSync(file);
    const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'other';
    const whiteout = type === 'char' && st.rdev === 0;
    const d: Record<string, unknown> = { type, mode: (st.mode & 0o7777).toString(8), uid: st.uid, gid: st.gid };
    if (type === 'file') d.content = sha(fs.readFileSync(file));
    if (type === 'symlink') d.target = fs.readlinkSync(file);
    if (type === 'char' || type === 'block') d.rdev = st.rdev;
    if (opts.mtimes !== false && !whiteout) d.mtime = Math.floor(st.mtimeMs / 1000);
    if (type !== 'dir' && st.nlink > 1) {
      d.linkedTo = inodes.get(st.ino) ?? rel;
      if (!inodes.has(st.ino)) inodes.set(st.ino, rel);
    }
    const xattrs = execFileSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', file], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .sort();
    if (xattrs.length) d.xattrs = xattrs;
    out[rel || '.'] = d;
    if (type === 'dir') for (const n of fs.readdirSync(file).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return out;
}

/** GNU tar's archive of `names` under `dir`. */
function gnuTar(dir: string, names: string[], extra: string[] = []): Buffer {
  return execFileSync('tar', ['-c', '-f', '-', '-C', dir, '--numeric-owner', ...extra, ...names], { maxBuffer: 1 << 28 });
}

/** Stores `tar` as a blob named by its digest (as the content store does); returns the blob path and the layer's name. */
function blobOf(tar: Buffer): { blob: string; layer: string } {
  const dir = path.join(work, 'blobs');
  fs.mkdirSync(dir, { recursive: true });
  const hex = sha(tar);
  fs.writeFileSync(path.join(dir, hex), tar);
  return { blob: path.join(dir, hex), layer: `sha256:${hex}` };
}

/** A fresh layer directory path (its parent holds nothing else). */
function layerDest(): string {
  const parent = path.join(work, `layers-${++count}`);
  fs.mkdirSync(parent);
  return path.join(parent, 'layer');
}

async function unpack(tar: Buffer): Promise<string> {
  const dest = layerDest();
  await unpackLayer(blobOf(tar).blob, 'application/vnd.oci.image.layer.v1.tar', dest, `sha256:${sha(tar)}`);
  return path.join(dest, 'diff');
}

/** Unpacking `tar` fails with exactly `layer <digest>: <message>; the layer was rejected …` and leaves nothing. */
async function expectRejected(tar: Buffer, message: string): Promise<void> {
  const { blob, layer } = blobOf(tar);
  const dest = layerDest();
  const error = await unpackLayer(blob, 'application/vnd.oci.image.layer.v1.tar', dest).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnsafeLayerError);
  expect((error as Error).message).toBe(`layer ${layer}: ${message}; the layer was rejected and nothing of it was kept`);
  expect(fs.readdirSync(path.dirname(dest))).toEqual([]);
}

describe('the zero-block attack (issue 11 item 1)', () => {
  /** `a` → the canary, one zero block, `a/` and `a/.wh.important`, then the end blocks: GNU tar stops at the zero block. */
  function zeroBlockLayer(target: string): Buffer {
    const stage = path.join(work, `stage-${++count}`);
    fs.mkdirSync(stage);
    fs.symlinkSync(target, path.join(stage, 'a'));
    const first = gnuTar(stage, ['a']).subarray(0, 512);
    fs.rmSync(path.join(stage, 'a'));
    fs.mkdirSync(path.join(stage, 'a'));
    fs.writeFileSync(path.join(stage, 'a', '.wh.important'), '');
    const rest = gnuTar(stage, ['a', 'a/.wh.important'], ['--no-recursion']);
    fs.rmSync(stage, { recursive: true });
    return Buffer.concat([first, ZERO_BLOCK, rest]);
  }

  test('a layer hiding entries behind a lone zero block is refused and the canary stays byte-identical', async () => {
    const victim = canary();
    const before = describeTree(victim);
    await expectRejected(zeroBlockLayer(victim), 'entry "a/" follows a zero block at byte 512, which ends the archive (malformed tar: GNU tar and Docker stop reading there)');
    expect(describeTree(victim)).toEqual(before);
  });

  test('entries after the end-of-archive blocks are refused, not silently dropped as GNU tar did', async () => {
    const victim = canary();
    const first = await tarOf([{ name: 'ok', content: 'fine' }]);
    const second = await tarOf([{ name: 'late', type: 'symlink', linkname: victim }]);
    // tar-stream's archive: the entry, then its two zero end blocks; then another archive.
    const end = 512 + 512;
    const tar = Buffer.concat([first.subarray(0, end), ZERO_BLOCK, ZERO_BLOCK, second]);
    await expectRejected(tar, `entry "late" follows a zero block at byte ${end}, which ends the archive (malformed tar: GNU tar and Docker stop reading there)`);
  });

  test('a run of extended headers too long to keep is refused before it fills the memory', async () => {
    const one = await tarOf([{ name: 'a', content: 'x', pax: { comment: 'c'.repeat(4_000_000) } }]);
    const entry = one.length - 1024 - 1024; // the entry's header and data, then the two end blocks
    const headers = one.subarray(0, entry);
    const tar = Buffer.concat([...Array.from({ length: 20 }, () => headers), one.subarray(entry)]);
    const { blob, layer } = blobOf(tar);
    const dest = layerDest();
    const error = await unpackLayer(blob, 'application/vnd.oci.image.layer.v1.tar', dest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeLayerError);
    expect((error as Error).message).toBe(`layer ${layer}: more than 64 MiB of extended headers before one entry at byte 0 (malformed tar); the layer was rejected and nothing of it was kept`);
    expect(fs.readdirSync(path.dirname(dest))).toEqual([]);
    fs.rmSync(blob);
  });

  test('runtime import of that layer fails with one line and leaves the canary and the store clean', () => {
    const victim = canary();
    const before = describeTree(victim);
    const file = path.join(work, `attack-${++count}.tar`);
    fs.writeFileSync(file, zeroBlockLayer(victim));
    const root = path.join(work, `root-${count}`);
    const r = cdkDocker(['runtime', 'import', file, 'evil:1'], work, { CDK_DOCKER_ROOT: root, CDK_DOCKER_RUNROOT: path.join(work, `run-${count}`) });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Error: layer sha256:[0-9a-f]{64}: entry "a\/" follows a zero block at byte 512, which ends the archive \(malformed tar: GNU tar and Docker stop reading there\); the layer was rejected and nothing of it was kept$/)]);
    expect(describeTree(victim)).toEqual(before);
    expect(fs.readdirSync(path.join(root, 'images', 'layers'))).toEqual([]);
  });
});

describe('entries never reach outside the layer directory', () => {
  const outside = () => path.join(work, 'outside-target');
  test.each<[string, (victim: string) => EntrySpec[], string]>([
    ['a symlink, then a file through it', (v) => [{ name: 'a', type: 'symlink', linkname: v }, { name: 'a/evil', content: 'x' }], 'entry "a/evil" goes through the symlink "a" of the same layer'],
    [
      'a directory replaced by a symlink, then a file through it',
      (v) => [{ name: 'a/', type: 'directory' }, { name: 'a/keep', content: 'k' }, { name: 'a', type: 'symlink', linkname: v }, { name: 'a/evil', content: 'x' }],
      'entry "a/evil" goes through the symlink "a" of the same layer',
    ],
    ['a symlink, then a whiteout through it', (v) => [{ name: 'a', type: 'symlink', linkname: v }, { name: 'a/.wh.important', content: '' }], 'entry "a/.wh.important" goes through the symlink "a" of the same layer'],
    ['a symlink, then an opaque marker through it', (v) => [{ name: 'a', type: 'symlink', linkname: v }, { name: 'a/.wh..wh..opq', content: '' }], 'entry "a/.wh..wh..opq" goes through the symlink "a" of the same layer'],
    ['a relative symlink, then a directory through it', () => [{ name: 'up', type: 'symlink', linkname: '../../..' }, { name: 'up/x/', type: 'directory' }], 'entry "up/x/" goes through the symlink "up" of the same layer'],
    ['a file used as a directory', () => [{ name: 'f', content: 'x' }, { name: 'f/x', content: 'y' }], 'entry "f/x" goes through "f", which is not a directory'],
    ['a hardlink through a symlink', (v) => [{ name: 's', type: 'symlink', linkname: v }, { name: 'hl', type: 'link', linkname: 's/important' }], 'entry "hl" goes through the symlink "s" of the same layer'],
    ['a hardlink to an absolute host path', () => [{ name: 'hl', type: 'link', linkname: '/etc/shadow' }], 'entry "hl" is a hardlink to "/etc/shadow", which is not a file of this layer'],
    ['a hardlink with ..', () => [{ name: 'hl', type: 'link', linkname: '../../etc/passwd' }], 'entry "hl" is a hardlink to "../../etc/passwd", outside the layer directory'],
    ['a hardlink to a directory', () => [{ name: 'd/', type: 'directory' }, { name: 'hl', type: 'link', linkname: 'd' }], 'entry "hl" is a hardlink to "d", which is not a file of this layer'],
    ['a path with ..', () => [{ name: 'ok/../../outside-target/evil', content: 'x' }], 'entry "ok/../../outside-target/evil" contains ".." and would escape the layer directory'],
    ['an absolute path', () => [{ name: '/outside-target/evil', content: 'x' }], 'entry "/outside-target/evil" has an absolute path'],
  ])('%s is refused with one line naming the layer and the entry', async (_what, entries, message) => {
    const victim = canary();
    const before = describeTree(victim);
    await expectRejected(await tarOf(entries(victim)), message);
    expect(describeTree(victim)).toEqual(before);
    expect(fs.existsSync(path.join(outside(), 'evil'))).toBe(false);
  });

  test('an entry of a type tar-stream does not know (GNU sparse) is refused, not written as a plain file', async () => {
    const tar = await tarOf([{ name: 'sparse', content: 'x' }]);
    tar[156] = 'S'.charCodeAt(0);
    tar.write('        ', 148, 'latin1');
    const sum = tar.subarray(0, 512).reduce((a, b) => a + b, 0);
    tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    await expectRejected(tar, 'entry "sparse" has an unsupported tar entry type (unknown); only files, directories, links, devices and fifos can be unpacked');
  });

  test('a directory whose mode is applied at the end is not reached through a symlink that replaced it', async () => {
    const victim = canary();
    const before = describeTree(victim);
    const diff = await unpack(await tarOf([{ name: 'a/', type: 'directory', mode: 0o777 }, { name: 'a', type: 'symlink', linkname: victim }]));
    expect(fs.readlinkSync(path.join(diff, 'a'))).toBe(victim);
    expect(describeTree(victim)).toEqual(before);
  });
});

describe('malformed whiteouts (issue 11 item 8)', () => {
  test.each<[string, EntrySpec[], string]>([
    ['.wh. without a name', [{ name: '.wh.', content: '' }], 'entry ".wh." is a whiteout without a name (.wh.)'],
    ['sub/.wh..', [{ name: 'sub/', type: 'directory' }, { name: 'sub/.wh..', content: '' }], 'entry "sub/.wh.." is a whiteout of ".", which is not an entry of its directory'],
    ['.wh...', [{ name: '.wh...', content: '' }], 'entry ".wh..." is a whiteout of "..", which is not an entry of its directory'],
    ['an opaque marker that is a directory', [{ name: 'd/.wh..wh..opq/', type: 'directory' }], 'entry "d/.wh..wh..opq/" is an opaque-directory marker (.wh..wh..opq) but a directory, not a regular file'],
    ['an opaque marker that is a symlink', [{ name: 'd/.wh..wh..opq', type: 'symlink', linkname: '/etc' }], 'entry "d/.wh..wh..opq" is an opaque-directory marker (.wh..wh..opq) but a symlink, not a regular file'],
    ['an opaque marker that is a hardlink', [{ name: 'd/f', content: 'x' }, { name: 'd/.wh..wh..opq', type: 'link', linkname: 'd/f' }], 'entry "d/.wh..wh..opq" is an opaque-directory marker (.wh..wh..opq) but a link, not a regular file'],
    ['a whiteout that is a directory', [{ name: '.wh.x/', type: 'directory' }], 'entry ".wh.x/" is a whiteout (.wh.) but a directory, not a regular file'],
  ])('%s is refused with one line naming the layer and the entry', async (_what, entries, message) => {
    await expectRejected(await tarOf(entries), message);
  });

  test("overlayfs's own xattrs in a layer are not applied (a layer deletes only with .wh. entries)", async () => {
    const diff = await unpack(
      await tarOf([
        { name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc', 'SCHILY.xattr.user.kept': 'yes' } },
        { name: 'o/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } },
        { name: 'f', content: 'x', pax: { 'SCHILY.xattr.trusted.overlay.metacopy': '' } },
      ]),
    );
    const xattrs = describeTree(diff, { mtimes: false });
    expect([xattrs['d'], xattrs['o'], xattrs['f']].map((d) => (d as { xattrs?: string[] }).xattrs)).toEqual([['user.kept=0x796573'], ['trusted.overlay.opaque=0x79'], undefined]);
  });

  test('entries apply in order: a name whited out and then added again in the same layer is the new entry', async () => {
    const diff = await unpack(await tarOf([{ name: '.wh.foo', content: '' }, { name: 'foo', content: 'new' }, { name: 'bar', content: 'old' }, { name: '.wh.bar', content: '' }]));
    expect(fs.readFileSync(path.join(diff, 'foo'), 'utf8')).toBe('new');
    const bar = fs.lstatSync(path.join(diff, 'bar'));
    expect([bar.isCharacterDevice(), bar.rdev]).toEqual([true, 0]);
  });
});

describe('a benign layer', () => {
  /** Capabilities cap_setuid,cap_net_raw+ep (v2): bytes above 0x7f, which PAX text would mangle. */
  const CAPS = '0x0100000280200000000000000000000000000000';

  function stageBenign(): string {
    const s = path.join(work, `benign-${++count}`);
    const at = (p: string) => path.join(s, p);
    for (const d of ['bin', 'etc', 'private', 'sticky', 'run', 'dev', 'opq', 'deep/er/est']) fs.mkdirSync(at(d), { recursive: true });
    fs.writeFileSync(at('bin/tool'), Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251)));
    fs.chownSync(at('bin/tool'), 1000, 1000);
    fs.chmodSync(at('bin/tool'), 0o4755);
    execFileSync('setfattr', ['-n', 'security.capability', '-v', CAPS, at('bin/tool')]);
    fs.linkSync(at('bin/tool'), at('bin/hard'));
    fs.symlinkSync('tool', at('bin/soft'));
    fs.symlinkSync('/etc/passwd', at('abs'));
    fs.lchownSync(at('abs'), 7, 8);
    fs.writeFileSync(at('etc/secret'), 'secret\n');
    fs.chownSync(at('etc/secret'), 0, 42);
    fs.chmodSync(at('etc/secret'), 0o600);
    execFileSync('setfattr', ['-n', 'user.origin', '-v', 'layer1', at('etc/secret')]);
    fs.writeFileSync(at('etc/empty'), '');
    fs.writeFileSync(at('private/note'), 'n');
    fs.chownSync(at('private'), 1000, 1000);
    fs.chmodSync(at('private'), 0o700);
    fs.chmodSync(at('sticky'), 0o1777);
    fs.chmodSync(at('deep/er'), 0o555);
    execFileSync('mknod', ['-m', '620', at('run/fifo'), 'p']);
    execFileSync('mknod', ['-m', '666', at('dev/null2'), 'c', '1', '3']);
    fs.writeFileSync(at('.wh.removed'), '');
    fs.writeFileSync(at('opq/.wh..wh..opq'), '');
    fs.writeFileSync(at('opq/new'), 'new');
    fs.writeFileSync(at('deep/er/est/f'), 'f');
    // Longer than the 100 bytes of a ustar name: a PAX path or a GNU long-name header before it.
    fs.writeFileSync(at(`deep/er/est/${'long-name-'.repeat(15)}`), 'long');
    fs.symlinkSync(`${'target-'.repeat(20)}`, at('deep/long-link'));
    fs.chmodSync(s, 0o755);
    // mtimes last, deepest first, so that nothing changes them after.
    const all = execFileSync('find', [s, '-depth'], { encoding: 'utf8' }).trim().split('\n');
    all.forEach((p, i) => execFileSync('touch', ['-h', '-d', `@${1_600_000_000 + i * 3601}`, p]));
    return s;
  }

  test('round-trips exactly as GNU tar extracts it: modes, owners, setuid, mtimes, capabilities, links, devices, whiteouts', async () => {
    const stage = stageBenign();
    const tar = gnuTar(stage, ['.'], ['--format=posix', '--xattrs', '--xattrs-include=*']);
    const diff = await unpack(tar);
    // What the previous code did: GNU tar, then the whiteouts converted. Converting changed the
    // mtimes of the directories holding whiteouts; they are set back to the archive's.
    const expected = path.join(work, `expected-${++count}`);
    fs.mkdirSync(expected);
    execFileSync('tar', ['-x', '-f', '-', '-C', expected, '--numeric-owner', '--same-owner', '--same-permissions', '--xattrs', '--xattrs-include=*'], { input: tar });
    const rootTime = fs.statSync(expected).mtime;
    const opqTime = fs.statSync(path.join(expected, 'opq')).mtime;
    fs.rmSync(path.join(expected, '.wh.removed'));
    execFileSync('mknod', ['-m', '000', path.join(expected, 'removed'), 'c', '0', '0']);
    fs.rmSync(path.join(expected, 'opq', '.wh..wh..opq'));
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(expected, 'opq')]);
    fs.utimesSync(expected, rootTime, rootTime);
    fs.utimesSync(path.join(expected, 'opq'), opqTime, opqTime);

    const got = describeTree(diff);
    expect(got).toEqual(describeTree(expected));
    // The points that matter, spelled out.
    expect(got['bin/tool']).toMatchObject({ mode: '4755', uid: 1000, gid: 1000, xattrs: [`security.capability=${CAPS}`] });
    expect(got['bin/hard']).toMatchObject({ linkedTo: 'bin/hard' });
    expect(got['bin/tool']).toMatchObject({ linkedTo: 'bin/hard' });
    expect(got['abs']).toMatchObject({ type: 'symlink', target: '/etc/passwd', uid: 7, gid: 8 });
    expect(got['removed']).toEqual({ type: 'char', mode: '0', uid: 0, gid: 0, rdev: 0 });
    expect(got['opq']).toMatchObject({ xattrs: ['trusted.overlay.opaque=0x79'] });
    expect(got['.']).toMatchObject({ mode: '755' });
    expect(got['deep/er']).toMatchObject({ mode: '555' });
    expect(fs.readdirSync(path.join(diff, 'opq'))).toEqual(['new']);
    fs.rmSync(stage, { recursive: true });
    fs.rmSync(expected, { recursive: true });
  });

  test('a GNU-format layer (long names in GNU headers) round-trips as GNU tar extracts it', async () => {
    const stage = stageBenign();
    const tar = gnuTar(stage, ['.'], ['--format=gnu']);
    const diff = await unpack(tar);
    const expected = path.join(work, `expected-${++count}`);
    fs.mkdirSync(expected);
    execFileSync('tar', ['-x', '-f', '-', '-C', expected, '--numeric-owner', '--same-owner', '--same-permissions'], { input: tar });
    fs.rmSync(path.join(expected, '.wh.removed'));
    execFileSync('mknod', ['-m', '000', path.join(expected, 'removed'), 'c', '0', '0']);
    fs.rmSync(path.join(expected, 'opq', '.wh..wh..opq'));
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(expected, 'opq')]);
    expect(describeTree(diff, { mtimes: false })).toEqual(describeTree(expected, { mtimes: false }));
    expect(fs.readFileSync(path.join(diff, 'deep/er/est', 'long-name-'.repeat(15)), 'utf8')).toBe('long');
    fs.rmSync(stage, { recursive: true });
    fs.rmSync(expected, { recursive: true });
  });

  test('a gzip layer unpacks to the same tree and hashes its uncompressed bytes', async () => {
    const stage = stageBenign();
    const tar = gnuTar(stage, ['.'], ['--format=posix', '--xattrs', '--xattrs-include=*']);
    const gz = execFileSync('gzip', ['-c'], { input: tar, maxBuffer: 1 << 28 });
    const dest = layerDest();
    const r = await unpackLayer(blobOf(gz).blob, 'application/vnd.oci.image.layer.v1.tar+gzip', dest, `sha256:${sha(tar)}`);
    expect(r.diffId).toBe(`sha256:${sha(tar)}`);
    const plain = await unpack(tar);
    expect(describeTree(path.join(dest, 'diff'))).toEqual(describeTree(plain));
    fs.rmSync(stage, { recursive: true });
  });
});

describe('runtime cp and build ADD into an image whose symlinks point at host paths', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let victim: string;
  const rt = (args: string[]): CliResult => cdkDocker(['runtime', ...args], dir, env);
  /** Mounts under this suite's directory (a leaked overlay). */
  const mountsLeft = () =>
    fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m) => m && m.startsWith(dir));

  /** A directory holding x, a symlink to the canary's file and a hardlink of that symlink. */
  function payload(): string {
    const p = path.join(dir, `payload-${++count}`);
    fs.mkdirSync(p, { recursive: true });
    fs.writeFileSync(path.join(p, 'x'), 'x\n');
    fs.symlinkSync(path.join(victim, 'important'), path.join(p, 's'));
    fs.linkSync(path.join(p, 's'), path.join(p, 'h')); // link(2) does not follow: h is the symlink
    return p;
  }

  beforeAll(() => {
    requireCommand('runc', 'runc');
    dir = path.join(work, 'containers');
    env = { CDK_DOCKER_ROOT: path.join(dir, 'root'), CDK_DOCKER_RUNROOT: path.join(dir, 'run') };
    privateNetworkConfig(path.join(dir, 'root'), 200);
    victim = canary();
    // The image: /etc is a symlink to a host-absolute path (the canary), /hostfile to its file.
    const rootfs = path.join(dir, 'rootfs');
    fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
    fs.symlinkSync(victim, path.join(rootfs, 'etc'));
    fs.mkdirSync(path.join(rootfs, victim), { recursive: true }); // where /etc leads inside the container
    fs.symlinkSync(path.join(victim, 'important'), path.join(rootfs, 'hostfile'));
    execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', path.join(dir, 'image.tar'), '.']);
    ok(rt(['import', '-c', 'CMD ["sh"]', path.join(dir, 'image.tar'), 'hostlinks:1']));
  });

  afterAll(() => {
    if (!dir) return;
    const all = rt(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
    if (all.length) rt(['rm', '-f', ...all]);
    expect(mountsLeft()).toEqual([]);
  });

  test('cp of a hardlinked symlink, into /etc and onto a symlink, lands inside the container and leaves the host alone', () => {
    const before = describeTree(victim);
    ok(rt(['create', '--name', 'cp-target', 'hostlinks:1']));
    const p = payload();
    ok(rt(['cp', `${p}/.`, 'cp-target:/']));
    ok(rt(['cp', path.join(p, 'x'), 'cp-target:/etc/x']));
    const evil = path.join(dir, `evil-${++count}`);
    fs.writeFileSync(evil, 'overwritten\n');
    ok(rt(['cp', evil, 'cp-target:/hostfile']));
    expect(describeTree(victim)).toEqual(before);
    // /etc/x went to the container's own <victim>/x, as Docker resolves /etc inside the root;
    // /hostfile is the container's <victim>/important.
    const out = path.join(dir, `out-${++count}`);
    ok(rt(['cp', 'cp-target:/etc/x', out]));
    expect(fs.readFileSync(out, 'utf8')).toBe('x\n');
    ok(rt(['cp', `cp-target:${victim}/x`, `${out}-2`]));
    expect(fs.readFileSync(`${out}-2`, 'utf8')).toBe('x\n');
    expect(fs.existsSync(path.join(victim, 'x'))).toBe(false);
    ok(rt(['cp', '-L', 'cp-target:/hostfile', `${out}-3`]));
    expect(fs.readFileSync(`${out}-3`, 'utf8')).toBe('overwritten\n');
    expect(mountsLeft()).toEqual([]);
  });

  test('build ADD of a local tar with a hardlinked symlink leaves the host alone', () => {
    const before = describeTree(victim);
    const ctx = path.join(dir, `ctx-${++count}`);
    fs.mkdirSync(ctx);
    execFileSync('tar', ['-C', payload(), '-cf', path.join(ctx, 'payload.tar'), '.']);
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM hostlinks:1\nADD payload.tar /\nADD payload.tar /etc/\n');
    ok(rt(['build', '-t', 'added:1', ctx]));
    expect(describeTree(victim)).toEqual(before);
    expect(mountsLeft()).toEqual([]);
  });
});
