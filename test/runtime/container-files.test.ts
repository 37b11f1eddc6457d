import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tarStream from 'tar-stream';
import { CLI, CliResult, cdkDocker, ok, tempDir } from '../helpers/cli';
import { tarOf } from '../helpers/archive';
import { busyboxRootfsTar } from '../helpers/images';
import { privateNetworkConfig } from '../helpers/network';
import { requireCommand } from '../helpers/prereq';

jest.setTimeout(60_000);

/**
 * `runtime cp`, `diff`, `export` and `commit` on real runc + conmon containers, driven through
 * the CLI as a user would, from a busybox image imported offline, with private state roots.
 */
let work: string;
let env: NodeJS.ProcessEnv;
const rt = (args: string[]): CliResult => cdkDocker(['runtime', ...args], work, env);
/** The CLI with binary stdin/stdout (tar streams). */
function rtBinary(args: string[], input?: Buffer): { code: number; stdout: Buffer; stderr: string } {
  const r = spawnSync(CLI, ['runtime', ...args], { cwd: work, input, env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}
const exec = (c: string, ...cmd: string[]) => ok(rt(['exec', c, ...cmd]));

/** Entries of a tar: name → content (files) or the type. */
async function untar(buf: Buffer): Promise<Map<string, { type: string; content: string; uid: number }>> {
  const out = new Map<string, { type: string; content: string; uid: number }>();
  const extract = tarStream.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.set(entry.header.name, { type: entry.header.type, content: Buffer.concat(chunks).toString('utf8'), uid: entry.header.uid });
    }
  })();
  extract.end(buf);
  await done;
  return out;
}

/** Mounts under this suite's directory (a leaked overlay or bind mount). */
function mountsLeft(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && m.startsWith(work));
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n';

beforeAll(() => {
  requireCommand('runc', 'runc');
  requireCommand('conmon', 'conmon');
  work = tempDir('cdk-docker-files-');
  env = { CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') };
  privateNetworkConfig(path.join(work, 'root'), 142);
  busyboxRootfsTar(work, ['sh', 'ls', 'cat', 'echo', 'sleep', 'mkdir', 'rm', 'ln', 'stat', 'true']);
  // The image also holds /srv/data/{one,two}, for an opaque directory.
  const rootfs = path.join(work, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'srv', 'data'), { recursive: true });
  fs.writeFileSync(path.join(rootfs, 'srv', 'data', 'one'), '1\n');
  fs.writeFileSync(path.join(rootfs, 'srv', 'data', 'two'), '2\n');
  const tar = path.join(work, 'image.tar');
  execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', tar, '.']);
  ok(rt(['import', '-c', 'CMD ["sh"]', '-c', 'ENV PATH=/bin', tar, 'busybox:files']));
  fs.mkdirSync(path.join(work, 'bind'));
  fs.mkdirSync(path.join(work, 'bind-ro'));
  ok(rt(['run', '-d', '--name', 'live', '-v', `${path.join(work, 'bind')}:/data`, '-v', `${path.join(work, 'bind-ro')}:/ro:ro`, 'busybox:files', 'sleep', '1000']));
});

afterAll(async () => {
  if (!work) return;
  const all = rt(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (all.length) rt(['rm', '-f', ...all]);
  const left = mountsLeft();
  fs.rmSync(work, { recursive: true, force: true });
  expect(left).toEqual([]);
});

test('cp copies files both ways on a running container, as root unless -a, and tar streams with -', async () => {
  const hello = path.join(work, 'hello.txt');
  fs.writeFileSync(hello, 'hello\n');
  fs.chownSync(hello, 1234, 1234);
  ok(rt(['cp', hello, 'live:/tmp/']));
  expect(exec('live', 'cat', '/tmp/hello.txt')).toBe('hello\n');
  expect(exec('live', 'stat', '-c', '%u:%g', '/tmp/hello.txt')).toBe('0:0\n');
  ok(rt(['cp', '-a', hello, 'live:/tmp/kept.txt']));
  expect(exec('live', 'stat', '-c', '%u:%g %n', '/tmp/kept.txt')).toBe('1234:1234 /tmp/kept.txt\n');

  // Out: to a new file, into a directory, and as a tar on stdout.
  const outDir = path.join(work, 'out');
  fs.mkdirSync(outDir);
  ok(rt(['cp', 'live:/etc/passwd', path.join(outDir, 'passwd.copy')]));
  expect(fs.readFileSync(path.join(outDir, 'passwd.copy'), 'utf8')).toBe(PASSWD);
  ok(rt(['cp', 'live:etc/passwd', outDir]));
  expect(fs.readFileSync(path.join(outDir, 'passwd'), 'utf8')).toBe(PASSWD);
  const stream = rtBinary(['cp', 'live:/etc/passwd', '-']);
  expect(stream.code).toBe(0);
  expect([...(await untar(stream.stdout)).entries()]).toEqual([['passwd', { type: 'file', content: PASSWD, uid: 0 }]]);

  // In from stdin: a tar extracted into the directory.
  const input = await tarOf([{ name: 'fromtar/', type: 'directory' }, { name: 'fromtar/x.txt', content: 'from a tar\n', uid: 42 }]);
  expect(rtBinary(['cp', '-', 'live:/tmp'], input).code).toBe(0);
  expect(exec('live', 'stat', '-c', '%u %n', '/tmp/fromtar/x.txt')).toBe('0 /tmp/fromtar/x.txt\n');
  expect(exec('live', 'cat', '/tmp/fromtar/x.txt')).toBe('from a tar\n');
  expect(rtBinary(['cp', '-', 'live:/etc/passwd'], input)).toMatchObject({ code: 1, stderr: 'Error: destination "live:/etc/passwd" must be a directory\n' });

  // Into and out of a bind mount: its files on the host.
  ok(rt(['cp', hello, 'live:/data/']));
  expect(fs.readFileSync(path.join(work, 'bind', 'hello.txt'), 'utf8')).toBe('hello\n');
  expect(exec('live', 'cat', '/data/hello.txt')).toBe('hello\n');
  fs.writeFileSync(path.join(work, 'bind', 'from-host.txt'), 'host side\n');
  ok(rt(['cp', 'live:/data/from-host.txt', path.join(outDir, 'from-host.txt')]));
  expect(fs.readFileSync(path.join(outDir, 'from-host.txt'), 'utf8')).toBe('host side\n');
  expect(rt(['cp', hello, 'live:/ro/'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^Error: mounted volume is marked read-only: \/ro /) });

  // Docker's errors.
  expect(rt(['cp', 'live:/nope', outDir])).toMatchObject({ code: 1, stderr: 'Error: Could not find the file /nope in container live\n' });
  expect(rt(['cp', 'live:/etc/passwd', path.join(work, 'missing-dir') + '/'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^Error: no such directory: /) });
  expect(rt(['cp', 'live:/etc/passwd', path.join(work, 'no', 'such', 'file')])).toMatchObject({ code: 1, stderr: `Error: invalid output path: directory "${path.join(work, 'no', 'such')}" does not exist\n` });
  expect(rt(['cp', hello, 'live:/no/such/dir/x'])).toMatchObject({ code: 1, stderr: 'Error: Could not find the file /no/such/dir in container live\n' });
  expect(rt(['cp', 'live:/a', 'live:/b']).stderr).toMatch(/^Error: copying between containers is not supported/);
  expect(rt(['cp', hello, outDir]).stderr).toMatch(/^Error: must specify at least one container source/);
  expect(rt(['cp', hello, 'nosuch:/tmp'])).toMatchObject({ code: 1, stderr: 'Error: No such container: nosuch\n' });
});

test('cp of directories: into a missing path, into a directory, and the content only with /.', () => {
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(src, 'sub', 'b.txt'), 'b\n');
  fs.symlinkSync('a.txt', path.join(src, 'link'));
  ok(rt(['cp', src, 'live:/tmp/newdir']));
  expect(exec('live', 'ls', '-R', '/tmp/newdir')).toBe('/tmp/newdir:\na.txt\nlink\nsub\n\n/tmp/newdir/sub:\nb.txt\n');
  expect(exec('live', 'cat', '/tmp/newdir/link')).toBe('a\n');
  ok(rt(['cp', src, 'live:/tmp/newdir']));
  expect(exec('live', 'ls', '/tmp/newdir', '/tmp/newdir/src')).toBe('/tmp/newdir:\na.txt\nlink\nsrc\nsub\n\n/tmp/newdir/src:\na.txt\nlink\nsub\n');
  exec('live', 'mkdir', '/tmp/content');
  ok(rt(['cp', `${src}/.`, 'live:/tmp/content']));
  expect(exec('live', 'ls', '/tmp/content')).toBe('a.txt\nlink\nsub\n');
  expect(rt(['cp', src, 'live:/etc/passwd'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^Error: cannot copy directory: /) });
  expect(rt(['cp', path.join(src, 'a.txt'), 'live:/tmp/newdir/a.txt/'])).toMatchObject({ code: 1, stderr: 'Error: not a directory: /tmp/newdir/a.txt/ in container live is a file; drop the trailing "/" to overwrite it\n' });

  // Out: a directory to a missing path, into a directory, its content with /.
  const dest = path.join(work, 'dirs');
  ok(rt(['cp', 'live:/tmp/newdir/sub', dest]));
  expect(fs.readdirSync(dest)).toEqual(['b.txt']);
  ok(rt(['cp', 'live:/tmp/newdir/sub', dest]));
  expect(fs.readdirSync(dest).sort()).toEqual(['b.txt', 'sub']);
  ok(rt(['cp', 'live:/tmp/content/.', dest]));
  expect(fs.readdirSync(dest).sort()).toEqual(['a.txt', 'b.txt', 'link', 'sub']);
  expect(fs.readlinkSync(path.join(dest, 'link'))).toBe('a.txt');
  // -L copies what a symlink points to, under the link's name.
  ok(rt(['cp', '-L', 'live:/tmp/content/link', path.join(work, 'followed')]));
  expect(fs.lstatSync(path.join(work, 'followed')).isFile()).toBe(true);
  expect(fs.readFileSync(path.join(work, 'followed'), 'utf8')).toBe('a\n');
});

test('symlinks in a container path resolve inside the container, never to the host', async () => {
  exec('live', 'ln', '-s', '/', '/tmp/root');
  exec('live', 'ln', '-s', '../../../../../../..', '/tmp/up');
  const marker = `cdk-docker-escape-${process.pid}`;
  const file = path.join(work, marker);
  fs.writeFileSync(file, 'inside\n');
  ok(rt(['cp', file, 'live:/tmp/root/etc/']));
  ok(rt(['cp', file, 'live:/tmp/up/tmp/up/']));
  expect(fs.existsSync(`/etc/${marker}`)).toBe(false);
  expect(fs.existsSync(`/${marker}`)).toBe(false);
  expect(exec('live', 'cat', `/etc/${marker}`, `/${marker}`)).toBe('inside\ninside\n');
  // Reading through them gives the container's files, not the host's.
  const out = path.join(work, 'through-link');
  ok(rt(['cp', 'live:/tmp/up/etc/passwd', out]));
  expect(fs.readFileSync(out, 'utf8')).toBe(PASSWD);
  const viaRoot = rtBinary(['cp', 'live:/tmp/root/etc/passwd', '-']);
  expect((await untar(viaRoot.stdout)).get('passwd')?.content).toBe(PASSWD);
  // A tar that makes a symlink and then writes through it is refused.
  const evil = await tarOf([{ name: 'evil', type: 'symlink', linkname: '/' }, { name: 'evil/tmp/pwned', content: 'x' }]);
  const r = rtBinary(['cp', '-', 'live:/tmp'], evil);
  expect(r).toMatchObject({ code: 1, stderr: 'Error: the archive entry "evil/tmp/pwned" goes through the symlink /tmp/evil of the same archive; refusing to copy it\n' });
  expect(rt(['exec', 'live', 'cat', '/tmp/pwned']).code).not.toBe(0);
});

test('cp works on a container that is not running, and the files are there when it starts', async () => {
  ok(rt(['create', '--name', 'cold', 'busybox:files', 'cat', '/tmp/cold.txt']));
  const file = path.join(work, 'cold.txt');
  fs.writeFileSync(file, 'copied while stopped\n');
  ok(rt(['cp', file, 'cold:/tmp/']));
  const back = rtBinary(['cp', 'cold:/tmp/cold.txt', '-']);
  expect((await untar(back.stdout)).get('cold.txt')?.content).toBe('copied while stopped\n');
  expect(mountsLeft().filter((m) => !m.includes(ok(rt(['inspect', '-f', '{{.Id}}', 'live'])).trim()))).toEqual([]);
  ok(rt(['start', 'cold']));
  expect(ok(rt(['wait', 'cold']))).toBe('0\n');
  expect(ok(rt(['logs', 'cold']))).toBe('copied while stopped\n');
});

test('diff lists added, changed and deleted paths (whiteouts and opaque directories) in order', () => {
  const script = 'mkdir /newdir && echo x > /newdir/f && echo y >> /etc/passwd && rm /etc/group && rm -rf /srv/data && mkdir /srv/data && echo 3 > /srv/data/three';
  ok(rt(['run', '--name', 'changer', 'busybox:files', 'sh', '-c', script]));
  expect(ok(rt(['diff', 'changer']))).toBe(['C /etc', 'D /etc/group', 'C /etc/passwd', 'A /newdir', 'A /newdir/f', 'C /srv', 'C /srv/data', 'D /srv/data/one', 'A /srv/data/three', 'D /srv/data/two', ''].join('\n'));
  // A running container: the runtime's own mount points are not changes.
  const live = ok(rt(['diff', 'live'])).split('\n');
  expect(live).toEqual(expect.arrayContaining(['C /tmp', 'A /tmp/hello.txt', 'A /tmp/content/sub/b.txt', 'C /etc']));
  expect(live.filter((l) => /hostname|hosts|resolv/.test(l))).toEqual([]);
  expect(live.indexOf('C /tmp')).toBeLessThan(live.indexOf('A /tmp/content'));
  expect(rt(['diff', 'nosuch'])).toMatchObject({ code: 1, stderr: 'Error: No such container: nosuch\n' });
});

test('export writes the merged filesystem as a tar, to stdout or -o', async () => {
  const file = path.join(work, 'changer.tar');
  ok(rt(['export', '-o', file, 'changer']));
  const entries = await untar(fs.readFileSync(file));
  expect(entries.get('newdir/f')?.content).toBe('x\n');
  expect(entries.get('etc/passwd')?.content).toBe(`${PASSWD}y\n`);
  expect(entries.get('bin/busybox')?.type).toBe('file');
  expect(entries.has('etc/group')).toBe(false);
  expect([...entries.keys()].filter((n) => n.startsWith('srv/data/')).sort()).toEqual(['srv/data/', 'srv/data/three']);
  // Never a tar to a terminal.
  const tty = spawnSync('script', ['-qec', `${CLI} runtime export live`, '/dev/null'], { cwd: work, env: { ...process.env, NO_COLOR: '1', ...env }, encoding: 'utf8' });
  expect(tty.stdout.replace(/\r/g, '')).toBe('Error: cowardly refusing to save to a terminal. Use the -o flag or redirect\n');
  const piped = rtBinary(['export', 'live']);
  expect(piped.code).toBe(0);
  expect((await untar(piped.stdout)).get('tmp/hello.txt')?.content).toBe('hello\n');
});

test('commit makes an image of the changes that runs, with -c changes and whiteouts applied', () => {
  const id = ok(rt(['commit', '-a', 'Tester <t@example.com>', '-m', 'my change', '-c', 'CMD ["cat", "/newdir/f"]', '-c', 'ENV COMMITTED=yes', 'changer', 'committed:v1'])).trim();
  expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(rt(['run', '--rm', 'committed:v1'])).toMatchObject({ code: 0, stdout: 'x\n' });
  const r = rt(['run', '--rm', 'committed:v1', 'sh', '-c', 'ls /srv/data; cat /etc/passwd; echo $COMMITTED; cat /etc/group || echo no group']);
  expect(r.stdout).toBe(`three\n${PASSWD}y\nyes\nno group\n`);
  const history = ok(rt(['history', '--no-trunc', 'committed:v1']));
  expect(history.split('\n')[1]).toContain('my change');
  // A running container is paused meanwhile and keeps running.
  const live = ok(rt(['commit', 'live'])).trim();
  expect(live).toMatch(/^sha256:/);
  expect(ok(rt(['inspect', '-f', '{{.State.Status}}', 'live'])).trim()).toBe('running');
  expect(rt(['run', '--rm', live, 'cat', '/tmp/hello.txt', '/etc/hostname'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^hello\n[0-9a-f]{12}\n$/) });
  expect(rt(['commit', '-c', 'FROM x', 'changer'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^Error: --change "FROM x": FROM is not supported/) });
});
