import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { CliResult, cdkDocker, ok } from '../helpers/cli';
import { DOCKER_2010, TestDockerd, startDockerd } from '../helpers/dockerd';
import { TestRegistry, startRegistry } from '../helpers/registry';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';

jest.setTimeout(180_000);

/**
 * `cdk-docker runtime` reads its command line as Docker's client does (issue 12): pflag's flag
 * forms, flags ending at the image, unknown flags, `--net`/`--link`, run/create pulling a missing
 * image, and Docker's exit codes. Where it is cheap the same argv runs on a private dockerd with
 * the same busybox, and the exit codes and messages are compared (program names normalised).
 */
let world: StackWorld;
let dockerd: TestDockerd;
let registry: TestRegistry;
const IMAGE = 'busybox:examples';

/** `docker ARGS` on the private dockerd, as a user sees it. */
const docker = (args: string[]): CliResult => {
  const r = spawnSync('docker', args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: dockerd.host }, timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
};
const rt = (args: string[]): CliResult => world.rt(args);
/** `runtime ARGS` on another private root of this test (containers there use --net=none). */
const rtIn = (root: string, args: string[]): CliResult =>
  cdkDocker(['runtime', ...args], world.work, { CDK_DOCKER_ROOT: path.join(world.work, root), CDK_DOCKER_RUNROOT: path.join(world.work, `${root}-run`) });
/** Our program's names written as Docker's. */
const asDocker = (text: string) => text.replace(/cdk-docker runtime/g, 'docker');

beforeAll(async () => {
  world = stackWorld('cdk-docker-cli-flags-', 236);
  [dockerd, registry] = await Promise.all([startDockerd(), startRegistry()]);
  ok(rt(['load', '-i', BASE_ARCHIVE]));
  dockerd.docker(['load', '-i', BASE_ARCHIVE]);
});

afterAll(async () => {
  if (world) {
    for (const root of ['pull', 'quiet']) {
      const ids = rtIn(root, ['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
      if (ids.length) rtIn(root, ['rm', '-f', ...ids]);
    }
  }
  const left = await tearDownWorld(world);
  await Promise.all([dockerd?.stop(), registry?.stop()]);
  expect(left).toEqual([]);
});

test('short flags with =, glued values and bool groups read as Docker reads them', () => {
  const ctx = path.join(world.work, 'ctx');
  fs.mkdirSync(ctx);
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), `FROM ${IMAGE}\nCMD ["echo", "built"]\n`);
  // The books' own form: the shell leaves -t=flags:1 (quotes gone).
  ok(rt(['build', '-q', '-t="flags:1"'.replace(/"/g, ''), ctx]));
  expect(ok(rt(['image', 'inspect', '-f={{json .RepoTags}}', 'flags:1']))).toBe('["flags:1"]\n');

  for (const cli of [rt, docker]) {
    const r = cli(['run', '--rm', '--net=none', '-e=FOO=bar', '-eBAZ=qux', '-w=/tmp', IMAGE, 'sh', '-c', 'echo $FOO $BAZ $(pwd)']);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'bar qux /tmp\n', '']);
  }
  // -dp: a bool group ending in a value flag; --rm=false and -d=true as pflag's bools.
  const id = ok(rt(['run', '-dp', '127.0.0.1::80', '--rm=false', '--name=grouped', IMAGE, 'sleep', '60'])).trim();
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  expect(ok(rt(['port', 'grouped', '80']))).toMatch(/^127\.0\.0\.1:\d+\n$/);
  expect(ok(rt(['inspect', '-f', '{{.HostConfig.AutoRemove}} {{.State.Running}}', 'grouped']))).toBe('false true\n');
  ok(rt(['rm', 'grouped', '-f']));
});

test('flags after the image are the container\'s, --net is --network', () => {
  ok(rt(['network', 'create', 'app']));
  const r = rt(['run', '-d', '--net=app', '--name', 'zz', IMAGE, 'httpd', '-f', '-h', '/etc']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^[0-9a-f]{64}\n$/);
  expect(ok(rt(['inspect', '-f', '{{.HostConfig.NetworkMode}} {{json .Args}} {{.State.Running}}', 'zz']))).toBe('app ["-f","-h","/etc"] true\n');
  // exec: what follows the container is its command, -h and --foo included.
  expect(rt(['exec', 'zz', 'echo', '-h', '--foo'])).toEqual({ code: 0, stdout: '-h --foo\n', stderr: '' });
  // top: what follows the container are ps options.
  expect(ok(rt(['top', 'zz', '-o', 'pid']))).toMatch(/^\s*PID\n\s*\d+\n$/);
  ok(rt(['rm', '-f', 'zz']));
  // --link NAME[:ALIAS] (repeatable) reaches the engine: on the default network, Docker's legacy
  // links in HostConfig.Links.
  ok(rt(['run', '-d', '--name', 'target', IMAGE, 'sleep', '60']));
  ok(rt(['create', '--name', 'linker', '--link=target:web', '--link', 'target', IMAGE]));
  expect(ok(rt(['inspect', '-f', '{{json .HostConfig.Links}}', 'linker']))).toBe('["/target:/linker/web","/target:/linker/target"]\n');
  ok(rt(['rm', '-f', 'linker', 'target']));
});

test('unknown and incomplete flags fail as Docker\'s: its message, exit 125, nothing created', () => {
  const lines = [
    ['run', '--foo', IMAGE],
    ['run', '-z', IMAGE],
    ['run', '-dz', IMAGE],
    ['run', '-=x', IMAGE],
    ['run', '---x', IMAGE],
    ['run', '--name'],
    ['run', '-e'],
    ['run', '--rm=maybe', IMAGE],
    ['create', '--bogus', IMAGE],
    ['exec', '--foo', 'x', 'true'],
    ['ps', '--bogus'],
    ['build', '--net=host', '.'],
  ];
  for (const argv of lines) {
    const ours = rt(argv);
    const theirs = docker(argv);
    const [first] = ours.stderr.split('\n');
    const command = argv[0] === 'network' ? argv.slice(0, 2).join(' ') : argv[0];
    // Docker 20.10's form (cli.FlagErrorFunc): the error, then where to find help.
    expect(ours.stderr).toBe(`${first}\nSee 'cdk-docker runtime ${command} --help'.\n`);
    // The same error as this docker client's (docker build puts a notice about its legacy
    // builder first: the same line somewhere), and the same exit code.
    expect({ argv, code: ours.code, first: asDocker(first) }).toEqual({ argv, code: theirs.code, first: theirs.stderr.split('\n').find((l) => l === asDocker(first)) ?? theirs.stderr.split('\n')[0] });
    expect(ours.code).toBe(125);
    expect(ours.stdout).toBe('');
  }
  expect(ok(rt(['ps', '-aq']))).toBe('');
});

test('exit codes of run, create, start and exec as Docker\'s', () => {
  const both = (argv: string[]) => ({ argv, ours: rt(argv).code, docker: docker(argv).code });
  const checks = [
    both(['run', '--rm', '--net=none', IMAGE, 'nosuch']), // 127: not found
    both(['run', '--rm', '--net=none', IMAGE, '/etc/passwd']), // 126: not executable
    both(['run', '--net=none', '--pull', 'never', 'nosuch:1']), // 125: no such image
    both(['run', '--net=none', '--pull=bogus', IMAGE]), // 125: bad flag value
    both(['run', '--net=none', '--link', 'a:b:c', IMAGE]), // 125: bad --link
    both(['create', '--net=none', '--pull', 'never', 'nosuch:1']), // 1: the engine's error
    both(['create', '--net=none', '--pull=bogus', IMAGE]), // 125
    both(['start', 'nosuch']), // 1
    both(['exec', 'nosuch', 'true']), // 1
    both(['run', '--rm', '--net=none', '-m', '4m', IMAGE, 'true']), // 125: refused by the engine
    both(['run', '--rm', '--network', 'nosuch', IMAGE, 'true']), // 125: no such network
    both(['create', '--net=none', '-e', '=x', IMAGE]), // 125: a flag value the client refuses
    both(['run', '--rm', '--net=none', '-it', IMAGE, 'true']), // 1: stdin is not a terminal
  ];
  // start of a container whose command is missing: 1, attached or not.
  for (const cli of [rt, docker]) ok(cli(['create', '--net=none', '--name', 'bad', IMAGE, 'nosuch']));
  checks.push(both(['start', 'bad']), both(['start', '-a', 'bad']));
  for (const cli of [rt, docker]) ok(cli(['rm', '-f', 'bad']));
  expect(checks).toEqual(checks.map((c) => ({ ...c, ours: c.docker })));
  expect(checks.map((c) => c.ours)).toEqual([127, 126, 125, 125, 125, 1, 125, 1, 1, 125, 125, 125, 1, 1, 1]);
  expect(asDocker(rt(['run', '--net=none', '--pull=bogus', IMAGE]).stderr)).toContain('invalid pull option: \'bogus\': must be one of "always", "missing" or "never"');
  expect(rt(['run', '--net=none', '--pull', 'never', 'nosuch:1']).stderr).toContain('No such image: nosuch:1');

  for (const cli of [rt, docker]) ok(cli(['run', '-d', '--net=none', '--name', 'ex', IMAGE, 'sleep', '60']));
  // Docker's exec exits 126 for a command it cannot start, a missing one too.
  for (const cmd of ['nosuch', '/etc/passwd']) expect({ cmd, ours: rt(['exec', 'ex', cmd]).code }).toEqual({ cmd, ours: docker(['exec', 'ex', cmd]).code });
  expect(rt(['exec', 'ex', 'nosuch']).code).toBe(126);
  for (const cli of [rt, docker]) ok(cli(['rm', '-f', 'ex']));
  expect(ok(rt(['ps', '-aq']))).toBe('');
});

test('run exits 125 when a published port is taken, and leaves nothing behind', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const r = rt(['run', '-d', '-p', `127.0.0.1:${port}:80`, IMAGE, 'sleep', '60']);
    expect([r.code, r.stdout]).toEqual([125, '']);
    expect(r.stderr).toMatch(/^Error: .*\n$/);
    expect(ok(rt(['ps', '-aq']))).toBe('');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('run and create pull a missing image as Docker\'s, --pull always|missing|never', () => {
  const ref = `${registry.host}/flags/busybox:1`;
  ok(rt(['tag', IMAGE, ref]));
  ok(rt(['push', '-q', ref]));

  const ours = rtIn('pull', ['run', '--rm', '--net=none', ref, 'echo', 'pulled']);
  const theirs = docker(['run', '--rm', '--net=none', ref, 'echo', 'pulled']);
  expect([ours.code, ours.stdout]).toEqual([theirs.code, theirs.stdout]);
  expect(ours.stdout).toBe('pulled\n');
  expect(ours.stderr.split('\n')[0]).toBe(theirs.stderr.split('\n')[0]);
  expect(ours.stderr).toMatch(new RegExp(`^Unable to find image '${ref}' locally\\n1: Pulling from flags/busybox\\n[^]*Status: Downloaded newer image for ${ref}\\n$`));
  expect(ok(rtIn('pull', ['images', '-q', ref]))).not.toBe('');

  // Present: no pull; always: pulled again (up to date); never with a missing tag: Docker's error.
  expect(rtIn('pull', ['run', '--rm', '--net=none', ref, 'true'])).toEqual({ code: 0, stdout: '', stderr: '' });
  const always = rtIn('pull', ['run', '--rm', '--net=none', '--pull=always', ref, 'true']);
  expect([always.code, always.stdout]).toEqual([0, '']);
  expect(always.stderr).toMatch(new RegExp(`^1: Pulling from flags/busybox\\n[^]*Status: Image is up to date for ${ref}\\n$`));
  const never = rtIn('pull', ['run', '--rm', '--net=none', '--pull', 'never', `${registry.host}/flags/busybox:2`, 'true']);
  expect(never.code).toBe(docker(['run', '--rm', '--net=none', '--pull', 'never', `${registry.host}/flags/busybox:2`, 'true']).code);
  expect(never.code).toBe(125);
  expect(never.stderr).toContain(`No such image: ${registry.host}/flags/busybox:2`);

  // create -q: stdout is only the id; stderr only the notice, as Docker's.
  const created = rtIn('quiet', ['create', '-q', '--net=none', ref]);
  expect(created.code).toBe(0);
  expect(created.stdout).toMatch(/^[0-9a-f]{64}\n$/);
  expect(created.stderr).toBe(`Unable to find image '${ref}' locally\n`);
  // A tag the registry does not have: the pull's error, nothing created.
  const missing = rtIn('quiet', ['create', '--net=none', `${registry.host}/flags/nothing:1`]);
  expect(missing.code).toBe(docker(['create', '--net=none', `${registry.host}/flags/nothing:1`]).code);
  expect(missing.stderr.split('\n')[0]).toBe(`Unable to find image '${registry.host}/flags/nothing:1' locally`);
  expect(ok(rtIn('quiet', ['ps', '-aq'])).trim().split('\n')).toHaveLength(1);
});

test('--platform: this host\'s is taken as Docker reads it, another is refused with Docker\'s words or the fix', () => {
  const host = process.arch === 'arm64' ? 'arm64' : 'amd64';
  const foreign = host === 'amd64' ? 'arm64' : 'amd64';
  const docker2010 = (args: string[]): CliResult => {
    const r = spawnSync(DOCKER_2010, args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: dockerd.host }, timeout: 120_000 });
    return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
  };
  // Docker's spellings of this host's platform: any case, an architecture alone, a variant.
  const spellings = [`linux/${host}`, `LINUX/${host.toUpperCase()}`, host, 'linux', `linux/${host}/${host === 'amd64' ? 'v2' : 'v8'}`, ...(host === 'amd64' ? ['linux/x86_64'] : ['linux/aarch64'])];
  for (const p of spellings) {
    for (const [name, cli] of [['ours', rt], ['docker', docker2010]] as const) {
      expect({ p, name, ...cli(['run', '--rm', '--net=none', '--platform', p, IMAGE, 'echo', 'ran']) }).toEqual({ p, name, code: 0, stdout: 'ran\n', stderr: '' });
    }
  }
  // Recorded as Docker records it: the container's Platform is the OS.
  for (const cli of [rt, docker2010]) ok(cli(['create', '--net=none', '--name', 'plat', '--platform', `linux/${host}`, IMAGE]));
  expect(ok(rt(['inspect', '-f', '{{.Platform}}', 'plat']))).toBe(ok(docker2010(['inspect', '-f', '{{.Platform}}', 'plat'])));
  expect(ok(rt(['inspect', '-f', '{{.Platform}}', 'plat']))).toBe('linux\n');
  for (const cli of [rt, docker2010]) ok(cli(['rm', 'plat']));

  // Another platform for an image that is here: Docker's message and exit codes (run 125, create 1).
  const message = (text: string) => text.split('\n')[0].replace(/^(docker: )?(Error( response from daemon)?: )?/, '').replace(/\.$/, '');
  for (const [cmd, code] of [['run', 125], ['create', 1]] as const) {
    const argv = [cmd, '--net=none', '--pull', 'never', '--platform', `linux/${foreign}`, IMAGE, 'true'];
    const [ours, theirs] = [rt(argv), docker2010(argv)];
    expect({ argv, code: ours.code, message: message(ours.stderr) }).toEqual({ argv, code: theirs.code, message: message(theirs.stderr) });
    expect(ours).toEqual({ code, stdout: '', stderr: `Error: image with reference ${IMAGE} was found but does not match the specified platform: wanted linux/${foreign}, actual: linux/${host}\n` });
  }
  // A specifier Docker cannot read: its client's message, exit 125.
  for (const p of ['foo', 'linux/amd64/v1/x']) {
    const argv = ['run', '--rm', '--net=none', '--platform', p, IMAGE, 'true'];
    const [ours, theirs] = [rt(argv), docker2010(argv)];
    expect({ p, code: ours.code, message: message(ours.stderr) }).toEqual({ p, code: theirs.code, message: message(theirs.stderr) });
  }
  expect(rt(['run', '--rm', '--net=none', '--platform', 'foo', IMAGE, 'true']).stderr).toBe('Error: error parsing specified platform: "foo": unknown operating system or architecture: invalid argument\n');
  expect(ok(rt(['ps', '-aq']))).toBe('');

  // An image that is not here is not pulled for another platform (it could not run here).
  const ref = `${registry.host}/flags/platform:1`;
  ok(rt(['tag', IMAGE, ref]));
  ok(rt(['push', '-q', ref]));
  ok(rt(['rmi', ref]));
  const refusal = `--platform linux/${foreign} is not supported: the built-in engine runs images of this host's platform, linux/${host}, and has no emulation; drop --platform or give linux/${host}`;
  expect(rt(['run', '--rm', '--net=none', '--platform', `linux/${foreign}`, ref, 'true'])).toEqual({ code: 125, stdout: '', stderr: `Error: ${refusal}\n` });
  expect(rt(['pull', '--platform', `linux/${foreign}`, ref])).toEqual({ code: 1, stdout: '', stderr: `Error: ${refusal}\n` });
  expect(rt(['build', '--platform', `linux/${foreign}`, '-'])).toMatchObject({ code: 1, stdout: '', stderr: `Error: ${refusal}\n` });
  expect(rt(['images', '-q', ref]).stdout).toBe('');
  // pull's own reading of a bad specifier is the engine's (Docker's daemon message), exit 1.
  const bad = ['pull', '--platform', 'foo', ref];
  expect({ code: rt(bad).code, message: message(rt(bad).stderr) }).toEqual({ code: docker2010(bad).code, message: message(docker2010(bad).stderr) });
  // This host's platform pulls as before.
  expect(rt(['pull', '-q', '--platform', `linux/${host}`, ref])).toEqual({ code: 0, stdout: `${ref}\n`, stderr: '' });
  expect(rt(['run', '--rm', '--net=none', '--platform', `linux/${host}`, ref, 'echo', 'pulled'])).toEqual({ code: 0, stdout: 'pulled\n', stderr: '' });
  ok(rt(['rmi', ref]));
});
