import * as fs from 'node:fs';
import * as path from 'node:path';
import { imageService, runtimeConfig } from '../../runtime';
import type { ImageService } from '../../runtime/images';
import { tempDir } from '../helpers/cli';
import { TestDockerd, startDockerd } from '../helpers/dockerd';
import { busyboxRootfsTar } from '../helpers/images';
import { TestRegistry, startRegistry } from '../helpers/registry';

jest.setTimeout(120_000);

let work: string;
let registry: TestRegistry;
let dockerd: TestDockerd;
let svc: ImageService;
let id: string;

beforeAll(async () => {
  work = tempDir('cdk-docker-interop-');
  [registry, dockerd] = await Promise.all([startRegistry(), startDockerd()]);
  svc = imageService(runtimeConfig({ CDK_DOCKER_ROOT: path.join(work, 'root') }));
  id = (await svc.import(fs.createReadStream(busyboxRootfsTar(work)), 'interop/busybox:1', { changes: ['CMD ["sh"]'] })).id;
});

afterAll(async () => {
  await Promise.all([registry?.stop(), dockerd?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

test('an image pushed by cdk-docker is pulled by docker with the same id', async () => {
  const ref = `${registry.host}/interop/from-cdk:1`;
  await svc.tag(id, ref);
  const pushed = await svc.push(ref);
  dockerd.docker(['pull', ref]);
  expect(dockerd.docker(['image', 'inspect', '--format', '{{.Id}} {{index .RepoDigests 0}} {{json .Config.Cmd}}', ref]).trim()).toBe(`${id} ${ref.replace(':1', '')}@${pushed.digest} ["sh"]`);
});

test('an image pushed by docker is pulled and inspected by cdk-docker', async () => {
  const file = path.join(work, 'to-docker.tar');
  await svc.save(['interop/busybox:1'], fs.createWriteStream(file));
  dockerd.docker(['load', '-i', file]);
  const ref = `${registry.host}/interop/from-docker:2`;
  dockerd.docker(['tag', 'interop/busybox:1', ref]);
  const digest = /digest: (sha256:[a-f0-9]{64})/.exec(dockerd.docker(['push', ref]))![1];
  const other = imageService(runtimeConfig({ CDK_DOCKER_ROOT: path.join(work, 'root2') }));
  const pulled = await other.pull(ref);
  expect(pulled.id).toBe(id);
  expect(other.inspect(ref)).toMatchObject({ Id: id, RepoDigests: [`${ref.replace(':2', '')}@${digest}`], Config: { Cmd: ['sh'] } });
});

test('runtime save output loads with docker load, and docker save output loads with runtime load', async () => {
  const ours = path.join(work, 'ours.tar');
  await svc.save(['interop/busybox:1'], fs.createWriteStream(ours));
  dockerd.docker(['rmi', '-f', 'interop/busybox:1']);
  expect(dockerd.docker(['load', '-i', ours]).trim()).toBe('Loaded image: interop/busybox:1');
  expect(dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', 'interop/busybox:1']).trim()).toBe(id);

  const theirs = path.join(work, 'theirs.tar');
  dockerd.docker(['tag', 'interop/busybox:1', 'interop/saved-by-docker:3']);
  dockerd.docker(['save', '-o', theirs, 'interop/saved-by-docker:3']);
  const other = imageService(runtimeConfig({ CDK_DOCKER_ROOT: path.join(work, 'root3') }));
  expect(await other.load(fs.createReadStream(theirs))).toEqual(['Loaded image: interop/saved-by-docker:3']);
  expect(other.inspect('interop/saved-by-docker:3')).toMatchObject({ Id: id });
});
