import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { tarOf } from '../helpers/archive';
import { CliResult, cdkDocker, ok, tempDir, until } from '../helpers/cli';
import { busyboxRootfsTar } from '../helpers/images';
import { privateNetworkConfig } from '../helpers/network';
import { requireCommand } from '../helpers/prereq';

jest.setTimeout(90_000);

/**
 * The Dockerfiles of the Docker books, rebuilt by `cdk-docker runtime build` against a busybox
 * base made offline, and run with `cdk-docker runtime run` — the built CLI on real runc + conmon,
 * as a user types it, in a private state root (networks on 10.194.…).
 */
const BASE = 'books/busybox:base';
const APPLETS = ['sh', 'ls', 'cat', 'echo', 'sleep', 'true', 'false', 'env', 'id', 'pwd', 'test', 'touch', 'mkdir', 'chown', 'stat', 'find', 'sort', 'head', 'wc', 'grep', 'httpd', 'printf', 'seq', 'tr'];

let work: string;
let env: NodeJS.ProcessEnv;
const rt = (args: string[], input?: string): CliResult => cdkDocker(['runtime', ...args], work, env, input);
/** What a user sees of a command: its stdout and stderr together. */
const seen = (r: CliResult) => r.stdout + r.stderr;
/** `runtime build ARGS`; the output must say it succeeded. Returns everything it printed. */
function build(args: string[], input?: string): string {
  const r = rt(['build', ...args], input);
  if (r.code !== 0) throw new Error(`build ${args.join(' ')} exited ${r.code}:\n${seen(r)}`);
  return seen(r);
}
/** The full id of an image. */
const imageId = (ref: string) => ok(rt(['image', 'inspect', '-f', '{{.Id}}', ref])).trim();
/** The Docker-like `image inspect` document of an image. */
const inspectImage = (ref: string) => (JSON.parse(ok(rt(['image', 'inspect', ref]))) as Array<{ Id: string; Author: string; Config: Record<string, unknown> }>)[0];
/** A foreground `run --rm` without a network; the output of a command that must succeed. */
const run = (args: string[]): string => ok(rt(['run', '--rm', '--network', 'none', ...args]));

/** Writes a build context (files relative to it) under the suite's directory; returns its path. */
function context(name: string, files: Record<string, string | Buffer>): string {
  const dir = path.join(work, 'contexts', name);
  for (const [f, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), content);
  }
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** The steps of a legacy-builder output: `Step N/M : INSTR` and whether it said ` ---> Using cache`. */
function steps(output: string): Array<{ n: number; of: number; instruction: string; cached: boolean }> {
  const found: Array<{ n: number; of: number; instruction: string; cached: boolean }> = [];
  for (const line of output.split('\n')) {
    const m = /^Step (\d+)\/(\d+) : (.*)$/.exec(line);
    if (m) found.push({ n: Number(m[1]), of: Number(m[2]), instruction: m[3], cached: false });
    else if (line.trim() === '---> Using cache' && found.length) found[found.length - 1].cached = true;
  }
  return found;
}
/** The `Successfully built <short id>` of an output. */
const builtId = (output: string) => /^Successfully built ([0-9a-f]{12})$/m.exec(output)?.[1];

/** Mount points under this suite's directory (container rootfs, shm, build mounts). */
const mountsUnder = (dir: string) =>
  fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && m.startsWith(dir));
/** Processes (conmon, runc, containers' exit commands) that still mention this suite's directory. */
const monitors = () =>
  fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .map((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        return '';
      }
    })
    .filter((c) => c.includes(work));
/** Every directory under `dir`, up to `depth` levels, relative to it. */
function directories(dir: string, depth = 4, prefix = ''): string[] {
  if (depth === 0 || !fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    out.push(`${prefix}${e.name}`);
    out.push(...directories(path.join(dir, e.name), depth - 1, `${prefix}${e.name}/`));
  }
  return out;
}

beforeAll(() => {
  requireCommand('runc', 'runc');
  requireCommand('conmon', 'conmon');
  requireCommand('netavark', 'netavark', ['/usr/lib/podman']);
  work = tempDir('cdk-docker-build-books-');
  env = { CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') };
  privateNetworkConfig(path.join(work, 'root'), 194);
  const rootfs = busyboxRootfsTar(work, APPLETS);
  ok(rt(['import', '-c', 'CMD ["sh"]', '-c', 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin', rootfs, BASE]));
});

afterAll(async () => {
  if (!work) return;
  const all = rt(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (all.length) rt(['rm', '-f', ...all]);
  await until('the monitors of this suite to exit', () => monitors().length === 0, 15_000, () => monitors().join('\n'));
  const left = mountsUnder(work);
  fs.rmSync(work, { recursive: true, force: true });
  expect(left).toEqual([]);
});

test('CMD vs ENTRYPOINT: arguments after the image append to an ENTRYPOINT and replace a CMD', () => {
  const dir = context('cmd-entrypoint', {
    'cmd.Dockerfile': `FROM ${BASE}\nCMD ["echo", "cmd"]\n`,
    'entry.Dockerfile': `FROM ${BASE}\nENTRYPOINT ["echo", "entry"]\n`,
    'both.Dockerfile': `FROM ${BASE}\nENTRYPOINT ["echo", "entry"]\nCMD ["default"]\n`,
    'shell-entry.Dockerfile': `FROM ${BASE}\nENTRYPOINT echo shell-form\nCMD ["ignored"]\n`,
    'shell-cmd.Dockerfile': `FROM ${BASE}\nENV WHO=books\nCMD echo hello $WHO\n`,
  });
  for (const name of ['cmd', 'entry', 'both', 'shell-entry', 'shell-cmd']) build(['-t', `books/${name}:1`, '-f', path.join(dir, `${name}.Dockerfile`), dir]);

  expect(run(['books/cmd:1'])).toBe('cmd\n');
  // `run IMAGE -h` replaces the CMD: "-h" is the command, which does not exist.
  const replaced = rt(['run', '--rm', '--network', 'none', 'books/cmd:1', '-h']);
  expect(replaced.code).not.toBe(0);
  expect(replaced.stdout).toBe('');
  expect(run(['books/cmd:1', 'echo', 'replaced'])).toBe('replaced\n');

  expect(run(['books/entry:1'])).toBe('entry\n');
  expect(run(['books/entry:1', '-h'])).toBe('entry -h\n');
  expect(run(['books/both:1'])).toBe('entry default\n');
  expect(run(['books/both:1', '-h'])).toBe('entry -h\n');

  // A shell-form ENTRYPOINT ignores CMD and the arguments of run.
  expect(inspectImage('books/shell-entry:1').Config).toMatchObject({ Entrypoint: ['/bin/sh', '-c', 'echo shell-form'], Cmd: ['ignored'] });
  expect(run(['books/shell-entry:1'])).toBe('shell-form\n');
  expect(run(['books/shell-entry:1', '-h'])).toBe('shell-form\n');

  expect(inspectImage('books/shell-cmd:1').Config).toMatchObject({ Cmd: ['/bin/sh', '-c', 'echo hello $WHO'] });
  expect(run(['books/shell-cmd:1'])).toBe('hello books\n');
});

test('ENV is used by later instructions, kept at run time and overridden by -e; substitution, continuations, comments, exec-form RUN', () => {
  const dir = context('env', {
    Dockerfile: [
      `FROM ${BASE}`,
      '# the books set the application home once and use it everywhere',
      'ENV APP_HOME=/srv/app GREETING="hello world"',
      'ENV LEGACY old syntax value',
      'ENV FALLBACK=${NOT_SET:-fallback} ALTERNATE=${APP_HOME:+set} EMPTY_ALT=${NOT_SET:+never}',
      'WORKDIR $APP_HOME',
      'COPY greeting.txt ${APP_HOME}/in/',
      'RUN echo "$GREETING from $APP_HOME" > built.txt \\',
      '    && echo one \\',
      '       two > continued.txt',
      'RUN ["sh", "-c", "echo exec-form $LEGACY > exec.txt"]',
      'RUN ["echo", "$GREETING"]',
      '',
    ].join('\n'),
    'greeting.txt': 'copied\n',
  });
  const output = build(['-t', 'books/env:1', dir]);
  // Exec form: no shell, so no substitution by the builder either.
  expect(output).toContain('$GREETING\n');

  expect(run(['books/env:1', 'cat', '/srv/app/built.txt', '/srv/app/continued.txt', '/srv/app/exec.txt', '/srv/app/in/greeting.txt'])).toBe('hello world from /srv/app\none two\nexec-form old syntax value\ncopied\n');
  expect(run(['books/env:1', 'sh', '-c', 'echo "$GREETING|$LEGACY|$FALLBACK|$ALTERNATE|$EMPTY_ALT|$(pwd)"'])).toBe('hello world|old syntax value|fallback|set||/srv/app\n');
  expect(run(['-e', 'GREETING=overridden', 'books/env:1', 'sh', '-c', 'echo "$GREETING $APP_HOME"'])).toBe('overridden /srv/app\n');
  expect(inspectImage('books/env:1').Config.Env).toEqual(expect.arrayContaining(['APP_HOME=/srv/app', 'GREETING=hello world', 'LEGACY=old syntax value', 'FALLBACK=fallback', 'ALTERNATE=set', 'EMPTY_ALT=']));
});

test('ARG: defaults, --build-arg for declared args only (an undeclared one is warned about), ARG before FROM, proxy args, not kept at run time', () => {
  const dir = context('arg', {
    Dockerfile: [
      `ARG BASE=${BASE}`,
      'FROM $BASE',
      'ARG VERSION=1.0',
      'ARG FLAVOR',
      'ENV BUILT_VERSION=$VERSION',
      'RUN echo "version=$VERSION flavor=$FLAVOR undeclared=$UNDECLARED proxy=$HTTP_PROXY" > /args.txt',
      '',
    ].join('\n'),
  });
  const defaults = build(['-t', 'books/arg:default', dir]);
  expect(defaults).not.toMatch(/warn/i);
  expect(run(['books/arg:default', 'cat', '/args.txt'])).toBe('version=1.0 flavor= undeclared= proxy=\n');

  const given = build(['-t', 'books/arg:given', '--build-arg', 'VERSION=2.0', '--build-arg', 'FLAVOR=slim', '--build-arg', 'UNDECLARED=x', '--build-arg', 'HTTP_PROXY=http://proxy.invalid:3128', dir]);
  expect(run(['books/arg:given', 'cat', '/args.txt'])).toBe('version=2.0 flavor=slim undeclared= proxy=http://proxy.invalid:3128\n');
  const warnings = given.split('\n').filter((l) => /warn/i.test(l));
  expect(warnings.join('\n')).toContain('UNDECLARED');
  expect(warnings.join('\n')).not.toContain('HTTP_PROXY'); // a predefined arg needs no ARG
  // A different value is a cache miss for the RUN that sees it.
  expect(steps(given).find((s) => s.instruction.startsWith('RUN'))?.cached).toBe(false);

  // Args are build-time only; an ENV that captured one keeps the value.
  expect(run(['books/arg:given', 'sh', '-c', 'echo "[$VERSION][$FLAVOR][$BUILT_VERSION][$HTTP_PROXY]"'])).toBe('[][][2.0][]\n');
  expect((inspectImage('books/arg:given').Config.Env as string[]).filter((e) => /VERSION|FLAVOR|PROXY/.test(e))).toEqual(['BUILT_VERSION=2.0']);
});

test('ADD extracts a local tar (plain and gzip); COPY of the same tar copies the file; ADD of a URL downloads it unextracted', async () => {
  const tar = await tarOf([
    { name: 'payload/', type: 'directory' },
    { name: 'payload/a.txt', content: 'from the archive\n' },
    { name: 'payload/run.sh', content: '#!/bin/sh\necho ran\n', mode: 0o755 },
  ]);
  const dir = context('add-copy', {
    'files.tar': tar,
    'files.tar.gz': zlib.gzipSync(tar),
    Dockerfile: `FROM ${BASE}\nADD files.tar /added/\nADD files.tar.gz /added-gz/\nCOPY files.tar /copied/\n`,
  });
  build(['-t', 'books/add:1', dir]);
  expect(run(['books/add:1', 'cat', '/added/payload/a.txt', '/added-gz/payload/a.txt'])).toBe('from the archive\nfrom the archive\n');
  expect(run(['books/add:1', '/added/payload/run.sh'])).toBe('ran\n');
  expect(run(['books/add:1', 'ls', '/added', '/added-gz', '/copied'])).toBe('/added:\npayload\n\n/added-gz:\npayload\n\n/copied:\nfiles.tar\n');
  expect(run(['books/add:1', 'stat', '-c', '%s', '/copied/files.tar'])).toBe(`${tar.length}\n`);

  // A URL: downloaded by the builder (from the host), kept as a file even when it is a tar.
  const server = await serve(path.join(dir));
  try {
    const remote = context('add-url', { Dockerfile: `FROM ${BASE}\nADD http://127.0.0.1:${server.port}/files.tar /remote/\n` });
    build(['-t', 'books/add-url:1', remote]);
  } finally {
    server.stop();
  }
  expect(run(['books/add-url:1', 'ls', '/remote'])).toBe('files.tar\n');
  expect(run(['books/add-url:1', 'stat', '-c', '%s', '/remote/files.tar'])).toBe(`${tar.length}\n`);
});

test('WORKDIR and USER: pwd and id -u at run time, files made by RUN belong to the USER, COPY --chown', () => {
  const dir = context('workdir-user', {
    Dockerfile: [
      `FROM ${BASE}`,
      'WORKDIR /a',
      'WORKDIR b',
      'WORKDIR c',
      'RUN pwd > /pwd-at-build',
      'RUN mkdir /data && chown 65534:65534 /data',
      'COPY --chown=65534:65534 note.txt /data/',
      'COPY note.txt /data/root-note.txt',
      'USER nobody',
      'RUN touch /data/made-by-user && id -u > /data/uid-at-build',
      'USER 1234:1234',
      '',
    ].join('\n'),
    'note.txt': 'note\n',
  });
  build(['-t', 'books/workdir:1', dir]);
  expect(run(['books/workdir:1', 'pwd'])).toBe('/a/b/c\n');
  expect(run(['books/workdir:1', 'id', '-u'])).toBe('1234\n');
  expect(run(['books/workdir:1', 'cat', '/pwd-at-build', '/data/uid-at-build'])).toBe('/a/b/c\n65534\n');
  expect(run(['books/workdir:1', 'stat', '-c', '%n %u:%g', '/data/made-by-user', '/data/note.txt', '/data/root-note.txt'])).toBe('/data/made-by-user 65534:65534\n/data/note.txt 65534:65534\n/data/root-note.txt 0:0\n');
  expect(inspectImage('books/workdir:1').Config).toMatchObject({ WorkingDir: '/a/b/c', User: '1234:1234' });
  // -u and -w still win over the image's.
  expect(run(['-u', '0', '-w', '/data', 'books/workdir:1', 'sh', '-c', 'echo $(id -u) $(pwd)'])).toBe('0 /data\n');
});

test('ONBUILD triggers run in the child build, once, and not in the grandchild', () => {
  const parent = context('onbuild-parent', {
    Dockerfile: `FROM ${BASE}\nONBUILD RUN echo triggered >> /onbuild.log\nONBUILD COPY marker.txt /marker.txt\nCMD ["sh"]\n`,
  });
  build(['-t', 'books/onbuild-parent:1', parent]);
  expect(inspectImage('books/onbuild-parent:1').Config.OnBuild).toEqual(['RUN echo triggered >> /onbuild.log', 'COPY marker.txt /marker.txt']);
  // Triggers do not run in the image that declares them.
  expect(rt(['run', '--rm', '--network', 'none', 'books/onbuild-parent:1', 'test', '-e', '/onbuild.log']).code).toBe(1);

  const child = context('onbuild-child', { Dockerfile: 'FROM books/onbuild-parent:1\nRUN echo child >> /onbuild.log\n', 'marker.txt': 'marker from the child context\n' });
  build(['-t', 'books/onbuild-child:1', child]);
  expect(run(['books/onbuild-child:1', 'cat', '/onbuild.log', '/marker.txt'])).toBe('triggered\nchild\nmarker from the child context\n');
  expect(inspectImage('books/onbuild-child:1').Config.OnBuild ?? []).toEqual([]);

  // The grandchild's context has no marker.txt: the COPY trigger would fail if it ran again.
  const grandchild = context('onbuild-grandchild', { Dockerfile: 'FROM books/onbuild-child:1\nRUN echo grandchild >> /onbuild.log\n' });
  build(['-t', 'books/onbuild-grandchild:1', grandchild]);
  expect(run(['books/onbuild-grandchild:1', 'cat', '/onbuild.log'])).toBe('triggered\nchild\ngrandchild\n');
});

test('STOPSIGNAL is honoured by stop: the container traps the signal and exits at once', async () => {
  const dir = context('stopsignal', {
    Dockerfile: `FROM ${BASE}\nSTOPSIGNAL SIGUSR1\nCMD ["sh", "-c", "trap 'echo got USR1; exit 0' USR1; echo ready; while true; do sleep 0.1; done"]\n`,
  });
  build(['-t', 'books/stopsignal:1', dir]);
  expect(inspectImage('books/stopsignal:1').Config.StopSignal).toBe('SIGUSR1');
  ok(rt(['run', '-d', '--network', 'none', '--name', 'books-stopsignal', 'books/stopsignal:1']));
  try {
    await until('the container to trap signals', () => rt(['logs', 'books-stopsignal']).stdout.includes('ready'));
    const started = Date.now();
    // sh as PID 1 ignores an untrapped SIGTERM: only USR1 ends it before the 20 s timeout.
    expect(ok(rt(['stop', '-t', '20', 'books-stopsignal']))).toBe('books-stopsignal\n');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(ok(rt(['logs', 'books-stopsignal']))).toBe('ready\ngot USR1\n');
    expect(ok(rt(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'books-stopsignal']))).toBe('exited 0\n');
  } finally {
    rt(['rm', '-f', 'books-stopsignal']);
  }
});

test('EXPOSE + -P: every exposed port is published on a free host port, shown by port, and answers', async () => {
  const dir = context('expose', {
    Dockerfile: `FROM ${BASE}\nCOPY index.html /www/index.html\nEXPOSE 80 8443/tcp\nEXPOSE 53/udp\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n`,
    'index.html': 'served by a built image\n',
  });
  build(['-t', 'books/expose:1', dir]);
  expect(inspectImage('books/expose:1').Config.ExposedPorts).toEqual({ '80/tcp': {}, '8443/tcp': {}, '53/udp': {} });
  ok(rt(['run', '-d', '-P', '--name', 'books-expose', 'books/expose:1']));
  try {
    const rows = ok(rt(['port', 'books-expose'])).trim().split('\n').sort();
    expect(rows).toEqual([expect.stringMatching(/^53\/udp -> 0\.0\.0\.0:\d+$/), expect.stringMatching(/^80\/tcp -> 0\.0\.0\.0:\d+$/), expect.stringMatching(/^8443\/tcp -> 0\.0\.0\.0:\d+$/)]);
    const port = Number(/:(\d+)\n$/.exec(ok(rt(['port', 'books-expose', '80'])))![1]);
    let body = '';
    await until(`httpd on 127.0.0.1:${port}`, async () => {
      body = await (await fetch(`http://127.0.0.1:${port}/index.html`)).text();
      return true;
    });
    expect(body).toBe('served by a built image\n');
  } finally {
    rt(['rm', '-f', 'books-expose']);
  }
});

test('cache: a second build uses the cache for every step and gives the same id; a changed file rebuilds from its COPY on; --no-cache uses none', () => {
  const dockerfile = `FROM ${BASE}\nENV CACHE_BOOK=1\nRUN echo one > /one\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy-of-app\nCMD ["cat", "/copy-of-app"]\n`;
  const dir = context('cache', { Dockerfile: dockerfile, 'app.txt': 'version 1\n' });
  const first = build(['-t', 'books/cache:1', dir]);
  const id = imageId('books/cache:1');
  expect(steps(first).map((s) => [s.n, s.of, s.instruction, s.cached])).toEqual([
    [1, 6, `FROM ${BASE}`, false],
    [2, 6, 'ENV CACHE_BOOK=1', false],
    [3, 6, 'RUN echo one > /one', false],
    [4, 6, 'COPY app.txt /app.txt', false],
    [5, 6, 'RUN cat /app.txt > /copy-of-app', false],
    [6, 6, 'CMD ["cat", "/copy-of-app"]', false],
  ]);
  expect(builtId(first)).toBe(id.slice(7, 19));
  expect(first).toMatch(/^Successfully tagged books\/cache:1$/m);

  const second = build(['-t', 'books/cache:2', dir]);
  expect(steps(second).map((s) => s.cached)).toEqual([false, true, true, true, true, true]);
  expect(imageId('books/cache:2')).toBe(id);
  expect(builtId(second)).toBe(id.slice(7, 19));

  // Only the content counts, not the modification time.
  fs.utimesSync(path.join(dir, 'app.txt'), new Date(), new Date(Date.now() + 60_000));
  expect(steps(build(['-t', 'books/cache:3', dir])).map((s) => s.cached)).toEqual([false, true, true, true, true, true]);
  expect(imageId('books/cache:3')).toBe(id);

  fs.writeFileSync(path.join(dir, 'app.txt'), 'version 2\n');
  const changed = build(['-t', 'books/cache:4', dir]);
  expect(steps(changed).map((s) => s.cached)).toEqual([false, true, true, false, false, false]);
  expect(imageId('books/cache:4')).not.toBe(id);
  expect(run(['books/cache:4'])).toBe('version 2\n');
  expect(run(['books/cache:1'])).toBe('version 1\n');

  // A changed instruction misses from there on.
  fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile.replace('echo one', 'echo uno'));
  expect(steps(build(['-t', 'books/cache:5', dir])).map((s) => s.cached)).toEqual([false, true, false, false, false, false]);

  const none = build(['--no-cache', '-t', 'books/cache:6', dir]);
  expect(steps(none)).toHaveLength(6);
  expect(none).not.toContain('Using cache');
  expect(run(['books/cache:6'])).toBe('version 2\n');
});

test('multi-stage: COPY --from a stage (by name and index) and an image; only the stages the target needs are built; --target', () => {
  const dir = context('multi-stage', {
    Dockerfile: [
      `FROM ${BASE} AS builder`,
      'RUN echo compiled > /artifact',
      `FROM ${BASE} AS unused`,
      'RUN echo SHOULD-NOT-RUN; exit 1',
      `FROM ${BASE} AS tools`,
      'RUN echo tool > /tool',
      `FROM ${BASE} AS final`,
      'COPY --from=builder /artifact /app/artifact',
      'COPY --from=2 /tool /app/tool',
      `COPY --from=${BASE} /bin/busybox /app/busybox`,
      'CMD ["cat", "/app/artifact", "/app/tool"]',
      '',
    ].join('\n'),
  });
  const output = build(['-t', 'books/multi:1', dir]);
  expect(output).not.toContain('SHOULD-NOT-RUN');
  expect(run(['books/multi:1'])).toBe('compiled\ntool\n');
  expect(run(['books/multi:1', 'test', '-x', '/app/busybox'])).toBe('');
  expect(rt(['run', '--rm', '--network', 'none', 'books/multi:1', 'test', '-e', '/artifact']).code).toBe(1);

  const target = build(['--target', 'builder', '-t', 'books/multi:builder', dir]);
  expect(target).not.toContain('SHOULD-NOT-RUN');
  expect(target).not.toContain('COPY --from');
  expect(run(['books/multi:builder', 'cat', '/artifact'])).toBe('compiled\n');
  expect(rt(['run', '--rm', '--network', 'none', 'books/multi:builder', 'test', '-e', '/app']).code).toBe(1);

  // The stage that fails is built when it is the target (--force-rm: its step container goes too).
  const failing = rt(['build', '--force-rm', '--target', 'unused', '-t', 'books/multi:unused', dir]);
  expect(failing.code).not.toBe(0);
  expect(seen(failing)).toContain('SHOULD-NOT-RUN');
  const unknown = rt(['build', '--target', 'nosuchstage', dir]);
  expect(unknown.code).not.toBe(0);
  expect(unknown.stderr).toContain('nosuchstage');
});

test('.dockerignore keeps files out of the context (and out of the cache key); an ignored file cannot be copied', () => {
  const dir = context('dockerignore', {
    '.dockerignore': '# what the books leave out\nsecret.env\n*.log\n**/*.log\n!keep.log\nnode_modules\nsrc/tmp\nDockerfile\n.dockerignore\n',
    Dockerfile: `FROM ${BASE}\nCOPY . /ctx/\n`,
    'app.txt': 'app\n',
    'secret.env': 'PASSWORD=hunter2\n',
    'debug.log': 'debug\n',
    'keep.log': 'kept\n',
    'logs/deep/x.log': 'deep\n',
    'node_modules/dep/index.js': 'module.exports = 1;\n',
    'src/main.txt': 'main\n',
    'src/tmp/scratch.txt': 'scratch\n',
    'copy-secret.Dockerfile': `FROM ${BASE}\nCOPY secret.env /\n`,
  });
  // The Dockerfile is ignored too: the builder still reads it, COPY does not copy it.
  build(['-t', 'books/ignore:1', dir]);
  expect(run(['books/ignore:1', 'find', '/ctx']).trim().split('\n').sort()).toEqual(['/ctx', '/ctx/app.txt', '/ctx/copy-secret.Dockerfile', '/ctx/keep.log', '/ctx/logs', '/ctx/logs/deep', '/ctx/src', '/ctx/src/main.txt']);

  // A change to an ignored file is no change to the context.
  fs.writeFileSync(path.join(dir, 'secret.env'), 'PASSWORD=changed\n');
  expect(steps(build(['-t', 'books/ignore:2', dir])).map((s) => s.cached)).toEqual([false, true]);

  const refused = rt(['build', '-f', path.join(dir, 'copy-secret.Dockerfile'), dir]);
  expect(refused.code).not.toBe(0);
  expect(seen(refused)).toContain('secret.env');
});

test('a failing RUN: its exit code and output tail in the error, nothing tagged; its container stays as Docker\'s until rm, --force-rm leaves no container, mount or directory', () => {
  const dir = context('failing-run', {
    'ok.Dockerfile': `FROM ${BASE}\nRUN echo warm-up > /warm\n`,
    Dockerfile: `FROM ${BASE}\nRUN for i in $(seq 1 40); do echo "noise line $i"; done; echo "the last words" >&2; exit $((3 + 4))\nCMD ["sh"]\n`,
  });
  // A successful build first, so that whatever a build keeps for good exists already.
  build(['-t', 'books/warm:1', '-f', path.join(dir, 'ok.Dockerfile'), dir]);
  const before = { root: directories(env.CDK_DOCKER_ROOT!), run: directories(env.CDK_DOCKER_RUNROOT!) };
  expect(ok(rt(['ps', '-aq']))).toBe('');

  const r = rt(['build', '-t', 'books/fail:1', dir]);
  expect(r.code).toBe(7); // the step's code, as Docker's legacy builder (issue 12)
  // The error itself (not only the streamed output) names the instruction, the exit code and the tail.
  expect(r.stderr).toMatch(/(non-zero code|exit code|exited with code|exit status)\D{0,3}7\b/i);
  expect(r.stderr).toContain('seq 1 40');
  expect(r.stderr).toContain('the last words');
  expect(r.stderr).toContain('noise line 40');
  expect(seen(r)).not.toMatch(/Successfully (built|tagged)/);

  expect(rt(['image', 'inspect', 'books/fail:1']).code).toBe(1);
  expect(ok(rt(['images'])).split('\n').filter((l) => l.startsWith('books/fail'))).toEqual([]);
  // Docker's classic builder keeps the failed step's container (issue 12): an exited container of its own.
  const kept = /Running in ([0-9a-f]{12})/.exec(r.stdout)![1];
  expect(ok(rt(['ps', '-a', '--format', '{{.ID}} {{.Status}}']))).toMatch(new RegExp(`^${kept} Exited \\(7\\) [^\n]*\n$`));
  ok(rt(['rm', '-v', kept]));
  expect(mountsUnder(work)).toEqual([]);
  expect({ root: directories(env.CDK_DOCKER_ROOT!), run: directories(env.CDK_DOCKER_RUNROOT!) }).toEqual(before);

  const forced = rt(['build', '--force-rm', '-t', 'books/fail:1', dir]);
  expect(forced.code).toBe(7);
  expect(forced.stdout).toMatch(/Removing intermediate container [0-9a-f]{12}\n$/);
  expect(ok(rt(['ps', '-aq']))).toBe('');
  expect(mountsUnder(work)).toEqual([]);
  expect({ root: directories(env.CDK_DOCKER_ROOT!), run: directories(env.CDK_DOCKER_RUNROOT!) }).toEqual(before);
});

test('bad Dockerfiles: an unknown instruction names file and line; an unknown base image and a path outside the context are clear errors', () => {
  const dir = context('bad', {
    Dockerfile: `FROM ${BASE}\n# a comment\nFROMM ${BASE}\n`,
    'no-base.Dockerfile': 'FROM 127.0.0.1:1/books/nosuchimage:1\n',
    'outside.Dockerfile': `FROM ${BASE}\nCOPY ../outside.txt /\n`,
  });
  fs.writeFileSync(path.join(work, 'contexts', 'outside.txt'), 'not in the context\n');

  const unknown = rt(['build', dir]);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toMatch(/Dockerfile/);
  expect(unknown.stderr).toMatch(/Dockerfile:3\b|line 3\b/);
  expect(unknown.stderr).toMatch(/FROMM/i);

  const noBase = rt(['build', '-f', path.join(dir, 'no-base.Dockerfile'), dir]);
  expect(noBase.code).toBe(1);
  expect(noBase.stderr).toContain('127.0.0.1:1/books/nosuchimage:1');

  const outside = rt(['build', '-f', path.join(dir, 'outside.Dockerfile'), dir]);
  expect(outside.code).toBe(1);
  expect(outside.stderr).toMatch(/outside\.txt/);
  expect(outside.stderr).toMatch(/outside the build context|outside of the build context|outside the context/i);
});

test('LABEL, MAINTAINER, VOLUME, HEALTHCHECK and SHELL end up in the image; --label, -q, -f and a Dockerfile on stdin', () => {
  const dir = context('metadata', {
    'meta.Dockerfile': [
      `FROM ${BASE}`,
      'MAINTAINER Docker Books <books@example.com>',
      'LABEL version="1.0" description="a book \\"example\\"" multi.word="a b"',
      'LABEL other=x',
      'VOLUME ["/data", "/cache"]',
      'VOLUME /logs',
      'HEALTHCHECK --interval=5s --timeout=3s --retries=2 CMD test -e /tmp || exit 1',
      'SHELL ["/bin/sh", "-xc"]',
      'RUN echo traced',
      'CMD echo with the new shell',
      '',
    ].join('\n'),
  });
  const output = build(['-t', 'books/meta:1', '--label', 'built.by=build-books', '--label', 'other=from-cli', '-f', path.join(dir, 'meta.Dockerfile'), dir]);
  expect(output).toContain('+ echo traced');
  const doc = inspectImage('books/meta:1');
  expect(doc.Author).toBe('Docker Books <books@example.com>');
  expect(doc.Config).toMatchObject({
    Labels: { version: '1.0', description: 'a book "example"', 'multi.word': 'a b', other: 'from-cli', 'built.by': 'build-books' },
    Volumes: { '/data': {}, '/cache': {}, '/logs': {} },
    Healthcheck: { Test: ['CMD-SHELL', 'test -e /tmp || exit 1'], Interval: 5_000_000_000, Timeout: 3_000_000_000, Retries: 2 },
    Shell: ['/bin/sh', '-xc'],
    Cmd: ['/bin/sh', '-xc', 'echo with the new shell'],
  });

  // -q prints the id only.
  const quiet = rt(['build', '-q', '-f', path.join(dir, 'meta.Dockerfile'), dir]);
  expect(quiet).toMatchObject({ code: 0, stdout: expect.stringMatching(/^sha256:[0-9a-f]{64}\n$/) });

  // A Dockerfile on stdin, no context.
  build(['-t', 'books/stdin:1', '-'], `FROM ${BASE}\nRUN echo from-stdin > /stdin.txt\n`);
  expect(run(['books/stdin:1', 'cat', '/stdin.txt'])).toBe('from-stdin\n');
});

test('RUN joins the build network: the default bridge gives it an eth0, --network none only a loopback interface', () => {
  const dir = context('network', { Dockerfile: `FROM ${BASE}\nRUN grep -o '^ *[a-z0-9]*:' /proc/net/dev | tr -d ' :' | sort > /interfaces\n` });
  build(['-t', 'books/net:default', dir]);
  expect(run(['books/net:default', 'cat', '/interfaces'])).toBe('eth0\nlo\n');
  // As in Docker, the network is no part of the cache key: without --no-cache this would be a hit.
  build(['--no-cache', '--network', 'none', '-t', 'books/net:none', dir]);
  expect(run(['books/net:none', 'cat', '/interfaces'])).toBe('lo\n');
});

test('history: one row per instruction, newest first, with CREATED BY and SIZE', () => {
  const dir = context('history', {
    Dockerfile: `FROM ${BASE}\nENV HISTORY_BOOK=1\nRUN head -c 1048576 /dev/zero > /megabyte\nCOPY app.txt /app.txt\nEXPOSE 8080\nCMD ["cat", "/app.txt"]\n`,
    'app.txt': 'history\n',
  });
  build(['-t', 'books/history:1', dir]);
  const base = historyRows('books/busybox:base');
  const rows = historyRows('books/history:1');
  expect(rows).toHaveLength(base.length + 5);
  expect(rows[0].image).toBe(imageId('books/history:1'));
  expect(rows.slice(5).map((r) => r.createdBy)).toEqual(base.map((r) => r.createdBy));
  const [cmd, expose, copy, runRow, envRow] = rows;
  expect(cmd.createdBy).toMatch(/CMD \["cat", ?"\/app\.txt"\]/);
  expect(expose.createdBy).toMatch(/EXPOSE.*8080/);
  expect(copy.createdBy).toMatch(/COPY .*\/app\.txt/);
  expect(runRow.createdBy).toContain('head -c 1048576 /dev/zero > /megabyte');
  expect(envRow.createdBy).toMatch(/ENV HISTORY_BOOK=1/);
  expect([cmd.size, expose.size, envRow.size]).toEqual(['0B', '0B', '0B']);
  expect(runRow.size).toMatch(/^1\.0\dMB$/);
  expect(copy.size).not.toBe('0B');
});

/** The rows of `runtime history --no-trunc`, cut at the header's column starts. */
function historyRows(ref: string): Array<{ image: string; createdBy: string; size: string }> {
  const [header, ...lines] = ok(rt(['history', '--no-trunc', ref])).trimEnd().split('\n');
  const at = (name: string) => header.indexOf(name);
  const cut = (l: string, from: string, to: string) => l.slice(at(from), at(to)).trim();
  return lines.map((l) => ({ image: cut(l, 'IMAGE', 'CREATED'), createdBy: cut(l, 'CREATED BY', 'SIZE'), size: cut(l, 'SIZE', 'COMMENT') }));
}

/** A static file server on 127.0.0.1 in a child process (the CLI runs synchronously here). */
async function serve(dir: string): Promise<{ port: number; stop(): void }> {
  const script = `const http=require('http'),fs=require('fs'),path=require('path');const s=http.createServer((q,r)=>{fs.readFile(path.join(${JSON.stringify(dir)},decodeURIComponent(q.url)),(e,b)=>{if(e){r.statusCode=404;r.end();}else{r.setHeader('Content-Type','application/x-tar');r.end(b);}});});s.listen(0,'127.0.0.1',()=>console.log(s.address().port));`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (c) => reject(new Error(`file server exited ${c}`)));
  });
  return { port, stop: () => child.kill('SIGTERM') };
}
