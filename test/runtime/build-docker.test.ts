/**
 * Issue 12: `runtime build` prints what Docker 20.10's classic builder prints, step kind by step
 * kind, side by side with a private dockerd (Debian's 20.10 client): metadata steps in
 * intermediate containers, RUN that succeeds (stdout, stderr in red, output without a newline)
 * and fails (its container kept, `--force-rm`, `--rm=false`, `-q`), cache hits, ONBUILD triggers,
 * multi-stage with FROM scratch and COPY --from, `build -` — and what `ps -a` shows after each.
 * The same Dockerfiles go through both engines (RUN without a network) and are compared after
 * normalising ids and sizes; the one difference kept is our `Error: Dockerfile:N: …` block before
 * Docker's last line when a RUN fails (README, books.test's knownDifferences).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cdkDocker, ok } from '../helpers/cli';
import { normalise } from '../helpers/books';
import { DOCKER_2010, TestDockerd, startDockerd } from '../helpers/dockerd';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';

jest.setTimeout(300_000);

let world: StackWorld;
let dockerd: TestDockerd | undefined;
let dir: string;

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const docker = (args: string[], input?: string): Ran => {
  const r = spawnSync(DOCKER_2010, args, { cwd: dir, input, encoding: 'utf8', env: { ...process.env, DOCKER_HOST: dockerd!.host }, timeout: 180_000, killSignal: 'SIGKILL' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.error ? `${r.stderr}\n${r.error.message}` : r.stderr };
};
const ours = (args: string[], input?: string): Ran => cdkDocker(['runtime', ...args], dir, world.env, input);

/** Our lines Docker does not print: the `Error: Dockerfile:N: …` line and the output tail under it. */
const withoutOurError = (stderr: string) => stderr.replace(/^Error: \S*Dockerfile:\d+: [^\n]*\n(  [^\n]*\n)*/m, '');

/** Runs `build ARGS` on both engines (the context is `dir`), then `ps -a`; returns both, normalised. */
function both(args: string[], input?: string): { docker: string; ours: string } {
  const show = (r: Ran, ps: Ran) => normalise(`exit ${r.code}\n${r.stdout}--- stderr\n${withoutOurError(r.stderr)}--- ps -a\n${ps.stdout}`);
  const psArgs = ['ps', '-a', '--format', '{{.Image}} {{.Status}}'];
  const d = docker(['build', '--network', 'none', ...args], input);
  const dps = docker(psArgs);
  const o = ours(['build', '--network', 'none', ...args], input);
  const ops = ours(psArgs);
  return { docker: show(d, dps), ours: show(o, ops) };
}

/** Expects both engines to show the same, and returns Docker's (for a look at what was compared). */
function same(args: string[], input?: string): string {
  const r = both(args, input);
  expect(r.ours).toBe(r.docker);
  return r.docker;
}

/** Removes every container of both engines (with their volumes). */
function removeContainers(): void {
  for (const run of [docker, ours]) {
    const all = run(['ps', '-aq']).stdout.split('\n').filter(Boolean);
    if (all.length) expect(run(['rm', '-v', ...all]).code).toBe(0);
  }
}

beforeAll(async () => {
  world = stackWorld('cdk-docker-build-docker-', 206);
  ok(world.rt(['load', '-i', BASE_ARCHIVE]));
  dockerd = await startDockerd({ label: 'build' });
  dockerd.docker(['load', '-i', BASE_ARCHIVE]);
  dir = path.join(world.work, 'ctx');
  const files: Record<string, string> = {
    'data.txt': 'data\n',
    'meta.Dockerfile': [
      'FROM busybox:examples',
      'ARG A=1',
      'ENV E=2',
      'LABEL l=3',
      'WORKDIR /w',
      'USER root',
      'EXPOSE 80',
      'VOLUME /v',
      'STOPSIGNAL SIGINT',
      'HEALTHCHECK CMD true',
      'SHELL ["/bin/sh", "-c"]',
      'ENTRYPOINT ["echo"]',
      'CMD ["x"]',
      'MAINTAINER me',
      'ONBUILD RUN echo trig',
      'COPY data.txt /d1',
      'ADD data.txt /d2',
      'RUN echo hi',
      '',
    ].join('\n'),
    'fail.Dockerfile': 'FROM busybox:examples\nENV X=1\nRUN echo before && exit 3\nCMD ["x"]\n',
    'keep.Dockerfile': 'FROM busybox:examples\nENV Y=1\nWORKDIR /w\nCOPY data.txt /d\nRUN echo ok\nCMD ["x"]\n',
    'output.Dockerfile': 'FROM busybox:examples\nRUN printf abc\nRUN echo err >&2\n',
    'parent.Dockerfile': 'FROM busybox:examples\nONBUILD ENV T=1\nONBUILD RUN echo trig\nONBUILD COPY data.txt /x\nCMD ["p"]\n',
    'child.Dockerfile': 'FROM parity/parent\nRUN echo child\n',
    'failing-trigger.Dockerfile': 'FROM busybox:examples\nONBUILD RUN echo t; exit 4\n',
    'trigger-child.Dockerfile': 'FROM parity/failing-trigger\nENV A=1\n',
    'multi.Dockerfile': 'FROM busybox:examples AS b\nRUN echo built > /a\nFROM scratch\nENV Z=1\nCOPY --from=b /a /a\nLABEL q=1\n',
    'scratch.Dockerfile': 'FROM scratch\nCOPY data.txt /x\nENV A=1\n',
  };
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
});

afterAll(async () => {
  if (dockerd) {
    for (const id of dockerd.docker(['ps', '-aq']).split('\n').filter(Boolean)) dockerd.docker(['rm', '-f', '-v', id]);
    await dockerd.stop();
  }
  expect(await tearDownWorld(world)).toEqual([]);
});

afterEach(() => removeContainers());

test('metadata steps run in intermediate containers, removed after each; COPY and ADD show none; a rebuild is all cache', () => {
  const first = same(['-f', 'meta.Dockerfile', '-t', 'parity/meta', '.']);
  expect(first).toContain('Step 3/18 : ENV E=2\n ---> Running in <ID>\nRemoving intermediate container <ID>\n ---> <ID>\n');
  expect(same(['-f', 'meta.Dockerfile', '-t', 'parity/meta', '.'])).toContain('Step 3/18 : ENV E=2\n ---> Using cache\n ---> <ID>\n');
});

test('a failing RUN keeps its container (Exited) unless --force-rm; --rm=false keeps it too; -q shows the held output on stderr', () => {
  for (const flags of [[], ['--force-rm'], ['--rm=false'], ['-q'], ['-q', '--force-rm'], ['--rm=false', '--force-rm']]) {
    const shown = same([...flags, '-f', 'fail.Dockerfile', '.']);
    expect(shown).toContain("The command '/bin/sh -c echo before && exit 3' returned a non-zero code: 3\n");
    expect(shown.endsWith('--- ps -a\n')).toBe(flags.includes('--force-rm'));
    removeContainers();
  }
  // With the default rm, only the failed step's container stays.
  expect(same(['-f', 'fail.Dockerfile', '.'])).toMatch(/--- ps -a\n<ID> Exited \(3\) <AGO>\n$/);
});

test('--rm=false keeps every step container: Created for metadata steps, Exited (0) for RUN', () => {
  expect(same(['--rm=false', '--no-cache', '-f', 'keep.Dockerfile', '.'])).toMatch(/--- ps -a\n<ID> Created\n<ID> Exited \(0\) <AGO>\n<ID> Created\n<ID> Created\n$/);
});

test('RUN output as written: no newline added after it, stderr between Docker\'s colour codes', () => {
  expect(same(['--no-cache', '-f', 'output.Dockerfile', '.'])).toContain('abcRemoving intermediate container <ID>\n ---> <ID>\nStep 3/3 : RUN echo err >&2\n ---> Running in <ID>\n\x1b[91merr\n\x1b[0mRemoving');
});

test('ONBUILD triggers within the FROM step, built, cached, and failing', () => {
  same(['-f', 'parent.Dockerfile', '-t', 'parity/parent', '.']);
  expect(same(['--no-cache', '-f', 'child.Dockerfile', '.'])).toContain('# Executing 3 build triggers\n ---> Running in <ID>\nRemoving intermediate container <ID>\n ---> Running in <ID>\ntrig\n');
  expect(same(['-f', 'child.Dockerfile', '.'])).toContain('# Executing 3 build triggers\n ---> Using cache\n ---> Using cache\n ---> Using cache\n ---> <ID>\nStep 2/2');
  same(['-f', 'failing-trigger.Dockerfile', '-t', 'parity/failing-trigger', '.']);
  expect(same(['-f', 'trigger-child.Dockerfile', '.'])).toMatch(/exit 4\n[^]*--- ps -a\n<ID> Exited \(4\) <AGO>\n$/);
});

test('multi-stage with FROM scratch, COPY --from and --label, and a stage that starts with COPY: built, then all cache', () => {
  for (let i = 0; i < 2; i++) {
    expect(same(['--label', 'x=y', '-f', 'multi.Dockerfile', '.'])).toContain('Step 3/7 : FROM scratch\n ---> \n');
    same(['-f', 'scratch.Dockerfile', '.']);
  }
});

test('--label: one LABEL step per label, sorted by key, the value as given (nothing substituted)', () => {
  const shown = same(['--label', 'z=b c', '--label', 'd=$HOME', '--label', "q=it's", '-t', 'parity/labels', '-f', 'keep.Dockerfile', '.']);
  expect(shown).toContain("Step 7/9 : LABEL d=$HOME\n ---> Running in <ID>\nRemoving intermediate container <ID>\n ---> <ID>\nStep 8/9 : LABEL q=it's\n");
  const labels = (run: typeof docker) => run(['image', 'inspect', '-f', '{{json .Config.Labels}}', 'parity/labels']).stdout;
  expect(labels(ours)).toBe(labels(docker));
  expect(labels(docker)).toBe('{"d":"$HOME","q":"it\'s","z":"b c"}\n');
});

test('build - (a Dockerfile on stdin, no context), successful and failing', () => {
  same(['-'], 'FROM busybox:examples\nLABEL a=b\n');
  same(['-'], 'FROM busybox:examples\nLABEL a=b\nRUN exit 5\n');
});
