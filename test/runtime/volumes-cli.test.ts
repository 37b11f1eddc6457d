import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliResult, cdkDocker, ok, tempDir } from '../helpers/cli';

/**
 * `cdk-docker runtime volume …` as a user types it: the built CLI, a private state root.
 * Output follows Docker's.
 */
let work: string;
let root: string;

const env = () => ({ CDK_DOCKER_ROOT: root, CDK_DOCKER_RUNROOT: path.join(work, 'run') });
const vol = (args: string[], input?: string): CliResult => cdkDocker(['runtime', 'volume', ...args], work, env(), input);
const mountpoint = (name: string) => path.join(root, 'volumes', name, '_data');

/** A container record that mounts `volumes`, as runtime/containers writes it. */
function fakeContainer(name: string, volumes: string[]): void {
  const dir = path.join(root, 'containers', `${name}`.padEnd(64, '0'));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ version: 1, Name: name, Mounts: volumes.map((v) => ({ Type: 'volume', Name: v, Source: mountpoint(v), Destination: `/${v}`, RW: true })) }));
}

beforeEach(() => {
  work = tempDir('cdk-docker-volumes-cli-');
  root = path.join(work, 'root');
});

afterEach(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

test('create, ls, inspect and rm', () => {
  expect(ok(vol(['create', 'data']))).toBe('data\n');
  expect(ok(vol(['create', '--name', 'web', '--label', 'tier=web', '-l', 'app=shop']))).toBe('web\n');
  expect(ok(vol(['create', '-d', 'local', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=10m', 'scratch']))).toBe('scratch\n');
  const anon = ok(vol(['create'])).trim();
  expect(anon).toMatch(/^[0-9a-f]{64}$/);
  // Creating an existing volume returns it.
  expect(ok(vol(['create', 'data']))).toBe('data\n');

  const names = [anon, 'data', 'scratch', 'web'].sort();
  expect(ok(vol(['ls']))).toBe(`DRIVER    VOLUME NAME\n${names.map((n) => `local     ${n}\n`).join('')}`);
  expect(ok(vol(['list', '-q']))).toBe(names.map((n) => `${n}\n`).join(''));
  expect(ok(vol(['ls', '-f', 'label=tier=web']))).toBe('DRIVER    VOLUME NAME\nlocal     web\n');
  expect(ok(vol(['ls', '-q', '--filter', 'name=^(data|web)$']))).toBe('data\nweb\n');
  expect(ok(vol(['ls', '--format', '{{.Name}}: {{.Labels}} {{.Driver}}', '-f', 'label=app']))).toBe('web: app=shop,tier=web local\n');

  fakeContainer('api', ['data']);
  expect(ok(vol(['ls', '-q', '-f', 'dangling=false']))).toBe('data\n');
  expect(ok(vol(['ls', '-q', '-f', 'dangling=true']))).toBe(names.filter((n) => n !== 'data').map((n) => `${n}\n`).join(''));

  const text = ok(vol(['inspect', 'web', 'scratch']));
  expect(text.startsWith('[\n    {\n        "CreatedAt": "')).toBe(true);
  expect(JSON.parse(text)).toEqual([
    { CreatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), Driver: 'local', Labels: { app: 'shop', tier: 'web' }, Mountpoint: mountpoint('web'), Name: 'web', Options: {}, Scope: 'local' },
    { CreatedAt: expect.any(String), Driver: 'local', Labels: {}, Mountpoint: mountpoint('scratch'), Name: 'scratch', Options: { device: 'tmpfs', o: 'size=10m', type: 'tmpfs' }, Scope: 'local' },
  ]);
  expect(ok(vol(['inspect', '-f', '{{.Mountpoint}} {{json .Labels}}', 'web', 'data']))).toBe(`${mountpoint('web')} {"app":"shop","tier":"web"}\n${mountpoint('data')} {}\n`);
  expect(vol(['inspect', 'nope'])).toEqual({ code: 1, stdout: '[]\n', stderr: 'Error: no such volume: nope\n' });
  const some = vol(['inspect', 'data', 'nope']);
  expect([some.code, some.stderr, JSON.parse(some.stdout).map((v: { Name: string }) => v.Name)]).toEqual([1, 'Error: no such volume: nope\n', ['data']]);

  // A volume a container uses is never removed, forced or not.
  expect(vol(['rm', 'data'])).toEqual({ code: 1, stdout: '', stderr: 'Error: remove data: volume is in use - [api]\n' });
  expect(vol(['rm', '-f', 'data'])).toEqual({ code: 1, stdout: '', stderr: 'Error: remove data: volume is in use - [api]\n' });
  expect(vol(['rm', 'web', 'nope', 'scratch'])).toEqual({ code: 1, stdout: 'web\nscratch\n', stderr: 'Error: no such volume: nope\n' });
  expect(vol(['remove', '-f', 'nope'])).toEqual({ code: 0, stdout: 'nope\n', stderr: '' });
  expect(fs.existsSync(path.join(root, 'volumes', 'web'))).toBe(false);
  expect(ok(vol(['ls', '-q']))).toBe([anon, 'data'].sort().map((n) => `${n}\n`).join(''));
});

test('prune asks first and removes unused anonymous volumes; -a removes named ones too', () => {
  const anon = ok(vol(['create'])).trim();
  const used = ok(vol(['create'])).trim();
  ok(vol(['create', 'keep']));
  fakeContainer('web', [used]);
  fs.writeFileSync(path.join(mountpoint(anon), 'f'), Buffer.alloc(1500));

  const warning = 'WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ';
  expect(vol(['prune'], 'n\n')).toEqual({ code: 0, stdout: warning, stderr: '' });
  expect(vol(['prune'], '')).toEqual({ code: 0, stdout: warning, stderr: '' });
  expect(ok(vol(['ls', '-q'])).split('\n')).toContain(anon);

  expect(ok(vol(['prune'], 'y\n'))).toBe(`${warning}Deleted Volumes:\n${anon}\n\nTotal reclaimed space: 1.5kB\n`);
  expect(ok(vol(['prune', '-f']))).toBe('Total reclaimed space: 0B\n');
  expect(ok(vol(['prune', '--all', '--force', '--filter', 'label=nothing']))).toBe('Total reclaimed space: 0B\n');
  expect(ok(vol(['prune', '-a'], 'Y\n'))).toBe('WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] Deleted Volumes:\nkeep\n\nTotal reclaimed space: 0B\n');
  expect(ok(vol(['ls', '-q']))).toBe(`${used}\n`);
});

test('prune --filter all=true is -a (Docker 23+); all=false and no filter keep named volumes', () => {
  const anon = ok(vol(['create'])).trim();
  ok(vol(['create', 'named']));
  ok(vol(['create', '-l', 'tier=db', 'db']));
  expect(ok(vol(['prune', '-f', '--filter', 'all=false']))).toBe(`Deleted Volumes:\n${anon}\n\nTotal reclaimed space: 0B\n`);
  expect(ok(vol(['prune', '-f']))).toBe('Total reclaimed space: 0B\n');
  expect(ok(vol(['ls', '-q']))).toBe('db\nnamed\n');
  expect(ok(vol(['prune', '-f', '--filter', 'all=true', '--filter', 'label!=tier=db']))).toBe('Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n');
  expect(ok(vol(['prune', '--filter', 'all=1'], 'y\n'))).toBe('WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] Deleted Volumes:\ndb\n\nTotal reclaimed space: 0B\n');
  expect(ok(vol(['ls', '-q']))).toBe('');
  expect(vol(['prune', '-f', '--filter', 'all=maybe'])).toEqual({ code: 1, stdout: '', stderr: "Error: invalid filter 'all=maybe': use all=true or all=false\n" });
  expect(vol(['prune', '-f', '--filter', 'all=true', '--filter', 'all=false'])).toEqual({ code: 1, stdout: '', stderr: "Error: invalid filter 'all': both true and false given\n" });
});

test('mistakes are refused with the fix', () => {
  ok(vol(['create', '-l', 'tier=web', 'web']));
  const cases: [string[], string][] = [
    [['create', '-l', 'tier=db', 'web'], 'Error: create web: volume "web" already exists with labels {tier=web}; remove it first (cdk-docker runtime volume rm web) or ask for the same ones\n'],
    [['create', 'a'], 'Error: volume name "a" is not a valid Docker name: use at least two characters, starting with a letter or digit, then letters, digits, "_", "." or "-" (for example "a0")\n'],
    [['create', '--name', 'one', 'two'], 'Error: conflicting options: either specify --name or provide positional arg, not both\n'],
    [['create', '-d', 'nfs', 'files'], 'Error: create files: volume driver "nfs" is not supported: the built-in runtime has only the "local" driver (drop -d/--driver)\n'],
    [['create', '-o', 'foo=bar', 'files'], 'Error: create files: invalid option: "foo": the local driver takes type, device and o (for example -o type=tmpfs -o device=tmpfs -o o=size=10m)\n'],
    [['create', '-o', 'type=tmpfs', 'files'], 'Error: create files: missing required option: "device" (what to mount, e.g. -o device=tmpfs for type tmpfs)\n'],
    [['create', '-l', '=x', 'files'], 'Error: invalid --label "=x": empty name (use --label KEY=VALUE)\n'],
    [['ls', '-f', 'color=red'], "Error: invalid filter 'color': the volume filters are dangling, label, name, driver\n"],
    [['ls', '--format', 'table {{.Name}}'], 'Error: "table" formats are not supported; drop "table" to print one line per volume\n'],
    [['prune', '-a', '-f', '--filter', 'all=1'], 'Error: conflicting options: cannot specify both --all and --filter all=1\n'],
  ];
  for (const [args, stderr] of cases) expect(vol(args)).toEqual({ code: 1, stdout: '', stderr });
  expect(ok(vol(['ls', '-q']))).toBe('web\n');
});
