import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../lib/core/errors';
import { processIdentity } from '../../lib/core/process';
import { isMounted, mountsUnder } from '../../runtime/util/mounts';
import { ANONYMOUS_LABEL, VolumeStore, parseListFilters, parsePruneFilters } from '../../runtime/volumes';
import { tempDir } from '../helpers/cli';

/**
 * The volume store of the built-in runtime, against a private state root per test. Errors are
 * asserted by class and exact message.
 */
const asRoot = process.getuid?.() === 0;
/** A test that mounts: it fails (never skips) without root, naming what it needs. */
const rootOnly = (name: string, fn: () => Promise<void>) =>
  test(name, async () => {
    if (!asRoot) throw new Error('test prerequisite missing: root (this test mounts a tmpfs/bind volume); run the suite as root');
    await fn();
  });

let work: string;
let root: string;
let store: VolumeStore;

beforeEach(() => {
  work = tempDir('cdk-docker-volumes-');
  root = path.join(work, 'root');
  store = new VolumeStore(root);
});

afterEach(() => {
  // A failed tmpfs test may leave a mount behind: never delete through it.
  for (const m of mountsUnder(work)) execFileSync('umount', [m]);
  fs.rmSync(work, { recursive: true, force: true });
});

const mode = (p: string) => fs.statSync(p).mode & 0o7777;
const catchError = async (p: Promise<unknown>): Promise<Error> => {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
};

/** Writes a container record that mounts `volumes`, as runtime/containers will. */
function fakeContainer(id: string, name: string, volumes: string[]): void {
  const dir = path.join(root, 'containers', id);
  fs.mkdirSync(dir, { recursive: true });
  const mounts = volumes.map((v) => ({ Type: 'volume', Name: v, Source: path.join(root, 'volumes', v, '_data'), Destination: `/mnt/${v}`, RW: true }));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ version: 1, Id: id, Name: name, Mounts: [...mounts, { Type: 'bind', Source: '/srv', Destination: '/srv', RW: true }] }));
}

describe('create and inspect', () => {
  test('a named volume has Docker\'s layout, record and modes', async () => {
    const record = await store.create('data');
    const mountpoint = path.join(root, 'volumes', 'data', '_data');
    expect(record).toEqual({
      version: 1,
      CreatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      Driver: 'local',
      Labels: {},
      Mountpoint: mountpoint,
      Name: 'data',
      Options: {},
      Scope: 'local',
    });
    expect(store.inspect('data')).toEqual({ CreatedAt: record.CreatedAt, Driver: 'local', Labels: {}, Mountpoint: mountpoint, Name: 'data', Options: {}, Scope: 'local' });
    expect(JSON.parse(fs.readFileSync(path.join(root, 'volumes', 'data', 'volume.json'), 'utf8'))).toEqual(record);
    expect(mode(path.join(root, 'volumes'))).toBe(0o700);
    expect(mode(path.join(root, 'volumes', 'data'))).toBe(0o700);
    expect(mode(mountpoint)).toBe(0o755);
    expect(mode(path.join(root, 'volumes', 'data', 'volume.json'))).toBe(0o600);
    expect(fs.statSync(mountpoint).uid).toBe(process.getuid!());
    expect(fs.readdirSync(mountpoint)).toEqual([]);
    // Nothing but the volume and the lock's absence is left behind (atomic write + rename).
    expect(fs.readdirSync(path.join(root, 'volumes'))).toEqual(['data']);
    expect(fs.readdirSync(path.join(root, 'volumes', 'data')).sort()).toEqual(['_data', 'volume.json']);
  });

  test('labels and driver options are kept, in key order', async () => {
    await store.create('web-data', { labels: { tier: 'web', app: 'shop' }, driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=10m' } });
    const v = store.inspect('web-data');
    expect(JSON.stringify(v.Labels)).toBe('{"app":"shop","tier":"web"}');
    expect(JSON.stringify(v.Options)).toBe('{"device":"tmpfs","o":"size=10m","type":"tmpfs"}');
  });

  test('a volume created without a name is anonymous', async () => {
    const a = await store.create();
    const b = await store.create(undefined, { labels: { x: '1' } });
    expect(a.Name).toMatch(/^[0-9a-f]{64}$/);
    expect(b.Name).not.toBe(a.Name);
    expect(a.Labels).toEqual({ [ANONYMOUS_LABEL]: '' });
    expect(b.Labels).toEqual({ [ANONYMOUS_LABEL]: '', x: '1' });
  });

  test('creating an existing volume returns it, as Docker does', async () => {
    const first = await store.create('data', { labels: { a: '1' } });
    fs.writeFileSync(path.join(first.Mountpoint, 'kept'), 'x');
    expect(await store.create('data', { labels: { a: '1' } })).toEqual(first);
    expect(await store.create('data')).toEqual(first);
    expect(fs.readdirSync(first.Mountpoint)).toEqual(['kept']);
  });

  test('creating an existing volume with other labels or options is a conflict', async () => {
    await store.create('data', { labels: { a: '1' } });
    const labels = await catchError(store.create('data', { labels: { a: '2' } }));
    expect(labels).toBeInstanceOf(ConflictError);
    expect(labels.message).toBe('create data: volume "data" already exists with labels {a=1}; remove it first (cdk-docker runtime volume rm data) or ask for the same ones');
    const opts = await catchError(store.create('data', { driverOpts: { type: 'tmpfs', device: 'tmpfs' } }));
    expect(opts.message).toBe('create data: volume "data" already exists with driver options {} (none); remove it first (cdk-docker runtime volume rm data) or ask for the same ones');
  });

  test('bad names, drivers and options are refused with a clear message', async () => {
    const cases: [string | undefined, object, string][] = [
      ['a', {}, 'volume name "a" is not a valid Docker name: use at least two characters, starting with a letter or digit, then letters, digits, "_", "." or "-" (for example "a0")'],
      ['../etc', {}, 'volume name "../etc" is not a valid Docker name: use at least two characters, starting with a letter or digit, then letters, digits, "_", "." or "-" (for example "etc")'],
      ['my vol', {}, 'volume name "my vol" is not a valid Docker name: use at least two characters, starting with a letter or digit, then letters, digits, "_", "." or "-" (for example "my-vol")'],
      ['x'.repeat(129), {}, `volume name "${'x'.repeat(129)}" is 129 characters long; the maximum is 128`],
      ['data', { driver: 'nfs' }, 'create data: volume driver "nfs" is not supported: the built-in runtime has only the "local" driver (drop -d/--driver)'],
      ['data', { driverOpts: { foo: 'bar' } }, 'create data: invalid option: "foo": the local driver takes type, device and o (for example -o type=tmpfs -o device=tmpfs -o o=size=10m)'],
      ['data', { driverOpts: { size: '10G' } }, 'create data: invalid option: "size": the built-in runtime has no quotas for volume directories; for a size-limited volume use -o type=tmpfs -o device=tmpfs -o o=size=10m'],
      ['data', { driverOpts: { type: 'tmpfs' } }, 'create data: missing required option: "device" (what to mount, e.g. -o device=tmpfs for type tmpfs)'],
      ['data', { driverOpts: { device: '/dev/sdb1' } }, 'create data: missing required option: "type" (the filesystem type of device "/dev/sdb1", e.g. -o type=none -o o=bind for a directory)'],
      ['data', { driverOpts: { o: 'size=1m' } }, 'create data: missing required option: "type" (o=size=1m are mount options of a type/device pair)'],
      ['data', { driverOpts: { type: 'none', device: 'srv', o: 'bind' } }, 'create data: device "srv" of a bind volume must be an absolute path'],
      ['data', { labels: { '': 'x' } }, 'create data: a label needs a name (KEY=VALUE)'],
    ];
    for (const [name, opts, message] of cases) {
      const e = await catchError(store.create(name, opts));
      expect(e).toBeInstanceOf(InvalidArgumentError);
      expect(e.message).toBe(message);
    }
    expect(fs.readdirSync(path.join(root, 'volumes'))).toEqual([]);
  });

  test('a missing volume is "no such volume"', async () => {
    for (const name of ['nope', '../images', 'a/b']) {
      expect(() => store.inspect(name)).toThrow(new NotFoundError(`no such volume: ${name}`));
      expect(store.tryGet(name)).toBeUndefined();
      const e = await catchError(store.remove(name));
      expect(e).toBeInstanceOf(NotFoundError);
      expect(e.message).toBe(`no such volume: ${name}`);
      expect(await store.remove(name, { force: true })).toBe(false);
    }
  });
});

describe('list', () => {
  beforeEach(async () => {
    await store.create('web-data', { labels: { app: 'shop', tier: 'web' } });
    await store.create('db-data', { labels: { app: 'shop', tier: 'db' } });
    await store.create('cache', {});
    fakeContainer('c'.repeat(64), 'db', ['db-data']);
  });

  const names = (filters: string[]) => store.list(parseListFilters(filters)).map((v) => v.Name);

  test('volumes are listed by name', () => {
    expect(names([])).toEqual(['cache', 'db-data', 'web-data']);
  });

  test('filters: dangling, label, name, driver', () => {
    expect(names(['dangling=true'])).toEqual(['cache', 'web-data']);
    expect(names(['dangling=1'])).toEqual(['cache', 'web-data']);
    expect(names(['dangling=false'])).toEqual(['db-data']);
    expect(names(['label=app'])).toEqual(['db-data', 'web-data']);
    expect(names(['label=app=shop', 'label=tier=web'])).toEqual(['web-data']);
    expect(names(['label=tier=cache'])).toEqual([]);
    expect(names(['name=data'])).toEqual(['db-data', 'web-data']);
    expect(names(['name=^cache$', 'name=web'])).toEqual(['cache', 'web-data']);
    expect(names(['driver=local', 'dangling=true', 'label=app'])).toEqual(['web-data']);
    expect(names(['driver=nfs'])).toEqual([]);
  });

  test('bad filters are refused', () => {
    expect(() => parseListFilters(['color=red'])).toThrow(new InvalidArgumentError("invalid filter 'color': the volume filters are dangling, label, name, driver"));
    expect(() => parseListFilters(['dangling=maybe'])).toThrow(new InvalidArgumentError("invalid filter 'dangling=maybe': use dangling=true or dangling=false"));
    expect(() => parseListFilters(['dangling=true', 'dangling=false'])).toThrow(new InvalidArgumentError("invalid filter 'dangling': both true and false given"));
    expect(() => parseListFilters(['dangling'])).toThrow(new InvalidArgumentError('bad format of filter "dangling" (expected name=value, e.g. dangling=…, label=…, name=…, driver=…)'));
    expect(() => parsePruneFilters(['all=1'], true)).toThrow(new InvalidArgumentError('conflicting options: cannot specify both --all and --filter all=1'));
    expect(parsePruneFilters(['label!=keep', 'label=app', 'all=true'])).toEqual({ all: true, label: ['app'], labelNot: ['keep'] });
  });

  test('leftovers of killed commands are not volumes, and are collected', async () => {
    const volumes = path.join(root, 'volumes');
    // A pid that cannot be alive (above pid_max) stands for a killed command.
    fs.mkdirSync(path.join(volumes, '.tmp-99999999-dead', '_data'), { recursive: true });
    fs.mkdirSync(path.join(volumes, '.rm-99999999-dead', '_data'), { recursive: true });
    fs.mkdirSync(path.join(volumes, `.tmp-${process.pid}-live`));
    // Entries name their writer by pid and start time: a live pid that started at another time is
    // a reused pid, its entry a dead writer's.
    const [pid, start] = processIdentity(process.pid)!.split(' ');
    fs.mkdirSync(path.join(volumes, `.rm-${pid}-${Number(start) + 1}-reused`, '_data'), { recursive: true });
    fs.mkdirSync(path.join(volumes, `.tmp-${pid}-${start}-mine`));
    fs.mkdirSync(path.join(volumes, 'half-made'));
    fs.writeFileSync(path.join(volumes, 'half-made', 'stray'), '');
    expect(names([])).toEqual(['cache', 'db-data', 'web-data']);
    await store.create('new-one');
    expect(fs.readdirSync(volumes).sort()).toEqual([`.tmp-${pid}-${start}-mine`, `.tmp-${process.pid}-live`, 'cache', 'db-data', 'half-made', 'new-one', 'web-data']);
    const e = await catchError(store.create('half-made'));
    expect(e).toBeInstanceOf(ConflictError);
    expect(e.message).toBe(`create half-made: ${path.join(volumes, 'half-made')} exists but is not a volume (no volume.json); move it away`);
  });
});

describe('remove and prune', () => {
  test('a volume a container uses is never removed', async () => {
    await store.create('data');
    await store.create('other');
    fakeContainer('a'.repeat(64), 'web', ['data']);
    fakeContainer('b'.repeat(64), 'api', ['data', 'other']);
    for (const force of [false, true]) {
      const e = await catchError(store.remove('data', { force }));
      expect(e).toBeInstanceOf(ConflictError);
      expect(e.message).toBe('remove data: volume is in use - [api, web]');
    }
    expect(store.users('other')).toEqual(['api']);
    expect((await store.prune({ all: true })).deleted).toEqual([]);
    expect(store.list().map((v) => v.Name)).toEqual(['data', 'other']);

    fs.rmSync(path.join(root, 'containers', 'b'.repeat(64)), { recursive: true });
    expect(await store.remove('other')).toBe(true);
    expect(store.tryGet('other')).toBeUndefined();
    expect(fs.existsSync(path.join(root, 'volumes', 'other'))).toBe(false);
  });

  test('an unreadable container record refuses removal rather than guessing', async () => {
    await store.create('data');
    const file = path.join(root, 'containers', 'x'.repeat(64), 'config.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '{"Name": "half');
    const e = await catchError(store.remove('data'));
    expect(e.message).toMatch(new RegExp(`^container record ${file} is not valid JSON \\(.*\\), so whether it uses volume "data" is unknown; repair or remove that container$`));
    expect(store.tryGet('data')).toBeDefined();
  });

  test('an injected usedBy decides what is in use', async () => {
    const custom = new VolumeStore(root, (name) => (name === 'data' ? ['ctr1'] : []));
    await custom.create('data');
    expect((await catchError(custom.remove('data'))).message).toBe('remove data: volume is in use - [ctr1]');
  });

  test('remove deletes the data', async () => {
    const v = await store.create('data');
    fs.mkdirSync(path.join(v.Mountpoint, 'sub'));
    fs.writeFileSync(path.join(v.Mountpoint, 'sub', 'f'), 'x');
    fs.symlinkSync('/etc', path.join(v.Mountpoint, 'etc-link'));
    expect(await store.remove('data')).toBe(true);
    expect(fs.readdirSync(path.join(root, 'volumes'))).toEqual([]);
    expect(fs.existsSync('/etc/passwd')).toBe(true);
  });

  test('prune removes only unused anonymous volumes unless all', async () => {
    const anon1 = await store.create();
    const anon2 = await store.create(undefined, { labels: { keep: 'yes' } });
    const used = await store.create();
    await store.create('named');
    await store.create('mounted', { driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
    fakeContainer('d'.repeat(64), 'web', [used.Name]);
    fs.writeFileSync(path.join(anon1.Mountpoint, 'f'), Buffer.alloc(1000));
    fs.linkSync(path.join(anon1.Mountpoint, 'f'), path.join(anon1.Mountpoint, 'hardlink'));
    fs.writeFileSync(path.join(anon1.Mountpoint, 'empty'), '');
    fs.writeFileSync(path.join(anon2.Mountpoint, 'g'), Buffer.alloc(234));

    expect(await store.prune({ labelNot: ['keep'] })).toEqual({ deleted: [anon1.Name], reclaimed: 1000 });
    expect(await store.prune()).toEqual({ deleted: [anon2.Name], reclaimed: 234 });
    expect(await store.prune({ all: true, label: ['nothing'] })).toEqual({ deleted: [], reclaimed: 0 });
    // Named volumes go with all; volumes with driver options stay, as Docker keeps them.
    expect(await store.prune({ all: true })).toEqual({ deleted: ['named'], reclaimed: 0 });
    expect(store.list().map((v) => v.Name).sort()).toEqual(['mounted', used.Name].sort());
  });

  test('concurrent changes from several stores serialize on the lock', async () => {
    const stores = [store, new VolumeStore(root), new VolumeStore(root)];
    const made = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % 3].create(i % 2 ? 'shared' : `v${i}`, {})));
    expect(made.filter((v) => v.Name === 'shared')).toHaveLength(6);
    expect(new Set(made.filter((v) => v.Name === 'shared').map((v) => v.CreatedAt)).size).toBe(1);
    expect(store.list()).toHaveLength(7);
    await Promise.all(stores.map((s) => s.prune({ all: true })));
    expect(store.list()).toEqual([]);
    expect(fs.readdirSync(path.join(root, 'volumes'))).toEqual([]);
  });

  test('the lock is re-entrant for callers that create volumes inside it', async () => {
    const v = await store.locked(async () => {
      expect((await store.create('inner')).Name).toBe('inner');
      await store.remove('inner');
      return store.create('inner2');
    });
    expect(v.Name).toBe('inner2');
  });
});

describe('copy-up', () => {
  let image: string;

  /** An image directory with owners, modes, a symlink, a hard link and an xattr. */
  function makeImageDir(): string {
    const dir = path.join(work, 'image', 'var', 'lib', 'app');
    fs.mkdirSync(path.join(dir, 'private'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'config'), 'setting=1\n');
    fs.chmodSync(path.join(dir, 'config'), 0o640);
    fs.chmodSync(path.join(dir, 'private'), 0o700);
    fs.writeFileSync(path.join(dir, 'private', 'key'), 'secret');
    fs.symlinkSync('config', path.join(dir, 'link'));
    fs.linkSync(path.join(dir, 'config'), path.join(dir, 'hard'));
    execFileSync('setfattr', ['-n', 'user.test', '-v', 'hello', path.join(dir, 'config')]);
    fs.chmodSync(dir, 0o750);
    if (asRoot) {
      fs.chownSync(path.join(dir, 'config'), 1234, 5678);
      fs.chownSync(path.join(dir, 'private'), 999, 999);
      fs.lchownSync(path.join(dir, 'link'), 42, 43);
      fs.chownSync(dir, 1000, 1001);
    }
    return dir;
  }

  beforeEach(() => {
    image = makeImageDir();
  });

  rootOnly('copies image content into an empty volume once, keeping owners, modes, symlinks, hard links and xattrs', async () => {
    const v = await store.create('app');
    expect(await store.copyUp('app', image)).toBe(true);
    const d = v.Mountpoint;
    expect(fs.readdirSync(d).sort()).toEqual(['config', 'hard', 'link', 'private']);
    expect(fs.readFileSync(path.join(d, 'config'), 'utf8')).toBe('setting=1\n');
    const config = fs.statSync(path.join(d, 'config'));
    expect([config.mode & 0o7777, config.uid, config.gid]).toEqual([0o640, 1234, 5678]);
    expect(fs.statSync(path.join(d, 'hard')).ino).toBe(config.ino);
    const priv = fs.statSync(path.join(d, 'private'));
    expect([priv.mode & 0o7777, priv.uid, priv.gid]).toEqual([0o700, 999, 999]);
    expect(fs.readlinkSync(path.join(d, 'link'))).toBe('config');
    expect([fs.lstatSync(path.join(d, 'link')).uid, fs.lstatSync(path.join(d, 'link')).gid]).toEqual([42, 43]);
    expect(execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'user.test', path.join(d, 'config')], { encoding: 'utf8' })).toBe('hello');
    // The volume's root takes the image directory's owner and mode, as Docker does.
    const rootStat = fs.statSync(d);
    expect([rootStat.mode & 0o7777, rootStat.uid, rootStat.gid]).toEqual([0o750, 1000, 1001]);
    expect(store.get('app').CopiedUpAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(fs.readdirSync(path.join(root, 'volumes', 'app')).sort()).toEqual(['_data', 'volume.json']);
    // The image is untouched.
    expect(fs.readdirSync(image).sort()).toEqual(['config', 'hard', 'link', 'private']);

    // Once: emptied later, the volume is not filled again.
    for (const e of fs.readdirSync(d)) fs.rmSync(path.join(d, e), { recursive: true });
    expect(await store.copyUp('app', image)).toBe(false);
    expect(fs.readdirSync(d)).toEqual([]);
  });

  test('a volume that already has data is not copied into', async () => {
    const v = await store.create('app');
    fs.writeFileSync(path.join(v.Mountpoint, 'mine'), 'data');
    expect(await store.copyUp('app', image)).toBe(false);
    expect(fs.readdirSync(v.Mountpoint)).toEqual(['mine']);
    expect(mode(v.Mountpoint)).toBe(0o755);
    expect(store.get('app').CopiedUpAt).toBeUndefined();
  });

  test('a path missing or empty in the image copies nothing, but an empty one gives its mode', async () => {
    const v = await store.create('app');
    expect(await store.copyUp('app', path.join(work, 'image', 'nope'))).toBe(false);
    const empty = path.join(work, 'image', 'empty');
    fs.mkdirSync(empty, { mode: 0o700 });
    fs.chmodSync(empty, 0o1777);
    expect(await store.copyUp('app', empty)).toBe(false);
    expect(mode(v.Mountpoint)).toBe(0o1777);
    expect(store.get('app').CopiedUpAt).toBeUndefined();
    // Still empty and never copied: content from another image path comes in later.
    expect(await store.copyUp('app', image)).toBe(true);
    expect(fs.readdirSync(v.Mountpoint).sort()).toEqual(['config', 'hard', 'link', 'private']);
  });

  test('a copy-up killed after staging is finished by the next one; a half copy is dropped', async () => {
    const v = await store.create('app');
    const volDir = path.join(root, 'volumes', 'app');
    // Killed mid-copy: a partial stage of a dead process.
    fs.mkdirSync(path.join(volDir, '.copyup-99999999-dead'));
    fs.writeFileSync(path.join(volDir, '.copyup-99999999-dead', 'partial'), 'x');
    // Killed while moving a complete stage in: one entry already moved.
    execFileSync('cp', ['-a', '-T', image, path.join(volDir, 'copyup')]);
    fs.renameSync(path.join(volDir, 'copyup', 'config'), path.join(v.Mountpoint, 'config'));

    expect(await store.copyUp('app', path.join(work, 'image', 'other-path-ignored'))).toBe(false);
    expect(await store.copyUp('app', image)).toBe(true);
    expect(fs.readdirSync(v.Mountpoint).sort()).toEqual(['config', 'hard', 'link', 'private']);
    expect(fs.readdirSync(volDir).sort()).toEqual(['_data', 'volume.json']);
    expect(store.get('app').CopiedUpAt).toBeDefined();
  });

  test('copy-up of a missing volume is "no such volume"', async () => {
    const e = await catchError(store.copyUp('nope', image));
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.message).toBe('no such volume: nope');
  });
});

describe('driver options', () => {
  const mounted = (dir: string) => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === dir);

  rootOnly('a tmpfs volume is mounted on first use, copied into, and unmounted before removal', async () => {
    const v = await store.create('scratch', { driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=10m,mode=0770' } });
    expect(mounted(v.Mountpoint)).toBeUndefined();
    expect(await store.mount('scratch')).toBe(v.Mountpoint);
    expect(await store.mount('scratch')).toBe(v.Mountpoint); // already mounted: once
    expect(mounted(v.Mountpoint)).toMatch(/ - tmpfs tmpfs rw,.*size=10240k/);
    expect(mode(v.Mountpoint)).toBe(0o770);

    const image = path.join(work, 'image');
    fs.mkdirSync(image);
    fs.writeFileSync(path.join(image, 'seed'), 'x');
    expect(await store.copyUp('scratch', image)).toBe(true);
    expect(fs.readdirSync(v.Mountpoint)).toEqual(['seed']);

    await store.unmount('scratch');
    expect(mounted(v.Mountpoint)).toBeUndefined();
    expect(fs.readdirSync(v.Mountpoint)).toEqual([]);
    await store.mount('scratch');
    expect(await store.remove('scratch')).toBe(true);
    expect(mounted(v.Mountpoint)).toBeUndefined();
    expect(fs.readdirSync(path.join(root, 'volumes'))).toEqual([]);
  });

  rootOnly('a bind volume shows the device directory and its removal keeps that directory', async () => {
    const src = path.join(work, 'srv-data');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'precious'), 'keep me');
    const v = await store.create('srv', { driverOpts: { type: 'none', device: src, o: 'bind' } });
    await store.mount('srv');
    expect(fs.readFileSync(path.join(v.Mountpoint, 'precious'), 'utf8')).toBe('keep me');
    expect(await store.remove('srv')).toBe(true);
    expect(fs.readFileSync(path.join(src, 'precious'), 'utf8')).toBe('keep me');
  });

  rootOnly('a mount that fails names the options', async () => {
    await store.create('broken', { driverOpts: { type: 'none', device: path.join(work, 'missing'), o: 'bind,password=hunter2' } });
    const e = await catchError(store.mount('broken'));
    expect(e.message).toMatch(new RegExp(`^error while mounting volume "broken" with options: type='none' device='${path.join(work, 'missing')}' o='bind,password=\\*\\*\\*\\*\\*\\*\\*\\*': mount: `));
    expect(e.message).not.toContain('hunter2');
  });
});

describe('mount points (runtime/util/mounts, shared with the containers\' root filesystems)', () => {
  rootOnly('paths with blanks are found, nested mounts listed deepest first', async () => {
    const outer = path.join(work, 'a dir', 'x');
    const inner = path.join(outer, 'in\tner');
    fs.mkdirSync(outer, { recursive: true });
    expect(isMounted(outer)).toBe(false);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', outer]);
    fs.mkdirSync(inner);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', inner]);
    expect(isMounted(outer)).toBe(true);
    expect(isMounted(`${outer}/`)).toBe(true);
    expect(isMounted(path.join(work, 'a dir'))).toBe(false);
    expect(mountsUnder(path.join(work, 'a dir'))).toEqual([inner, outer]);
    expect(mountsUnder(path.join(work, 'a di'))).toEqual([]);
    execFileSync('umount', [inner]);
    execFileSync('umount', [outer]);
    expect(mountsUnder(work)).toEqual([]);
  });

  rootOnly('a volume with something mounted inside it is not removed', async () => {
    const v = await store.create('busy');
    const sub = path.join(v.Mountpoint, 'sub');
    fs.mkdirSync(sub);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', sub]);
    const e = await catchError(store.remove('busy'));
    execFileSync('umount', [sub]);
    expect(e).toBeInstanceOf(ConflictError);
    expect(e.message).toBe(`remove busy: ${sub} is still mounted; unmount it first (umount ${sub})`);
    expect(await store.remove('busy')).toBe(true);
  });
});
