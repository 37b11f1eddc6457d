import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { contextFiles } from '../../lib/plan/hashing';
import { BuildContext, ContextError, sourcesHash } from '../../runtime/build/context';
import { globPattern } from '../../runtime/util/filters';
import { DockerfileError, parseDockerfile } from '../../runtime/dockerfile/dockerfile';
import { parseGoDuration as parseDuration } from '../../lib/core/duration';
import { exposedPorts } from '../../runtime/images/instructions';
import { SubstitutionError, foldContinuations, processWord, processWords, varsOf } from '../../runtime/dockerfile/words';
import { CliResult, cdkDocker, ok, tempDir } from '../helpers/cli';
import { busyboxRootfsTar } from '../helpers/images';
import { privateNetworkConfig } from '../helpers/network';
import { requireCommand } from '../helpers/prereq';

jest.setTimeout(120_000);

// --- unit: words, parsing, context ------------------------------------------------------------

describe('variable substitution', () => {
  const vars = varsOf(['A=1', 'EMPTY=', 'SP=a b']);

  test('plain, braced and modified variables expand as Docker does', () => {
    expect(processWord('$A-${A}x', vars)).toBe('1-1x');
    expect(processWord('${UNSET:-def} ${A:-def} ${EMPTY:-def} ${EMPTY-def}', vars)).toBe('def 1 def ');
    expect(processWord('${A:+set} ${UNSET:+set} ${EMPTY:+set} ${EMPTY+set}', vars)).toBe('set   set');
    expect(processWord('$UNSET', vars)).toBe('');
    expect(processWord('cost $5 and $', vars)).toBe('cost $5 and $');
  });

  test('quotes and the escape character decide what is substituted', () => {
    expect(processWord('\'$A\' "$A" \\$A', vars)).toBe('$A 1 $A');
    expect(processWord('"a \\" \\$A \\n"', vars)).toBe('a " $A \\n');
    expect(processWord('`$A', vars, '`')).toBe('$A');
  });

  test('words split on unquoted whitespace, including what an expansion brings', () => {
    expect(processWords('x "$SP" $SP \'c d\'', vars)).toEqual(['x', 'a b', 'a', 'b', 'c d']);
    expect(processWords('""', vars)).toEqual(['']);
  });

  test('${VAR:?msg} of an unset variable is an error with the message', () => {
    expect(() => processWord('${NOPE:?give NOPE}', vars)).toThrow(new SubstitutionError('NOPE: give NOPE'));
    expect(() => processWord('${A', vars)).toThrow(SubstitutionError);
  });

  test('continuations are joined and comment lines inside them dropped', () => {
    expect(foldContinuations('echo a \\\n  # note\n\n  && echo b')).toBe('echo a   && echo b');
    expect(foldContinuations('echo a `\n b', '`')).toBe('echo a  b');
  });
});

describe('Dockerfile parsing', () => {
  test('stages, meta ARGs, flags, exec forms and pairs as written', () => {
    const df = parseDockerfile('ARG V=1\nFROM busybox:${V} AS Base\nCOPY --from=x --chown=1:2 a /b/\nCMD ["sh", "-c", "echo hi"]\nENV A=1 B="two words"\nFROM base\nRUN echo \\\n  hi\n');
    expect(df.metaArgs.map((a) => a.original)).toEqual(['ARG V=1']);
    expect(df.stages.map((s) => [s.name, s.from.args])).toEqual([['base', 'busybox:${V}'], [undefined, 'base']]);
    const [copy, cmd, env] = df.stages[0].instructions;
    expect(copy).toMatchObject({ keyword: 'COPY', line: 3, flags: { from: 'x', chown: '1:2' }, args: 'a /b/' });
    expect(cmd.json).toEqual(['sh', '-c', 'echo hi']);
    expect(env.pairs).toEqual([{ name: 'A', value: '1' }, { name: 'B', value: '"two words"' }]);
    expect(df.stages[1].instructions[0]).toMatchObject({ keyword: 'RUN', line: 7, args: 'echo   hi' });
  });

  test('the escape directive changes the continuation character', () => {
    const df = parseDockerfile('# escape=`\nFROM x\nRUN dir `\n  c:\\\n');
    expect(df.escape).toBe('`');
    expect(df.stages[0].instructions[0].args).toBe('dir   c:\\');
  });

  test('errors name the file, the line and the instruction', () => {
    expect(() => parseDockerfile('FROM x\n\nRUNN echo\n', 'app.Dockerfile')).toThrow(new DockerfileError('app.Dockerfile', 3, 'RUNN', 'unknown instruction: RUNN'));
    expect(() => parseDockerfile('RUN x\n')).toThrow('Dockerfile:1: RUN: no build stage in current context');
    expect(() => parseDockerfile('FROM x\nCOPY --nope=1 a b\n')).toThrow('Dockerfile:2: COPY: unknown flag: --nope');
    expect(() => parseDockerfile('FROM x AS a\nFROM y AS a\n')).toThrow('Dockerfile:2: FROM: duplicate name for build stage: "a"');
  });
});

describe('build context', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-ctx-'));
    fs.mkdirSync(path.join(dir, 'src/lib'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'logs'));
    fs.writeFileSync(path.join(dir, 'src/a.js'), 'a');
    fs.writeFileSync(path.join(dir, 'src/lib/b.js'), 'b');
    fs.writeFileSync(path.join(dir, 'src/notes.md'), 'n');
    fs.writeFileSync(path.join(dir, 'logs/x.log'), 'x');
    fs.writeFileSync(path.join(dir, 'keep.log'), 'k');
    fs.writeFileSync(path.join(dir, '.dockerignore'), '# comment\nlogs\n*.log\n!keep.log\nsrc/**/*.md\n');
    fs.symlinkSync('/etc/passwd', path.join(dir, 'escape'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('.dockerignore excludes paths and exceptions bring files back', () => {
    const ctx = new BuildContext(dir);
    expect(ctx.files()).toEqual(['.dockerignore', 'escape', 'keep.log', 'src', 'src/a.js', 'src/lib', 'src/lib/b.js']);
    expect(() => ctx.sources('logs/x.log', 'COPY')).toThrow('COPY failed: file not found in build context or excluded by .dockerignore: stat logs/x.log: file does not exist');
  });

  test('the builder sends exactly the files the plan\'s context hash covers (rules are case-sensitive, as Docker on Linux)', () => {
    fs.writeFileSync(path.join(dir, 'src/README.MD'), 'r');
    fs.appendFileSync(path.join(dir, '.dockerignore'), 'src/readme.md\n');
    try {
      const ctx = new BuildContext(dir);
      expect(ctx.files()).toContain('src/README.MD');
      const files = ctx.files().filter((f) => !fs.lstatSync(path.join(dir, f)).isDirectory());
      expect(contextFiles(dir, 'Dockerfile')).toEqual([...files].sort());
    } finally {
      fs.rmSync(path.join(dir, 'src/README.MD'));
      fs.writeFileSync(path.join(dir, '.dockerignore'), '# comment\nlogs\n*.log\n!keep.log\nsrc/**/*.md\n');
    }
  });

  test('a directory source brings its contents; wildcards match within one level', () => {
    const ctx = new BuildContext(dir);
    expect(ctx.sources('src', 'COPY')[0].entries.map((e) => e.rel)).toEqual(['a.js', 'lib', 'lib/b.js']);
    expect(ctx.sources('src/*.js', 'COPY').map((s) => s.rel)).toEqual(['src/a.js']);
    expect(globPattern('a?[0-9]*.txt')!.test('ab1-x.txt')).toBe(true);
    expect(globPattern('*.txt')!.test('d/a.txt')).toBe(false);
    expect(() => ctx.sources('src/[a.js', 'COPY')).toThrow('COPY failed: bad wildcard pattern "src/[a.js": syntax error in pattern');
  });

  test('paths outside the context are refused; symlinks resolve inside it', () => {
    const ctx = new BuildContext(dir);
    expect(() => ctx.sources('../etc/passwd', 'COPY')).toThrow(ContextError);
    expect(() => ctx.sources('../etc/passwd', 'COPY')).toThrow('COPY failed: forbidden path outside the build context: ../etc/passwd');
    // /etc/passwd inside the context does not exist: the link cannot reach the host's.
    expect(() => ctx.sources('escape', 'COPY')).toThrow('file not found in build context');
  });

  test('the content hash follows content and mode, not mtime', () => {
    const ctx = () => new BuildContext(dir);
    const h1 = sourcesHash(ctx().sources('src', 'COPY'));
    expect(h1).toMatch(/^dir:[0-9a-f]{64}$/);
    fs.utimesSync(path.join(dir, 'src/a.js'), new Date(2000, 1, 1), new Date(2000, 1, 1));
    expect(sourcesHash(ctx().sources('src', 'COPY'))).toBe(h1);
    fs.chmodSync(path.join(dir, 'src/a.js'), 0o600);
    const h2 = sourcesHash(ctx().sources('src', 'COPY'));
    expect(h2).not.toBe(h1);
    fs.writeFileSync(path.join(dir, 'src/a.js'), 'A');
    expect(sourcesHash(ctx().sources('src', 'COPY'))).not.toBe(h2);
    expect(sourcesHash([...ctx().sources('src/a.js', 'COPY'), ...ctx().sources('keep.log', 'COPY')])).toMatch(/^multi:/);
  });

  test('durations and ports as Docker reads them', () => {
    expect(parseDuration('1m30s')).toBe(90e9);
    expect(parseDuration('500ms')).toBe(5e8);
    expect(() => parseDuration('5 s')).toThrow('invalid duration');
    expect(exposedPorts(['80', '53/udp', '8000-8002'])).toEqual(['80/tcp', '53/udp', '8000/tcp', '8001/tcp', '8002/tcp']);
  });
});

// --- end to end: the CLI on a busybox base made offline ----------------------------------------

describe('runtime build', () => {
  const OCTET = 190;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const rt = (args: string[], input?: string, cwd = work): CliResult => cdkDocker(['runtime', ...args], cwd, env, input);

  /** A context directory with these files (and a Dockerfile). */
  function context(name: string, files: { [rel: string]: string | Buffer }): string {
    const dir = path.join(work, name);
    for (const [rel, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), content);
    }
    return dir;
  }

  /** What a build could leave behind: containers, mounts under the work dir, build temp dirs. */
  function leftovers(): string[] {
    // The store itself: ps never lists build step containers.
    const containers = fs.readdirSync(path.join(work, 'root', 'containers')).filter((f) => /^[0-9a-f]{64}$/.test(f)).map((c) => `container ${c}`);
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m?.startsWith(work)).map((m) => `mount ${m}`);
    const ingest = fs.readdirSync(path.join(work, 'root', 'images', 'ingest')).map((f) => `ingest ${f}`);
    return [...containers, ...mounts, ...ingest];
  }

  beforeAll(() => {
    for (const [cmd, pkg] of [['runc', 'runc'], ['conmon', 'conmon']]) requireCommand(cmd, pkg);
    work = tempDir('cdk-docker-build-');
    env = { CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run'), TMPDIR: path.join(work, 'tmp') };
    fs.mkdirSync(path.join(work, 'tmp'));
    privateNetworkConfig(path.join(work, 'root'), OCTET);
    const rootfs = busyboxRootfsTar(work, ['sh', 'ls', 'cat', 'echo', 'id', 'pwd', 'mkdir', 'test', 'true', 'false', 'env', 'sleep', 'grep', 'wc', 'tr']);
    ok(rt(['import', '-c', 'ENV PATH=/bin', '-c', 'CMD ["sh"]', rootfs, 'busybox:build']));
  });

  afterAll(() => {
    if (!work) return;
    const all = rt(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
    if (all.length) rt(['rm', '-f', '-v', ...all]);
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('a build runs each step, prints Docker\'s lines, and makes a runnable image with the config it declares', () => {
    const dir = context('app', {
      Dockerfile: [
        'FROM busybox:build',
        'ARG GREETING=hello',
        'ENV APP_HOME=/srv/app NAME="my app"',
        'WORKDIR $APP_HOME',
        'COPY site/ ./site/',
        'COPY hello.txt .',
        'RUN echo "$GREETING from $NAME" > greeting && cat greeting',
        'USER nobody',
        'EXPOSE 8080 53/udp',
        'LABEL org.example.app="demo app"',
        'CMD ["cat", "greeting"]',
        '',
      ].join('\n'),
      'site/index.html': '<h1>hi</h1>\n',
      'site/css/app.css': 'body{}\n',
      'hello.txt': 'hello\n',
    });
    const out = ok(rt(['build', '-t', 'app:1', '--build-arg', 'GREETING=hey', '--build-arg', 'UNUSED=x', dir]));
    expect(out).toMatch(/^Sending build context to Docker daemon {2}\d+(\.\d+)?kB\r\r\nStep 1\/11 : FROM busybox:build\n ---> [0-9a-f]{12}\nStep 2\/11 : ARG GREETING=hello\n/);
    expect(out).toMatch(/Step 7\/11 : RUN echo "\$GREETING from \$NAME" > greeting && cat greeting\n ---> Running in [0-9a-f]{12}\nhey from my app\nRemoving intermediate container [0-9a-f]{12}\n ---> [0-9a-f]{12}\n/);
    expect(out).toContain('[Warning] One or more build-args [UNUSED] were not consumed\n');
    expect(out).toMatch(/Successfully built [0-9a-f]{12}\nSuccessfully tagged app:1\n$/);
    expect(out).not.toContain('Using cache');

    expect(ok(rt(['run', '--rm', 'app:1']))).toBe('hey from my app\n');
    expect(ok(rt(['run', '--rm', 'app:1', 'sh', '-c', 'id -u; pwd; cat site/index.html site/css/app.css hello.txt; echo "$NAME"']))).toBe('65534\n/srv/app\n<h1>hi</h1>\nbody{}\nhello\nmy app\n');
    const [doc] = JSON.parse(ok(rt(['image', 'inspect', 'app:1'])));
    expect(doc.Config).toMatchObject({ User: 'nobody', WorkingDir: '/srv/app', Cmd: ['cat', 'greeting'], ExposedPorts: { '8080/tcp': {}, '53/udp': {} }, Labels: { 'org.example.app': 'demo app' } });
    expect(doc.Config.Env).toEqual(['PATH=/bin', 'APP_HOME=/srv/app', 'NAME=my app']);
    expect(doc.Config.Env.join(' ')).not.toContain('GREETING');

    const history = ok(rt(['history', '--no-trunc', 'app:1'])).split('\n');
    expect(history[0]).toMatch(/^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$/);
    expect(history[1]).toContain('/bin/sh -c #(nop)  CMD ["cat","greeting"]');
    expect(history.find((l) => l.includes('|1 GREETING=hey /bin/sh -c echo'))).toMatch(/ 16B/);
    expect(history.find((l) => l.includes('COPY dir:'))).toMatch(/^sha256:[0-9a-f]{64} /);
    // Intermediate images are hidden from `images`, shown with -a.
    expect(ok(rt(['images'])).split('\n').filter((l) => l.startsWith('<none>'))).toEqual([]);
    expect(ok(rt(['images', '-a'])).split('\n').filter((l) => l.startsWith('<none>')).length).toBeGreaterThanOrEqual(9);

    // A second build is all cache; a changed file misses from its COPY on.
    const again = ok(rt(['build', '-t', 'app:1', '--build-arg', 'GREETING=hey', dir]));
    expect(again.match(/ ---> Using cache\n/g)).toHaveLength(10);
    expect(/Successfully built ([0-9a-f]{12})/.exec(again)![1]).toBe(doc.Id.slice(7, 19));
    fs.writeFileSync(path.join(dir, 'hello.txt'), 'changed\n');
    const changed = ok(rt(['build', '-t', 'app:2', '--build-arg', 'GREETING=hey', dir]));
    expect(changed.match(/ ---> Using cache\n/g)).toHaveLength(4);
    expect(changed).toMatch(/Step 6\/11 : COPY hello.txt \.\n ---> [0-9a-f]{12}\n/);
    // Another build-arg value is another RUN.
    const otherArg = ok(rt(['build', '--build-arg', 'GREETING=yo', dir]));
    expect(otherArg).toMatch(/Step 7\/11 : RUN .*\n ---> Running in /);
    expect(otherArg.match(/ ---> Using cache\n/g)).toHaveLength(5);
    const noCache = ok(rt(['build', '--no-cache', '-q', '--build-arg', 'GREETING=hey', dir]));
    expect(noCache).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(leftovers()).toEqual([]);
  });

  test('multi-stage: only the stages the target needs, COPY --from, ADD of a tar vs COPY of it, FROM scratch', () => {
    const tarDir = path.join(work, 'tarsrc');
    fs.mkdirSync(path.join(tarDir, 'pkg'), { recursive: true });
    fs.writeFileSync(path.join(tarDir, 'pkg', 'file.txt'), 'from the tar\n');
    const dir = context('multi', {
      Dockerfile: [
        'ARG BASE=busybox:build',
        'FROM ${BASE} AS builder',
        'RUN mkdir -p /out && echo built > /out/artifact',
        'FROM busybox:build AS unused',
        'RUN echo must-not-run',
        'FROM scratch AS tiny',
        'COPY --from=builder /out/artifact /artifact',
        'FROM ${BASE}',
        'COPY --from=builder /out /opt/out',
        'ADD pkg.tar.gz /added/',
        'COPY pkg.tar.gz /copied/',
        'CMD ["sh", "-c", "cat /opt/out/artifact /added/pkg/file.txt; ls /copied"]',
        '',
      ].join('\n'),
    });
    require('node:child_process').execFileSync('tar', ['-czf', path.join(dir, 'pkg.tar.gz'), '-C', tarDir, 'pkg']);
    const out = ok(rt(['build', '-t', 'multi', dir]));
    expect(out).not.toContain('must-not-run');
    expect(out).toContain('Step 1/7 : FROM ${BASE} AS builder\n');
    expect(ok(rt(['run', '--rm', 'multi']))).toBe('built\nfrom the tar\npkg.tar.gz\n');

    const tiny = ok(rt(['build', '--target', 'tiny', '-t', 'tiny', dir]));
    expect(tiny).toContain('Step 4/4 : COPY --from=builder /out/artifact /artifact\n');
    const history = ok(rt(['history', '-q', 'tiny'])).trim().split('\n');
    expect(history).toHaveLength(1);
    const [doc] = JSON.parse(ok(rt(['image', 'inspect', 'tiny'])));
    expect(doc.RootFS.Layers).toHaveLength(1);

    const bad = rt(['build', '--target', 'nope', dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('failed to reach build target nope in Dockerfile');
  });

  test('ONBUILD triggers run in the child build once, not in grandchildren; ENTRYPOINT takes run arguments', () => {
    const parent = context('onbuild-parent', {
      Dockerfile: 'FROM busybox:build\nONBUILD COPY data.txt /data.txt\nONBUILD RUN echo triggered >> /log\nENTRYPOINT ["echo", "args:"]\nCMD ["none"]\nSTOPSIGNAL SIGINT\nHEALTHCHECK --interval=5s --retries=2 CMD test -f /log\n',
    });
    ok(rt(['build', '-t', 'parent', parent]));
    const [p] = JSON.parse(ok(rt(['image', 'inspect', 'parent'])));
    expect(p.Config).toMatchObject({ OnBuild: ['COPY data.txt /data.txt', 'RUN echo triggered >> /log'], StopSignal: 'SIGINT', Healthcheck: { Test: ['CMD-SHELL', 'test -f /log'], Interval: 5e9, Retries: 2 } });
    expect(ok(rt(['run', '--rm', 'parent']))).toBe('args: none\n');
    expect(ok(rt(['run', '--rm', 'parent', '-h']))).toBe('args: -h\n');

    const child = context('onbuild-child', { Dockerfile: 'FROM parent\nRUN cat /data.txt /log\n', 'data.txt': 'child data\n' });
    const out = ok(rt(['build', '-t', 'child', child]));
    expect(out).toContain('# Executing 2 build triggers\n');
    expect(out).toContain('child data\ntriggered\n');
    const [c] = JSON.parse(ok(rt(['image', 'inspect', 'child'])));
    expect(c.Config.OnBuild).toBeNull();
    const grandchild = ok(rt(['build', '-'], 'FROM child\nRUN cat /log\n'));
    expect(grandchild).not.toContain('build trigger');
    expect(grandchild).toContain('triggered\n');
  });

  test('RUN joins the default bridge network; --network none has only loopback', () => {
    const df = 'FROM busybox:build\nRUN grep -c eth0 /proc/net/dev || true\n';
    expect(ok(rt(['build', '--no-cache', '-'], df))).toMatch(/Running in [0-9a-f]{12}\n1\n/);
    expect(ok(rt(['build', '--no-cache', '--network', 'none', '-'], df))).toMatch(/Running in [0-9a-f]{12}\n0\n/);
  });

  test('a failing RUN reports its exit code and output, tags nothing, and keeps its container as Docker\'s; --force-rm leaves nothing', () => {
    const before = fs.readdirSync(path.join(work, 'tmp'));
    const df = 'FROM busybox:build\nVOLUME /data\nRUN echo one; echo two >&2; exit 3\n';
    const r = rt(['build', '-t', 'broken', '-'], df);
    // As Docker's legacy builder (issue 12): the step's code, and its line last on stderr.
    expect(r.code).toBe(3);
    expect(r.stderr).toBe("Error: Dockerfile:3: RUN echo one; echo two >&2; exit 3: the command '/bin/sh -c echo one; echo two >&2; exit 3' returned a non-zero code: 3\n  one\n  two\nThe command '/bin/sh -c echo one; echo two >&2; exit 3' returned a non-zero code: 3\n");
    // The output as written (stderr in Docker's red), no `Removing intermediate container` line.
    const [, kept, output] = /Step 3\/3 : RUN echo one; echo two >&2; exit 3\n ---> Running in ([0-9a-f]{12})\n([^]*)$/.exec(r.stdout)!;
    // (conmon reads the two pipes apart: either may come first)
    expect(['one\n\x1b[91mtwo\n\x1b[0m', '\x1b[91mtwo\n\x1b[0mone\n']).toContain(output);
    expect(rt(['image', 'inspect', 'broken']).code).toBe(1);
    // The step's container stays, an ordinary exited container with its volume: `ps -a` lists it,
    // it has no build labels, and the next build (which collects dead builds' containers) keeps it.
    expect(ok(rt(['ps', '-a', '--format', '{{.ID}} {{.Status}}']))).toMatch(new RegExp(`^${kept} Exited \\(3\\) [^\n]*\n$`));
    expect(ok(rt(['inspect', '-f', '{{json .Config.Labels}} {{len .Mounts}}', kept]))).toBe('{} 1\n');
    ok(rt(['build', '-q', '-'], 'FROM busybox:build\nLABEL next=1\n'));
    expect(ok(rt(['ps', '-aq']))).toBe(`${kept}\n`);
    ok(rt(['rm', '-v', kept]));

    const forced = rt(['build', '--force-rm', '-t', 'broken', '-'], df);
    expect(forced.code).toBe(3);
    const id = /Running in ([0-9a-f]{12})/.exec(forced.stdout)![1];
    expect(forced.stdout.endsWith(`Removing intermediate container ${id}\n`)).toBe(true);
    expect(leftovers()).toEqual([]);
    expect(ok(rt(['volume', 'ls', '-q']))).toBe('');
    expect(fs.readdirSync(path.join(work, 'tmp'))).toEqual(before);
  });

  /** A build's output as compared here: ids as <ID>, the context's size as <SIZE>, no carriage returns. */
  const shape = (out: string) => out.replace(/\r/g, '').replace(/\b[0-9a-f]{12}\b/g, '<ID>').replace(/^(Sending build context to Docker daemon) +\S+$/m, '$1 <SIZE>');
  /** The ids of `Running in ID` and `Removing intermediate container ID` lines, in order. */
  const containerLines = (out: string, what: 'Running in' | 'Removing intermediate container') => [...out.matchAll(new RegExp(`${what} ([0-9a-f]{12})\\n`, 'g'))].map((m) => m[1]);

  test('every step not taken from the cache runs in an intermediate container, removed after it (metadata steps too, COPY/ADD none), as Docker 20.10 prints', () => {
    const instructions = ['ARG A=1', 'ENV E=2', 'LABEL l=3', 'WORKDIR /w', 'USER root', 'EXPOSE 80', 'VOLUME /v', 'STOPSIGNAL SIGINT', 'HEALTHCHECK CMD true', 'SHELL ["/bin/sh", "-c"]', 'ENTRYPOINT ["echo"]', 'CMD ["x"]', 'MAINTAINER me', 'ONBUILD RUN echo trig', 'COPY data.txt /d1', 'ADD data.txt /d2', 'RUN echo hi'];
    const dir = context('steps', { Dockerfile: `FROM busybox:build\n${instructions.join('\n')}\n`, 'data.txt': 'data\n' });
    // What Docker 20.10's classic builder printed for this Dockerfile (test/runtime/build-docker.test.ts compares them live).
    const expected = (cached: boolean) => [
      'Sending build context to Docker daemon <SIZE>',
      'Step 1/18 : FROM busybox:build',
      ' ---> <ID>',
      ...instructions.flatMap((ins, i) => [
        `Step ${i + 2}/18 : ${ins}`,
        ...(cached ? [' ---> Using cache'] : /^(COPY|ADD) /.test(ins) ? [] : [' ---> Running in <ID>', ...(ins.startsWith('RUN') ? ['hi'] : []), 'Removing intermediate container <ID>']),
        ' ---> <ID>',
      ]),
      'Successfully built <ID>',
      'Successfully tagged steps:1',
      '',
    ].join('\n');
    const out = ok(rt(['build', '--network', 'none', '-t', 'steps:1', dir]));
    expect(shape(out)).toBe(expected(false));
    // Each container is removed right after its own step, and none is left.
    const running = containerLines(out, 'Running in');
    expect(running).toHaveLength(15);
    expect(new Set(running).size).toBe(15);
    expect(containerLines(out, 'Removing intermediate container')).toEqual(running);
    expect(leftovers()).toEqual([]);
    expect(ok(rt(['volume', 'ls', '-q']))).toBe('');
    expect(shape(ok(rt(['build', '--network', 'none', '-t', 'steps:1', dir])))).toBe(expected(true));
  });

  test('--rm=false keeps every step container as an ordinary one (Created for a metadata step, Exited for RUN) with Docker\'s commands', () => {
    const dir = context('keep-all', { Dockerfile: 'FROM busybox:build\nENV Y=1\nWORKDIR /w\nCOPY data.txt /d\nRUN echo ok\nCMD ["x"]\n', 'data.txt': 'data\n' });
    const out = ok(rt(['build', '--rm=false', '--no-cache', '--network', 'none', dir]));
    expect(out).not.toContain('Removing intermediate container');
    const kept = containerLines(out, 'Running in');
    expect(kept).toHaveLength(4);
    // Each container was made from the image before its step.
    const images = [...out.matchAll(/ ---> ([0-9a-f]{12})\n/g)].map((m) => m[1]);
    const parents = [images[0], images[1], images[3], images[4]];
    const seen = kept.map((id) => ok(rt(['inspect', '-f', '{{.State.Status}} {{json .Config.Cmd}} {{.Config.Image}} {{json .Config.Labels}}', id])).trim());
    expect(seen.map((l) => l.replace(/sha256:([0-9a-f]{12})[0-9a-f]{52}/, '$1'))).toEqual([
      `created ["/bin/sh","-c","#(nop) ","ENV Y=1"] ${parents[0]} {}`,
      `created ["/bin/sh","-c","#(nop) WORKDIR /w"] ${parents[1]} {}`,
      `exited ["/bin/sh","-c","echo ok"] ${parents[2]} {}`,
      `created ["/bin/sh","-c","#(nop) ","CMD [\\"x\\"]"] ${parents[3]} {}`,
    ]);
    expect(ok(rt(['ps', '-aq'])).trim().split('\n').sort()).toEqual([...kept].sort());
    // A later build does not collect them: they belong to no build any more.
    ok(rt(['build', '-q', '-'], 'FROM busybox:build\nLABEL later=1\n'));
    expect(ok(rt(['ps', '-aq'])).trim().split('\n').sort()).toEqual([...kept].sort());
    ok(rt(['rm', '-v', ...kept]));
    expect(leftovers()).toEqual([]);
  });

  test('ONBUILD triggers run within the FROM step: a container (or Using cache) per trigger, the image line after them all', () => {
    const dir = context('triggers', {
      Dockerfile: 'FROM busybox:build\nONBUILD ENV T=1\nONBUILD RUN echo trig\nONBUILD COPY data.txt /x\n',
      'child.Dockerfile': 'FROM trig-parent\nRUN echo child\n',
      'data.txt': 'data\n',
    });
    ok(rt(['build', '--network', 'none', '-t', 'trig-parent', dir]));
    const child = (extra: string[]) => shape(ok(rt(['build', '--network', 'none', ...extra, '-f', path.join(dir, 'child.Dockerfile'), dir])));
    expect(child(['--no-cache'])).toBe([
      'Sending build context to Docker daemon <SIZE>',
      'Step 1/2 : FROM trig-parent',
      '# Executing 3 build triggers',
      ' ---> Running in <ID>',
      'Removing intermediate container <ID>',
      ' ---> Running in <ID>',
      'trig',
      'Removing intermediate container <ID>',
      ' ---> <ID>',
      'Step 2/2 : RUN echo child',
      ' ---> Running in <ID>',
      'child',
      'Removing intermediate container <ID>',
      ' ---> <ID>',
      'Successfully built <ID>',
      '',
    ].join('\n'));
    expect(child([])).toBe([
      'Sending build context to Docker daemon <SIZE>',
      'Step 1/2 : FROM trig-parent',
      '# Executing 3 build triggers',
      ' ---> Using cache',
      ' ---> Using cache',
      ' ---> Using cache',
      ' ---> <ID>',
      'Step 2/2 : RUN echo child',
      ' ---> Using cache',
      ' ---> <ID>',
      'Successfully built <ID>',
      '',
    ].join('\n'));
    expect(leftovers()).toEqual([]);
  });

  test('a stage FROM scratch shows ` ---> ` for its FROM, and its steps (COPY first, or a metadata step) come from the cache the next time', () => {
    const dir = context('from-scratch', {
      Dockerfile: 'FROM busybox:build AS b\nRUN echo built > /a\nFROM scratch\nENV Z=1\nCOPY --from=b /a /a\nLABEL q=1\n',
      'copy-first.Dockerfile': 'FROM scratch\nCOPY data.txt /x\nENV A=1\n',
      'data.txt': 'data\n',
    });
    const first = shape(ok(rt(['build', '--network', 'none', '--label', 'x=y', dir])));
    expect(first).toContain('Step 3/7 : FROM scratch\n ---> \nStep 4/7 : ENV Z=1\n ---> Running in <ID>\nRemoving intermediate container <ID>\n ---> <ID>\nStep 5/7 : COPY --from=b /a /a\n ---> <ID>\n');
    expect(first).toContain('Step 7/7 : LABEL x=y\n ---> Running in <ID>\n');
    const again = ok(rt(['build', '--network', 'none', '--label', 'x=y', dir]));
    expect(again.match(/ ---> Using cache\n/g)).toHaveLength(5);
    const copyFirst = ['build', '-f', path.join(dir, 'copy-first.Dockerfile'), dir];
    const built = /Successfully built ([0-9a-f]{12})/.exec(ok(rt(copyFirst)))![1];
    const images = ok(rt(['images', '-a', '-q'])).split('\n').length;
    const rebuilt = ok(rt(copyFirst));
    expect(shape(rebuilt)).toContain('Step 1/3 : FROM scratch\n ---> \nStep 2/3 : COPY data.txt /x\n ---> Using cache\n ---> <ID>\nStep 3/3 : ENV A=1\n ---> Using cache\n ---> <ID>\n');
    expect(rebuilt).toContain(`Successfully built ${built}\n`);
    // No image more: the empty image the steps come from is made once.
    expect(ok(rt(['images', '-a', '-q'])).split('\n').length).toBe(images);
    expect(leftovers()).toEqual([]);
  });

  test('-q holds the output back: only the id when the build succeeds, all of it on stderr when a step fails; a bad --rm value fails as Docker\'s flag', () => {
    const quiet = rt(['build', '-q', '--build-arg', 'UNUSED=1', '-'], 'FROM busybox:build\nLABEL quiet=1\n');
    expect(quiet).toMatchObject({ code: 0, stderr: '' });
    expect(quiet.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const failed = rt(['build', '-q', '--force-rm', '--network', 'none', '-'], 'FROM busybox:build\nRUN echo held; exit 4\n');
    expect(failed.code).toBe(4);
    expect(failed.stdout).toBe('');
    expect(shape(failed.stderr)).toBe([
      'Sending build context to Docker daemon <SIZE>',
      'Step 1/2 : FROM busybox:build',
      ' ---> <ID>',
      'Step 2/2 : RUN echo held; exit 4',
      ' ---> Running in <ID>',
      'held',
      'Removing intermediate container <ID>',
      "Error: Dockerfile:2: RUN echo held; exit 4: the command '/bin/sh -c echo held; exit 4' returned a non-zero code: 4",
      '  held',
      "The command '/bin/sh -c echo held; exit 4' returned a non-zero code: 4",
      '',
    ].join('\n'));
    expect(leftovers()).toEqual([]);
    expect(rt(['build', '--rm=maybe', '-'], 'FROM busybox:build\n')).toMatchObject({
      code: 125,
      stderr: 'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax\nSee \'cdk-docker runtime build --help\'.\n',
    });
  });

  test('bad input: the file, line and instruction; unknown base images; paths outside the context', () => {
    const dir = context('bad', { Dockerfile: 'FROM busybox:build\nCOPY ../secret /x\n', 'other.Dockerfile': 'FROM busybox:build\n\nRUNN echo\n' });
    expect(rt(['build', dir]).stderr).toBe('Error: Dockerfile:2: COPY: COPY failed: forbidden path outside the build context: ../secret (the context is ' + fs.realpathSync(dir) + '; move the file into it)\n');
    expect(rt(['build', '-f', path.join(dir, 'other.Dockerfile'), dir]).stderr).toBe('Error: other.Dockerfile:3: RUNN: unknown instruction: RUNN\n');
    expect(rt(['build', '-'], 'FROM localhost:1/nope:1\n').stderr).toMatch(/^Error: Dockerfile:1: FROM: base image localhost:1\/nope:1 is not in the image store and could not be pulled: /);
    expect(rt(['build', '-'], 'FROM busybox:build\nCOPY a b c\n').stderr).toContain('no build context');
    expect(rt(['build', dir.concat('-missing')]).stderr).toContain('unable to prepare context: path');
    const multi = context('multi-src', { Dockerfile: 'FROM busybox:build\nCOPY a b /dest\n', a: 'a', b: 'b' });
    expect(rt(['build', multi]).stderr).toContain('Dockerfile:2: COPY: When using COPY with more than one source file, the destination must be a directory and end with a /');
    expect(leftovers()).toEqual([]);
  });

  test('.dockerignore keeps files out of COPY; --label and SHELL; the result saves', () => {
    const dir = context('ignore', {
      Dockerfile: 'FROM busybox:build\nSHELL ["/bin/sh", "-c"]\nCOPY . /ctx/\nRUN ls -a /ctx | tr "\\n" " "\n',
      '.dockerignore': 'secret.txt\n*.log\n',
      'secret.txt': 'no',
      'debug.log': 'no',
      'app.txt': 'yes',
    });
    const out = ok(rt(['build', '--label', 'team=core', '-t', 'ignored', dir]));
    // The output as written: Docker's builder adds no newline after it.
    expect(out).toMatch(/\n\. \.\. \.dockerignore Dockerfile app\.txt Removing intermediate container [0-9a-f]{12}\n/);
    expect(ok(rt(['image', 'inspect', '-f', '{{json .Config.Labels}}', 'ignored']))).toBe('{"team":"core"}\n');
    const tar = path.join(work, 'ignored.tar');
    ok(rt(['save', '-o', tar, 'ignored']));
    expect(fs.statSync(tar).size).toBeGreaterThan(0);
    const rmi = ok(rt(['rmi', 'ignored']));
    expect(rmi.match(/^Deleted: /gm)!.length).toBeGreaterThanOrEqual(4);
  });
});
