/**
 * Issue 12, items 3, 8 and 9 (info, login): `rmi` conflicts, containers waiting to restart,
 * `info` and the prompting `login`, driven through the CLI and compared side by side with a
 * private Docker 20.10 daemon where Docker can run the same commands.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, CliResult, cdkDocker, ok, sleep, tempDir, until } from '../helpers/cli';
import { DOCKER_2010, startDockerd, TestDockerd } from '../helpers/dockerd';
import { requireCommand } from '../helpers/prereq';
import { startRegistry, TestRegistry } from '../helpers/registry';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';

jest.setTimeout(240_000);

let world: StackWorld;
let dockerd: TestDockerd | undefined;
const rt = (args: string[]) => world.rt(args);

beforeAll(async () => {
  world = stackWorld('cdk-docker-parity8-', 246);
  ok(rt(['load', '-i', BASE_ARCHIVE]));
  dockerd = await startDockerd();
  dockerd.docker(['load', '-i', BASE_ARCHIVE]);
});

afterAll(async () => {
  if (dockerd) {
    for (const id of dockerd.docker(['ps', '-aq']).split('\n').filter(Boolean)) dockerd.docker(['rm', '-f', id]);
    await dockerd.stop();
  }
  expect(await tearDownWorld(world)).toEqual([]);
});

/** The same command on Docker (its CLI against the private daemon), as a CliResult. */
function docker(args: string[]): CliResult {
  try {
    return { code: 0, stdout: dockerd!.docker(args), stderr: '' };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, stdout: err.stdout, stderr: err.stderr };
  }
}

type Engine = (args: string[]) => CliResult;

/** Runs a step on an engine and gives what a user sees, with its ids replaced by names. */
function step(engine: Engine, args: string[], ids: Map<string, string>): string {
  const r = engine(args);
  let text = `${r.code}|${r.stdout}|${r.stderr}`.replace(/Error response from daemon: /g, 'Error: ');
  for (const [id, name] of ids) text = text.split(id).join(name).split(id.slice(0, 12)).join(name);
  return text;
}

describe('rmi and image prune leave a container its image, with Docker\'s rules and messages', () => {
  /** The books' sequence around an image a container uses; returns what each step showed. */
  function walk(engine: Engine): string[] {
    const ids = new Map<string, string>();
    const seen: string[] = [];
    const run = (args: string[]) => seen.push(`${args.map((a) => [...ids].find(([id]) => a.length >= 12 && id.startsWith(a))?.[1] ?? a).join(' ')} → ${step(engine, args, ids)}`);
    ok(engine(['tag', 'busybox:examples', 'x']));
    const image = ok(engine(['image', 'inspect', '--format', '{{.Id}}', 'x'])).trim().replace(/^sha256:/, '');
    ids.set(image, '<IMAGE>');
    run(['rmi', 'busybox:examples']);
    const c = ok(engine(['create', '--name', 'c1', '--network', 'none', 'x', 'sleep', '1000'])).trim();
    ids.set(c, '<C1>');
    run(['rmi', 'x']);
    run(['tag', 'x', 'y']);
    run(['rmi', image.slice(0, 12)]);
    run(['start', 'c1']);
    run(['rmi', '-f', image.slice(0, 12)]);
    run(['rmi', 'y']);
    run(['rmi', '-f', 'x']);
    run(['images', '-a', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    // ps shows the container's image by id once its name is gone.
    const psImage = () => ok(engine(['ps', '-a'])).split('\n')[1].split(/ {2,}/)[1];
    seen.push(`ps -a IMAGE → ${ids.get(image) === undefined ? '' : psImage() === image.slice(0, 12) ? '<IMAGE>' : psImage()}`);
    run(['kill', 'c1']);
    run(['start', 'c1']);
    run(['kill', 'c1']);
    run(['rmi', image.slice(0, 12)]);
    ok(engine(['image', 'prune', '-a', '-f']));
    run(['images', '-aq']);
    run(['rm', 'c1']);
    ok(engine(['image', 'prune', '-a', '-f']));
    run(['images', '-aq']);
    return seen;
  }

  afterAll(() => {
    // The walk untags and prunes the base image: the other tests need it back.
    ok(rt(['load', '-i', BASE_ARCHIVE]));
    dockerd!.docker(['load', '-i', BASE_ARCHIVE]);
  });

  test('the same sequence gives the same exit codes and output as Docker 20.10', () => {
    const ours = walk(rt);
    const theirs = walk(docker);
    expect(ours).toEqual(theirs);
    // What the sequence shows, spelled out (the messages of moby's image_delete.go).
    expect(ours).toEqual([
      'rmi busybox:examples → 0|Untagged: busybox:examples\n|',
      'rmi x → 1||Error: conflict: unable to remove repository reference "x" (must force) - container <C1> is using its referenced image <IMAGE>\n',
      'tag x y → 0||',
      'rmi <IMAGE> → 1||Error: conflict: unable to delete <IMAGE> (must be forced) - image is referenced in multiple repositories\n',
      'start c1 → 0|c1\n|',
      'rmi -f <IMAGE> → 1||Error: conflict: unable to delete <IMAGE> (cannot be forced) - image is being used by running container <C1>\n',
      'rmi y → 0|Untagged: y:latest\n|',
      'rmi -f x → 0|Untagged: x:latest\n|',
      'images -a --format {{.Repository}}:{{.Tag}} {{.ID}} → 0|<none>:<none> <IMAGE>\n|',
      'ps -a IMAGE → <IMAGE>',
      'kill c1 → 0|c1\n|',
      'start c1 → 0|c1\n|',
      'kill c1 → 0|c1\n|',
      'rmi <IMAGE> → 1||Error: conflict: unable to delete <IMAGE> (must be forced) - image is being used by stopped container <C1>\n',
      'images -aq → 0|<IMAGE>\n|',
      'rm c1 → 0|c1\n|',
      'images -aq → 0||',
    ]);
  });
});

describe('a --restart=always container waiting to restart', () => {
  /** Starts `name` failing at once under --restart=always and waits until it waits to restart after a few tries. */
  async function restarting(engine: Engine, name: string): Promise<string> {
    const id = ok(engine(['run', '-d', '--name', name, '--network', 'none', '--restart=always', 'busybox:examples', 'sh', '-c', 'exit 3'])).trim();
    const state = () => ok(engine(['inspect', '--format', '{{.State.Status}} {{.RestartCount}}', name])).trim().split(' ');
    // After 3 tries the back-off is 800 ms and more: long enough to act while it waits.
    await until(`${name} waiting to restart`, () => state()[0] === 'restarting' && Number(state()[1]) >= 3, 60_000, () => state().join(' '));
    return id;
  }

  async function walk(engine: Engine): Promise<string[]> {
    const seen: string[] = [];
    const ids = new Map<string, string>();
    const show = (name: string) => {
      const [status, code] = ok(engine(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name])).trim().split(' ');
      return `${status} ${code}`;
    };
    ids.set(await restarting(engine, 'r1'), '<R1>');
    seen.push(`rm r1 → ${step(engine, ['rm', 'r1'], ids)}`);
    seen.push(`kill r1 → ${step(engine, ['kill', 'r1'], ids)}`);
    seen.push(`after kill: ${show('r1')}`);
    // Counted after the kill: on a loaded machine the back-off may end between two commands before it.
    const count = ok(engine(['inspect', '--format', '{{.RestartCount}}', 'r1'])).trim();
    await sleep(3000);
    // No more restarts: still exited, with the same count.
    seen.push(`3 s later: ${show('r1')}, restarted ${ok(engine(['inspect', '--format', '{{.RestartCount}}', 'r1'])).trim() === count ? 'no more' : 'again'}`);
    seen.push(`rm r1 → ${step(engine, ['rm', 'r1'], ids)}`);

    await restarting(engine, 'r2');
    seen.push(`stop r2 → ${step(engine, ['stop', 'r2'], ids)}`);
    seen.push(`after stop: ${show('r2')}`);
    seen.push(`rm r2 → ${step(engine, ['rm', 'r2'], ids)}`);

    await restarting(engine, 'r3');
    seen.push(`kill -s TERM r3 → ${step(engine, ['kill', '-s', 'TERM', 'r3'], ids)}`);
    seen.push(`after kill TERM: ${show('r3')}`);
    seen.push(`rm r3 → ${step(engine, ['rm', 'r3'], ids)}`);

    // The books' cleanup one-liners leave nothing behind.
    await restarting(engine, 'r4');
    const running = ok(engine(['ps', '-q'])).split('\n').filter(Boolean);
    seen.push(`ps -q lists it: ${running.length}`);
    seen.push(`kill $(ps -q) → ${engine(['kill', ...running]).code}`);
    const all = ok(engine(['ps', '-aq'])).split('\n').filter(Boolean);
    seen.push(`rm $(ps -aq) → ${engine(['rm', ...all]).code}`);
    seen.push(`ps -aq → ${JSON.stringify(ok(engine(['ps', '-aq'])))}`);
    return seen;
  }

  test('kill, stop and rm act on it as Docker 20.10 does', async () => {
    const ours = await walk(rt);
    const theirs = await walk(docker);
    expect(ours).toEqual(theirs);
    expect(ours).toEqual([
      'rm r1 → 1||Error: You cannot remove a restarting container <R1>. Stop the container before attempting removal or force remove\n',
      'kill r1 → 0|r1\n|',
      'after kill: exited 3',
      '3 s later: exited 3, restarted no more',
      'rm r1 → 0|r1\n|',
      'stop r2 → 0|r2\n|',
      'after stop: exited 3',
      'rm r2 → 0|r2\n|',
      'kill -s TERM r3 → 0|r3\n|',
      'after kill TERM: exited 3',
      'rm r3 → 0|r3\n|',
      'ps -q lists it: 1',
      'kill $(ps -q) → 0',
      'rm $(ps -aq) → 0',
      'ps -aq → ""',
    ]);
  });
});

describe('info', () => {
  test('shows the engine in Docker\'s Client and Server sections', () => {
    ok(rt(['create', '--name', 'info1', '--network', 'none', 'busybox:examples', 'true']));
    const r = rt(['info']);
    expect(r.code).toBe(0);
    const text = r.stdout;
    expect(text).toMatch(/^Client:\n Context: {4}default\n Debug Mode: false\n\nServer:\n Containers: 1\n {2}Running: 0\n {2}Paused: 0\n {2}Stopped: 1\n Images: 1\n/);
    const version = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
    for (const line of [
      ` Server Version: ${version}`,
      ' Storage Driver: overlay',
      '  Supports d_type: true',
      ' Logging Driver: k8s-file',
      ' Cgroup Driver: cgroupfs',
      ' Runtimes: runc',
      ' Default Runtime: runc',
      '  seccomp',
      '   Profile: default',
      ` Kernel Version: ${os.release()}`,
      ' OSType: linux',
      ` Architecture: ${os.machine()}`,
      ` CPUs: ${os.availableParallelism()}`,
      ` Name: ${os.hostname()}`,
      ` Docker Root Dir: ${world.env.CDK_DOCKER_ROOT}`,
      ' Insecure Registries:',
      '  127.0.0.0/8',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
    expect(text).toMatch(/\n {2}Backing Filesystem: \w+\n/);
    expect(text).toMatch(/\n Operating System: .+\n/);
    expect(text).toMatch(/\n Total Memory: [\d.]+GiB\n/);
    expect(text).toMatch(/\n ID: ([A-Z2-7]{4}:){11}[A-Z2-7]{4}\n/);
    // Docker's section shape: the same keys in the same order as docker info prints them.
    const keys = (t: string) => t.split('\n').filter((l) => /^ [A-Z][^:]*:/.test(l)).map((l) => l.split(':')[0].trim());
    const theirs = keys(dockerd!.docker(['info'])).filter((k) => !['Debug Mode', 'Version', 'Plugins', 'Swarm', 'Init Binary', 'containerd version', 'init version'].includes(k));
    expect(keys(text).filter((k) => theirs.includes(k))).toEqual(theirs.filter((k) => keys(text).includes(k)));
    for (const k of ['Containers', 'Images', 'Server Version', 'Storage Driver', 'Logging Driver', 'Cgroup Driver', 'Cgroup Version', 'Runtimes', 'Default Runtime', 'Security Options', 'Kernel Version', 'Operating System', 'OSType', 'Architecture', 'CPUs', 'Total Memory', 'Name', 'ID', 'Docker Root Dir', 'Insecure Registries']) {
      expect(keys(text)).toContain(k);
    }
    ok(rt(['rm', 'info1']));
  });

  test('--format reads Docker\'s info structure', () => {
    const fields = '{{.NCPU}}|{{.Driver}}|{{.OSType}}|{{.DefaultRuntime}}|{{.CgroupDriver}}|{{.Architecture}}|{{.KernelVersion}}|{{.MemTotal}}';
    const ours = ok(rt(['info', '--format', fields]));
    const theirs = dockerd!.docker(['info', '--format', fields]);
    const [, , ...same] = ours.split('|');
    expect(ours.split('|').slice(0, 1)).toEqual(theirs.split('|').slice(0, 1));
    expect(same).toEqual(theirs.split('|').slice(2));
    expect(ok(rt(['info', '--format', '{{.Driver}} {{.ServerVersion}} {{.DockerRootDir}}']))).toMatch(new RegExp(`^overlay \\d+\\.\\d+\\.\\d+\\S* ${world.env.CDK_DOCKER_ROOT}\\n$`));
    const json = JSON.parse(ok(rt(['info', '--format', '{{json .}}']))) as { [k: string]: unknown };
    const docker = JSON.parse(dockerd!.docker(['info', '--format', '{{json .}}'])) as { [k: string]: unknown };
    for (const k of ['ID', 'Containers', 'ContainersRunning', 'ContainersPaused', 'ContainersStopped', 'Images', 'Driver', 'DriverStatus', 'LoggingDriver', 'CgroupDriver', 'CgroupVersion', 'KernelVersion', 'OperatingSystem', 'OSType', 'Architecture', 'NCPU', 'MemTotal', 'Name', 'DockerRootDir', 'RegistryConfig', 'Runtimes', 'DefaultRuntime', 'SecurityOptions', 'ServerVersion', 'ClientInfo']) {
      expect(Object.keys(json)).toContain(k);
      expect(Object.keys(docker)).toContain(k);
    }
    expect(json).toMatchObject({ Driver: 'overlay', CgroupDriver: 'cgroupfs', DefaultRuntime: 'runc', OSType: 'linux', SecurityOptions: expect.arrayContaining(['name=seccomp,profile=default']), DockerRootDir: world.env.CDK_DOCKER_ROOT });
    expect((json.RegistryConfig as { InsecureRegistryCIDRs: string[] }).InsecureRegistryCIDRs).toEqual(['127.0.0.0/8']);
    expect(rt(['info', '--format', '{{.NoSuchField'])).toMatchObject({ code: 1 });
    expect(ok(rt(['system', 'info', '--format', '{{.NCPU}}']))).toBe(`${os.availableParallelism()}\n`);
  });
});

describe('login prompts on a terminal', () => {
  let registry: TestRegistry | undefined;
  let home: string;
  beforeAll(async () => {
    registry = await startRegistry({ basicAuth: { alice: 's3cret-pw' } });
    home = tempDir('cdk-docker-parity8-home-');
  });
  afterAll(async () => {
    await registry?.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  /**
   * `runtime login HOST` inside `script` (a terminal): types each answer once its prompt is on
   * the screen, as a user does, and returns the screen and the exit code.
   */
  async function loginOnTerminal(args: string, answers: Array<[prompt: string, answer: string]>, command = `${CLI} runtime login`): Promise<{ code: number; screen: string }> {
    requireCommand('script', 'bsdutils');
    const child = spawn('script', ['-qec', `${command} ${args}`, '/dev/null'], { env: { ...process.env, ...world.env, DOCKER_CONFIG: home, DOCKER_HOST: dockerd!.host, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.on('data', (d) => (screen += d));
    child.stderr.on('data', (d) => (screen += d));
    const exited = new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
    try {
      for (const [prompt, answer] of answers) {
        await until(`the prompt ${JSON.stringify(prompt)}`, () => screen.endsWith(prompt), 20_000, () => screen);
        child.stdin.write(`${answer}\r`);
      }
      return { code: await exited, screen };
    } finally {
      // A prompt that never came leaves no login waiting on its terminal.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      child.stdin.end();
    }
  }

  test('asks for the username, then the password without echoing it', async () => {
    const theirs = await loginOnTerminal(registry!.host, [['Username: ', 'alice'], ['Password: ', 's3cret-pw']], `${DOCKER_2010} login`);
    fs.rmSync(path.join(home, 'config.json'));
    const { code, screen } = await loginOnTerminal(registry!.host, [['Username: ', 'alice'], ['Password: ', 's3cret-pw']]);
    const warning = `WARNING! Your password will be stored unencrypted in ${home}/config.json.\r\nConfigure a credential helper to remove this warning. See\r\nhttps://docs.docker.com/engine/reference/commandline/login/#credentials-store\r\n\r\n`;
    expect(screen).toBe(`Username: alice\r\nPassword: \r\n${warning}Login Succeeded\r\n`);
    expect(code).toBe(0);
    expect({ code, screen }).toEqual(theirs);
    const auths = (JSON.parse(fs.readFileSync(path.join(home, 'config.json'), 'utf8')) as { auths: { [k: string]: { auth: string } } }).auths;
    expect(Buffer.from(auths[registry!.host].auth, 'base64').toString()).toBe('alice:s3cret-pw');
  });

  test('with -u, asks only for the password; a wrong one fails as a login failure', async () => {
    const { code, screen } = await loginOnTerminal(`-u alice ${registry!.host}`, [['Password: ', 'wrong']]);
    expect(screen).toMatch(/^Password: \r\nError: .*\r\n$/);
    expect(screen).not.toContain('wrong');
    expect(code).toBe(1);
  });

  test('without a terminal and without a password, Docker\'s error', () => {
    const empty = tempDir('cdk-docker-parity8-empty-');
    try {
      for (const args of [[registry!.host], ['-u', 'alice', registry!.host]]) {
        const r = cdkDocker(['runtime', 'login', ...args], world.work, { ...world.env, DOCKER_CONFIG: empty });
        expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'Error: Cannot perform an interactive login from a non TTY device\n' });
        expect(dockerWith(empty, ['login', ...args])).toMatchObject({ code: 1, stdout: '', stderr: 'Error: Cannot perform an interactive login from a non TTY device\n' });
      }
      expect(cdkDocker(['runtime', 'login', '--password-stdin', registry!.host], world.work, { ...world.env, DOCKER_CONFIG: empty })).toMatchObject({ code: 1, stderr: 'Error: Must provide --username with --password-stdin\n' });
      expect(fs.readdirSync(empty)).toEqual([]);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  test('stored credentials are tried first, as Docker does; failing ones lead to the prompt with the stored username', async () => {
    // `home` holds alice's credentials from the first test: no terminal is needed.
    const r = cdkDocker(['runtime', 'login', registry!.host], world.work, { ...world.env, DOCKER_CONFIG: home });
    expect(r).toMatchObject({ code: 0, stdout: 'Authenticating with existing credentials...\nLogin Succeeded\n', stderr: expect.stringMatching(/^WARNING! Your password will be stored unencrypted in /) });
    expect(dockerWith(home, ['login', registry!.host])).toEqual(r);
    // Stale credentials: Docker says so and asks, offering the stored username.
    fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify({ auths: { [registry!.host]: { auth: Buffer.from('alice:old-pw').toString('base64') } } }));
    const { code, screen } = await loginOnTerminal(registry!.host, [['Username (alice): ', ''], ['Password: ', 's3cret-pw']]);
    expect(screen).toMatch(/^Authenticating with existing credentials\.\.\.\r\nLogin did not succeed, error: .*401.*\r\nUsername \(alice\): \r\nPassword: \r\nWARNING! Your password will be stored unencrypted in [^\r]*\r\n(.*\r\n){3}Login Succeeded\r\n$/);
    expect(code).toBe(0);
    const auths = (JSON.parse(fs.readFileSync(path.join(home, 'config.json'), 'utf8')) as { auths: { [k: string]: { auth: string } } }).auths;
    expect(Buffer.from(auths[registry!.host].auth, 'base64').toString()).toBe('alice:s3cret-pw');
  });

  /**
   * Docker 20.10's own CLI (the docker.io package's, not a newer one earlier on PATH), against the
   * private daemon, with its own client config directory: login is decided by the client.
   */
  function dockerWith(config: string, args: string[]): CliResult {
    const r = spawnSync(DOCKER_2010, args, { env: { ...process.env, DOCKER_HOST: dockerd!.host, DOCKER_CONFIG: config }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000, killSignal: 'SIGKILL' });
    return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
  }
});
