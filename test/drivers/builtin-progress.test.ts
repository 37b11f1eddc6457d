import * as fs from 'node:fs';
import * as path from 'node:path';
import { driverFor } from '../../lib/drivers';
import { recordProgress } from '../fixtures';
import type { ImageResource } from '../../lib/plan/types';
import { imageService, runtimeConfig } from '../../runtime';
import { tempDir } from '../helpers/cli';
import { busyboxRootfsTar } from '../helpers/images';
import { TestRegistry, startRegistry } from '../helpers/registry';

jest.setTimeout(60_000);

/**
 * The built-in driver's pulls and builds report to an ImageProgress as the Docker driver's do
 * (test/drivers/docker.test.ts): an image pushed from one private root to a local registry is
 * pulled into another, and built there from a Dockerfile without RUN (no container needed).
 */
let work: string;
let registry: TestRegistry;
const labels = { 'io.cdk-docker.stack': 's', 'io.cdk-docker.path': 'app', 'io.cdk-docker.spec-hash': 'sha256:1' };
const rootEnv = (name: string): NodeJS.ProcessEnv => ({ CDK_DOCKER_ROOT: path.join(work, name, 'root'), CDK_DOCKER_RUNROOT: path.join(work, name, 'run') });

beforeAll(async () => {
  work = tempDir('cdk-docker-builtin-progress-');
  registry = await startRegistry();
});

afterAll(async () => {
  await registry?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('a pull reports its layer from "Pulling fs layer" to "Pull complete" with its bytes, and a build its steps', async () => {
  const ref = `${registry.host}/team/busybox:1`;
  const source = imageService(runtimeConfig(rootEnv('source')));
  await source.import(fs.createReadStream(busyboxRootfsTar(work, ['sh', 'cat', 'sort'])), ref, { changes: ['ENV PATH=/bin', 'CMD ["sh"]'] });
  const pushed = await source.push(ref);
  const res = await fetch(`http://${registry.host}/v2/team/busybox/manifests/1`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } });
  const manifest = (await res.json()) as { layers: Array<{ digest: string; size: number }> };
  expect(manifest.layers).toHaveLength(1);
  const layer = manifest.layers[0].digest.slice(7, 19);

  const driver = driverFor('builtin', rootEnv('target'));
  const seen = recordProgress();
  const pull: ImageResource = { type: 'image', path: 'base', name: ref, dependsOn: [], spec: { source: 'registry', ref, pullPolicy: 'missing' } };
  const image = await driver.ensureImage(pull, labels, { progress: seen.progress });
  expect(image.id).toBe((await driver.image(ref))!.id);
  expect(seen.lines).toEqual(['1: Pulling from team/busybox', `Digest: ${pushed.digest}`, `Status: Downloaded newer image for ${ref}`]);
  expect([...seen.statuses.keys()]).toEqual([layer]);
  const statuses = seen.statuses.get(layer)!;
  expect(statuses[0]).toBe('Pulling fs layer');
  expect(statuses).toEqual(expect.arrayContaining(['Download complete', 'Extracting']));
  expect(statuses[statuses.length - 1]).toBe('Pull complete');
  const counted = seen.bytes.get(layer) ?? [];
  expect(counted.length).toBeGreaterThan(0);
  for (const [done, total] of counted) {
    expect(total).toBe(manifest.layers[0].size);
    expect(done).toBeLessThanOrEqual(total);
  }

  const context = path.join(work, 'context');
  fs.mkdirSync(context, { recursive: true });
  fs.writeFileSync(path.join(context, 'Dockerfile'), `FROM ${ref}\nARG WHO\nENV WHO=$WHO\nCMD ["sh"]\n`);
  const steps = recordProgress();
  const build: ImageResource = {
    type: 'image',
    path: 'app',
    name: 'docker.io/library/progress:latest',
    dependsOn: [],
    spec: { source: 'build', context, contextHash: `sha256:${'d'.repeat(64)}`, dockerfile: 'Dockerfile', buildArgs: { WHO: 'me' }, noCache: true },
  };
  expect((await driver.ensureImage(build, labels, { progress: steps.progress })).config.env).toMatchObject({ WHO: 'me' });
  // As Docker's classic builder, the labels come as a last step of their own.
  expect(steps.lines).toEqual([`Step 1/5 : FROM ${ref}`, 'Step 2/5 : ARG WHO', 'Step 3/5 : ENV WHO=$WHO', 'Step 4/5 : CMD ["sh"]', 'Step 5/5 : LABEL io.cdk-docker.spec-hash=sha256:1']);
});
