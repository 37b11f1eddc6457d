import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, Running, removeTempDirs, startProgram, tempDir, until, writeJsApp } from '../helpers/cli';
import { TestDockerd, startDockerd } from '../helpers/dockerd';
import { BASE_ARCHIVE } from '../helpers/stack';

jest.setTimeout(120_000);

/**
 * `cdk-docker watch --engine docker` against a private dockerd (own roots and socket, no bridge,
 * no iptables rules: the container runs with networkMode none): the sync goes through the
 * Engine API's archive upload into the running container, the logs through its log stream, and
 * Ctrl-C leaves the container running.
 */
let dockerd: TestDockerd | undefined;
let proj: string;
let env: NodeJS.ProcessEnv;
let watcher: Running | undefined;

beforeAll(async () => {
  dockerd = await startDockerd({ label: 'watch' });
  const work = tempDir('cdk-docker-watch-docker-');
  proj = path.join(work, 'proj');
  fs.mkdirSync(path.join(proj, 'site'), { recursive: true });
  fs.writeFileSync(path.join(proj, 'site', 'index.html'), 'v1\n');
  writeJsApp(
    proj,
    `const app = new cdk.App();
const stack = new cdk.Stack(app, 'watch-docker');
const img = new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(BASE_ARCHIVE)}, tag: 'busybox:examples' });
new cdk.Container(stack, 'web', {
  image: img,
  networkMode: 'none',
  stopTimeout: '1s',
  command: ['sh', '-c', 'echo web up; trap "exit 0" TERM; while true; do sleep 0.2; done'],
  develop: { watch: [{ path: './site', target: '/srv/site', action: 'sync' }] },
});
app.synth();`,
  );
  env = { DOCKER_HOST: dockerd.host, DOCKER_CONTEXT: '', CDK_DOCKER_ENGINE: 'docker', CDK_DOCKER_ROOT: path.join(work, 'root') };
}, 60_000);

afterAll(async () => {
  if (watcher && watcher.child.exitCode === null) {
    watcher.child.kill('SIGKILL');
    await watcher.done;
  }
  if (dockerd) {
    const ids = dockerd.docker(['ps', '-aq']).split('\n').filter(Boolean);
    if (ids.length) dockerd.docker(['rm', '-f', ...ids]);
    await dockerd.stop();
  }
  removeTempDirs();
}, 60_000);

const inContainer = (script: string): string => dockerd!.docker(['exec', 'watch-docker-web', 'sh', '-c', script]);
const containerId = (): string => dockerd!.docker(['inspect', '-f', '{{.Id}} {{.State.StartedAt}} {{.State.Status}}', 'watch-docker-web']).trim();

test('watch --engine docker syncs a changed file into the running container, removes a deleted one, streams its logs, and leaves it running on Ctrl-C', async () => {
  watcher = startProgram(CLI, ['watch'], proj, env);
  const seen = (text: string) => until(`"${text}" in the watch's output`, () => watcher!.output().includes(text), 60_000, () => watcher!.output());
  await seen('Watching for changes');
  await seen('web | web up');
  const before = containerId();
  expect(before).toMatch(/ running$/);

  fs.writeFileSync(path.join(proj, 'site', 'index.html'), 'v2\n');
  await until('the synced file', () => inContainer('cat /srv/site/index.html') === 'v2\n', 30_000);
  await seen('web: synced /srv/site/index.html');
  fs.mkdirSync(path.join(proj, 'site', 'sub'));
  fs.writeFileSync(path.join(proj, 'site', 'sub', 'page.txt'), 'page\n');
  await until('the new folder and file', () => inContainer('cat /srv/site/sub/page.txt') === 'page\n', 30_000);
  fs.rmSync(path.join(proj, 'site', 'sub'), { recursive: true });
  await until('the removed folder to be gone', () => inContainer('test -e /srv/site/sub && echo there || echo gone') === 'gone\n', 30_000);
  expect(containerId()).toBe(before);
  expect(watcher.output()).not.toContain('Changed:');

  watcher.child.kill('SIGINT');
  const end = await watcher.done;
  expect(end.code).toBe(0);
  expect(end.stdout).toContain('Stopped watching; the stack keeps running.');
  expect(containerId()).toBe(before);
});
