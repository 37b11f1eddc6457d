import * as path from 'node:path';
import { Container, Restart, Secret, Stack, Testing, Volume } from '../../lib';
import { DOCKER_DEFAULTS } from '../../lib/drivers/observed';
import type { ImageDefaults, ObservedContainer } from '../../lib/drivers/types';
import { generateStack } from '../../lib/import/compose/generate';
import { containersModel } from '../../lib/import/containers/model';
import { exportCompose } from '../../lib/import/export/compose';
import { FIXTURE_ENV, FIXTURES, fixtureApp } from '../fixtures';

const IMAGE: ImageDefaults = { cmd: ['sh'], entrypoint: [], env: { PATH: '/bin' }, workingDir: '', user: '', exposedPorts: ['80/tcp'], labels: { 'org.opencontainers.image.title': 'busybox' } };

/** A container as a driver reports one docker-compose 1.29 made. */
function composed(name: string, service: string, over: Partial<ObservedContainer['spec']> = {}): ObservedContainer {
  return {
    id: `${name.length.toString(16).padStart(2, '0')}${'ab'.repeat(31)}`,
    name,
    labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': service, 'org.opencontainers.image.title': 'busybox', team: 'blue' },
    imageId: 'sha256:1111',
    imageRef: 'busybox:1.36',
    status: 'running',
    exitCode: 0,
    restartCount: 0,
    networks: {},
    ports: [],
    spec: {
      command: ['sh'],
      env: { MODE: 'prod' },
      fullEnv: { PATH: '/bin', MODE: 'prod' },
      ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 }],
      publishAllPorts: false,
      mounts: [{ type: 'volume', source: 'shop_data', target: '/data', readOnly: false }],
      volumesFrom: [],
      networkMode: 'bridge',
      networks: [{ network: 'shop_default', aliases: [service, 'www'] }],
      restart: { policy: 'always', maxRetries: 0 },
      labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': service, 'org.opencontainers.image.title': 'busybox', team: 'blue' },
      init: false,
      readOnlyRootfs: false,
      capAdd: [],
      capDrop: [],
      privileged: false,
      expose: ['80/tcp'],
      ...over,
    },
  };
}

const model = (containers: ObservedContainer[]) =>
  containersModel({
    containers,
    networks: [{ id: 'n1', name: 'shop_default', labels: { 'com.docker.compose.network': 'default', 'com.docker.compose.project': 'shop' }, driver: 'bridge', subnet: '10.191.5.0/24', gateway: '10.191.5.1', internal: false, attachable: true }],
    volumes: [{ name: 'shop_data', labels: { 'com.docker.compose.volume': 'data' }, driver: 'local', driverOpts: {}, mountpoint: '/x' }],
    images: new Map([['sha256:1111', IMAGE]]),
    defaults: DOCKER_DEFAULTS,
    name: 'shop',
    dir: '/tmp/out',
  });

test('a compose-made container becomes its service\'s construct: names fixed, only what differs from the image, no tool labels', () => {
  const gen = generateStack(model([composed('shop_web_1', 'web', { healthcheck: { test: ['CMD', 'true'], intervalMs: 1000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0 } })]), {
    outDir: '/tmp/out',
    stackName: 'shop',
    env: {},
    origin: { header: '// header', description: '/** doc */' },
  });
  expect(gen.notImported).toEqual([]);
  expect(gen.mainTs).toContain(`const defaultNetwork = new Network(this, 'default', { name: 'shop_default', attachable: true, subnet: '10.191.5.0/24', gateway: '10.191.5.1' });`);
  expect(gen.mainTs).toContain(`const data = new Volume(this, 'data', { name: 'shop_data' });`);
  expect(gen.mainTs).toContain(`new Container(this, 'web', {
      image: 'busybox:1.36',
      name: 'shop_web_1',
      env: { MODE: 'prod' },
      ports: [{ containerPort: 80, hostPort: 8080 }],
      networks: [{ network: defaultNetwork, aliases: ['www'] }],
      mounts: [{ type: 'volume', source: data, target: '/data' }],
      healthcheck: { test: ['CMD', 'true'], interval: '1s' },
      restart: 'always',
      labels: { team: 'blue' },
    });`);
  expect(gen.mainTs.startsWith('// header\n')).toBe(true);
});

test('a variable whose name says it is a secret is written as Secret.fromEnv, never its value, with a warning', () => {
  const m = model([composed('shop_db_1', 'db', { env: { MODE: 'prod', DB_PASSWORD: 'hunter2', API_TOKEN: 't0k3n' } })]);
  expect(m.warnings).toEqual([
    "container shop_db_1: DB_PASSWORD looks like a secret: written as Secret.fromEnv('DB_PASSWORD'), not its value; export DB_PASSWORD before apply",
    "container shop_db_1: API_TOKEN looks like a secret: written as Secret.fromEnv('API_TOKEN'), not its value; export API_TOKEN before apply",
  ]);
  const gen = generateStack(m, { outDir: '/tmp/out', stackName: 'shop', env: {} });
  expect(gen.mainTs).toContain(`env: {
        MODE: 'prod',
        DB_PASSWORD: Secret.fromEnv('DB_PASSWORD'),
        API_TOKEN: Secret.fromEnv('API_TOKEN'),
      },`);
  expect(gen.mainTs).toContain(`import { App, Container, Network, Secret, Stack, Volume } from 'cdk-docker';`);
  expect(gen.mainTs).not.toContain('hunter2');
  expect(gen.mainTs).not.toContain('t0k3n');
});

test('a service label that is no valid construct id is not used: the container\'s name is', () => {
  const m = model([composed('shop_web_1', 'web/../*/evil\n')]);
  expect(Object.keys(m.services)).toEqual(['shop_web_1']);
});

test('export compose writes secrets as references, never their values, and escapes $ in plain values', () => {
  const stack = new Stack(fixtureApp({ env: FIXTURE_ENV }), 'shop');
  const data = new Volume(stack, 'data');
  new Container(stack, 'db', {
    image: 'busybox:1.36',
    env: { DB_PASSWORD: Secret.fromEnv('DB_PASSWORD'), PRICE: '5$' },
    secrets: [Secret.fromFile(path.join(FIXTURES, 'db-password.txt'))],
    mounts: [{ type: 'volume', source: data, target: '/data' }, { type: 'tmpfs', target: '/run', size: '1m', mode: 0o700 }],
    restart: Restart.onFailure(2),
  });
  const { text, warnings } = exportCompose(Testing.synth(stack), FIXTURES);
  expect(text).not.toContain(FIXTURE_ENV.DB_PASSWORD);
  expect(text).not.toContain('fixture-db-password');
  expect(text).toContain('DB_PASSWORD: ${DB_PASSWORD:?the secret DB_PASSWORD of db comes from the environment variable DB_PASSWORD; export it}');
  expect(text).toContain('PRICE: 5$$');
  expect(text).toContain('file: ./db-password.txt');
  expect(text).toContain('- /run:size=1048576,mode=700');
  expect(text).toContain('restart: on-failure:2');
  expect(warnings).toEqual([]);
});

test('tty, stdin_open, logging, platform and runtime go both ways: from a container to compose keys, from a plan to the exported file', () => {
  const m = model([composed('shop_web_1', 'web', { tty: true, stdinOpen: true, logging: { driver: 'local', options: { 'max-size': '10m' } }, runtime: 'runsc' })]);
  expect(m.services.web).toMatchObject({ tty: true, stdin_open: true, logging: { driver: 'local', options: { 'max-size': '10m' } }, runtime: 'runsc' });
  // The engine's defaults (observed as absent) give none of them.
  for (const k of ['tty', 'stdin_open', 'logging', 'runtime']) expect(model([composed('shop_web_1', 'web')]).services.web).not.toHaveProperty(k);

  const stack = new Stack(fixtureApp({ env: FIXTURE_ENV }), 'shop');
  const db = new Container(stack, 'db', { image: 'busybox:1.36', logging: { driver: 'none' } });
  new Container(stack, 'web', {
    image: 'busybox:1.36',
    tty: true,
    stdinOpen: true,
    logging: { driver: 'json-file', options: { 'max-size': '10m' } },
    platform: 'linux/amd64',
    runtime: 'runc',
    command: 'sh -c "echo hi"',
    dependsOn: [{ container: db, restart: true }],
  });
  const { text, warnings } = exportCompose(Testing.synth(stack), FIXTURES);
  for (const line of ['tty: true', 'stdin_open: true', 'driver: json-file', 'max-size: 10m', 'platform: linux/amd64', 'runtime: runc', 'driver: none', '- echo hi']) expect(text).toContain(line);
  expect(text).not.toContain('restart: true');
  expect(warnings).toEqual(['web: dependsOn restart is not exported: docker-compose 1.29 refuses depends_on restart (compose v2 takes it)']);
});
