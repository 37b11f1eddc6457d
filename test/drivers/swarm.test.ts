import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { App, Config, Container, DependencyCondition, Image, Network, Restart, Secret, Stack, Testing, Volume } from '../../lib/constructs';
import type { ContainerProps } from '../../lib/constructs';
import { ContainerConditionError, lastOutput, LABELS, SwarmDriver, swarmDriver } from '../../lib/drivers';
import type { Plan } from '../../lib/plan/types';
import { applyDiff, ApplyEvent, destroyStack } from '../../lib/reconcile/apply';
import { diffStack } from '../../lib/reconcile/diff';
import { driftStack } from '../../lib/reconcile/drift';
import { hasChanges, renderDiff } from '../../lib/reconcile/render';
import type { Change } from '../../lib/reconcile/types';
import { observePlan } from '../../lib/toolkit/observe';
import { CdkDockerError, ValidationError } from '../../lib/core/errors';
import { cdkDocker, ROOT, removeTempDirs, tempDir, until, writeJsApp } from '../helpers/cli';
import { BASE_ARCHIVE } from '../helpers/stack';
import { hostIptablesOfOurs, startSwarm, TestSwarm } from '../helpers/swarm';
import { driverConformance } from './conformance';

jest.setTimeout(120_000);

/**
 * The Swarm driver against a real single-node swarm (test/helpers/swarm.ts: a private dockerd in a
 * network namespace of its own, `docker swarm init`), one for the whole file. The stacks are
 * `swarm-…`; host-mode ports 19100–19199 are this file's (inside the node's namespace, reached
 * over the swarm's bridge). This kernel has no IPVS, so the routing mesh and service VIPs do not
 * carry traffic here: published ports are checked as the swarm reports them, traffic goes to
 * host-mode ports (test/drivers/swarm-cluster.test.ts has the mesh where IPVS is there).
 */
let swarm: TestSwarm;
let driver: SwarmDriver;
let iptablesBefore: string[];
const IMAGE = 'busybox:examples';

beforeAll(async () => {
  execFileSync('bash', [path.join(ROOT, 'examples', 'base', 'make-busybox-archive.sh')], { stdio: 'inherit' });
  iptablesBefore = hostIptablesOfOurs();
  swarm = await startSwarm({ nodes: 1, label: 'swarm-drv' });
  swarm.loadImage(BASE_ARCHIVE);
  driver = swarmDriver({ DOCKER_HOST: swarm.host }, {}, { convergeTimeoutMs: 180_000, lockLeaseSeconds: 6 });
}, 180_000);

afterAll(async () => {
  removeTempDirs();
  if (driver) await driver.close();
  if (swarm) await swarm.stop();
  expect(hostIptablesOfOurs()).toEqual(iptablesBefore);
}, 180_000);

const docker = (args: string[]): string => swarm.manager.docker(args);

driverConformance(
  'swarm',
  async () => ({
    driver,
    baseImageRef: IMAGE,
    cleanup: async () => undefined,
  }),
  'services',
);

const loop = ['sh', '-c', 'trap "exit 0" TERM; echo up; while true; do sleep 0.2; done'];

/** A stack `swarm-<name>` of this file's app, made by `build`. */
function stackOf(name: string, build: (stack: Stack, image: Image) => void, env: { [k: string]: string } = {}): Plan {
  const app: App = Testing.app({ baseDir: tempDir('cdk-docker-swarm-app-'), env });
  const stack = new Stack(app, `swarm-${name}`);
  build(stack, Image.fromRegistry(stack, 'base', IMAGE, { pullPolicy: 'never' }));
  return Testing.synth(stack);
}

async function diffNow(plan: Plan) {
  const { observed, images } = await observePlan(plan, driver);
  return { diff: diffStack(plan, observed, images, driver.capabilities), observed, images };
}

/** Applies `plan`; the apply's events. */
async function apply(plan: Plan, events: ApplyEvent[] = [], env: NodeJS.ProcessEnv = {}): Promise<ApplyEvent[]> {
  const now = await diffNow(plan);
  await applyDiff(plan, now.diff, now.observed, driver, { images: now.images, waitTimeoutMs: 60_000, env, onEvent: (e) => events.push(e) });
  return events;
}

async function rejection(p: Promise<unknown>): Promise<CdkDockerError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CdkDockerError) return e;
    throw e;
  }
  throw new Error('expected a rejection, but it resolved');
}

/** The first line a TCP server at address:port sends, or the error. */
function readLine(address: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port, timeout: 3000 }, () => undefined);
    let data = '';
    s.on('data', (d) => (data += d));
    s.on('end', () => resolve(data.trim()));
    s.on('error', (e) => resolve(`error ${e.message}`));
    s.on('timeout', () => {
      s.destroy();
      resolve('timeout');
    });
  });
}

const reasonsOf = (c: Change | undefined) => (c?.reasons ?? []).map((r) => `${r.field} ${r.needs}${r.effect ? ` (${r.effect})` : ''}`);

describe('a stack on a swarm', () => {
  const web = (stack: Stack, image: Image, over: Partial<ContainerProps> = {}, db?: Container) => {
    const front = new Network(stack, 'front');
    new Volume(stack, 'data');
    return new Container(stack, 'web', {
      image,
      command: ['sh', '-c', 'trap "exit 0" TERM; echo web up; while true; do echo "hello from $GREETING" | nc -l -p 80; done'],
      env: { GREETING: 'v1' },
      replicas: 2,
      networks: [{ network: front, aliases: ['www'] }],
      ports: [{ containerPort: 80, hostPort: 19101, mode: 'host' }],
      healthcheck: { test: 'true', interval: '300ms', retries: 1 },
      restart: Restart.ALWAYS,
      labels: { app: 'web' },
      deploy: { placement: { maxReplicasPerNode: 2 }, updateConfig: { monitor: '1s' } },
      ...(db ? { dependsOn: [{ container: db, condition: DependencyCondition.HEALTHY }] } : {}),
      ...over,
    });
  };
  const db = (stack: Stack, image: Image) =>
    new Container(stack, 'db', { image, command: loop, healthcheck: { test: 'true', interval: '300ms', retries: 1 }, restart: Restart.ALWAYS, mounts: [{ type: 'volume', source: Volume.fromName(stack, 'dbdata', 'swarm-e2e-dbdata'), target: '/data' }] });

  const probe = (stack: Stack, image: Image) =>
    new Container(stack, 'probe', {
      image,
      command: ['sh', '-c', 'trap "exit 0" TERM; while true; do echo "probe answers" | nc -l -p 80; done'],
      ports: [{ containerPort: 80, hostPort: 19101, mode: 'host' }],
      restart: Restart.ALWAYS,
    });
  const plan1 = () =>
    stackOf('e2e', (s, i) => {
      web(s, i, { ports: [{ containerPort: 80, mode: 'host' }] }, db(s, i));
      probe(s, i);
    });
  /** The stack with web changed by `over` (env v2, 3 replicas, another update parallelism unless said). */
  const plan2 = (over: Partial<ContainerProps> = {}) =>
    stackOf('e2e', (s, i) => {
      web(s, i, { env: { GREETING: 'v2' }, replicas: 3, ports: [{ containerPort: 80, mode: 'host' }], deploy: { placement: { maxReplicasPerNode: 3 }, updateConfig: { monitor: '1s', parallelism: 2 } }, ...over }, db(s, i));
      probe(s, i);
    });

  test('apply creates services in dependency order, waits until they converge with live progress, and then plans no changes', async () => {
    const events = await apply(plan1());
    const progress = events.filter((e) => e.phase === 'progress').map((e) => e.message);
    expect(progress).toContain('swarm-e2e-web 2/2 running');
    expect(progress.some((m) => /^swarm-e2e-web [01]\/2 running$/.test(m ?? ''))).toBe(true);
    // db was healthy before web was created.
    const order = events.filter((e) => e.phase !== 'progress' && e.change.type === 'container').map((e) => `${e.phase} ${e.change.name}`);
    expect(order.indexOf('done swarm-e2e-db')).toBeLessThan(order.indexOf('start swarm-e2e-web'));
    expect(events.find((e) => e.phase === 'done' && e.change.name === 'swarm-e2e-web')?.message).toBe('created: 2/2 running');

    const again = await diffNow(plan1());
    expect(renderDiff(again.diff, { color: false })).toBe('No changes. The stack matches the plan.\n');
    const observed = again.observed;
    expect(observed.networks.map((n) => `${n.name} ${n.driver}`)).toEqual(['swarm-e2e-front overlay']);
    expect(observed.containers.map((c) => `${c.name} ${c.status}`)).toEqual(['swarm-e2e-db running', 'swarm-e2e-probe running', 'swarm-e2e-web running', 'swarm-e2e-web-2 running']);
    // Ours on the service and on its task template.
    const inspect = JSON.parse(docker(['service', 'inspect', 'swarm-e2e-web']))[0];
    expect(inspect.Spec.Labels).toMatchObject({ [LABELS.stack]: 'swarm-e2e', [LABELS.path]: 'web' });
    expect(inspect.Spec.Labels[LABELS.specHash]).toMatch(/^sha256:/);
    expect(inspect.Spec.TaskTemplate.ContainerSpec.Labels).toEqual({ app: 'web', [LABELS.stack]: 'swarm-e2e', [LABELS.path]: 'web' });
    expect(inspect.Spec.TaskTemplate.RestartPolicy).toMatchObject({ Condition: 'any', MaxAttempts: 0 });
    expect(inspect.Spec.UpdateConfig).toMatchObject({ FailureAction: 'rollback', Monitor: 1e9 });
    // The published port: a host-mode port answers on the node.
    expect(observed.containers.find((c) => c.name === 'swarm-e2e-probe')!.ports).toEqual([{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 19101 }]);
    await until('the probe to answer on the node', async () => (await readLine(swarm.manager.address, 19101)) === 'probe answers', 20_000);
    expect(await lastOutput(driver, 'swarm-e2e-web', 10)).toMatch(/web up/);
    const exec = await driver.exec('swarm-e2e-web', ['sh', '-c', 'echo $GREETING; nslookup www >/dev/null && echo resolved'], { stdout: collector.reset() });
    expect(exec.exitCode).toBe(0);
    expect(collector.text).toBe('v1\nresolved\n');
  });

  test('diff says per field whether a change rolls the tasks, only scales, or touches only the service', async () => {
    const changed = plan2();
    const { diff } = await diffNow(changed);
    const webChange = diff.changes.find((c) => c.path === 'web');
    expect(webChange?.action).toBe('update');
    expect(webChange?.name).toBe('swarm-e2e-web');
    expect(reasonsOf(webChange).sort()).toEqual([
      'deploy.placement.maxReplicasPerNode update (rolls tasks)',
      'deploy.updateConfig.parallelism update (metadata only)',
      'env.GREETING update (rolls tasks)',
      'replicas update (scale only)',
    ]);
    expect(diff.changes.filter((c) => c.action !== 'no-op').map((c) => c.path)).toEqual(['web']);
    const text = renderDiff(diff, { color: false });
    expect(text).toContain('  ~ container web (swarm-e2e-web)\n');
    expect(text).toContain('      env.GREETING: "v1" → "v2" (rolls tasks)\n');
    expect(text).toContain('      replicas: 2 → 3 (scale only)\n');
    // A new name cannot be given to a service: replaced.
    const renamed = stackOf('e2e', (s, i) => {
      web(s, i, { name: 'swarm-e2e-www', ports: [{ containerPort: 80, mode: 'host' }] }, db(s, i));
      probe(s, i);
    });
    const r = (await diffNow(renamed)).diff.changes.find((c) => c.path === 'web');
    expect(r?.action).toBe('replace');
    expect(reasonsOf(r)).toEqual(['name replace']);

    // Applied: the update rolls, scales, and converges; then nothing to do.
    const events = await apply(changed);
    expect(events.find((e) => e.phase === 'done' && e.change.name === 'swarm-e2e-web')?.message).toMatch(/^updated \(.*env\.GREETING.*\): 3\/3 running$/);
    expect(events.some((e) => e.phase === 'progress' && /^swarm-e2e-web updating \d\/3$/.test(e.message ?? ''))).toBe(true);
    expect(hasChanges((await diffNow(changed)).diff)).toBe(false);
    const exec = await driver.exec('swarm-e2e-web', ['sh', '-c', 'echo $GREETING'], { stdout: collector.reset() });
    expect(`${exec.exitCode} ${collector.text}`).toBe('0 v2\n');
  });

  test('drift: a service scaled and changed by hand, tasks that cannot run, a removed service and an orphan', async () => {
    const plan = plan2();
    docker(['service', 'update', '--detach', '--env-add', 'HAND=1', '--replicas', '1', 'swarm-e2e-web']);
    docker(['service', 'update', '--detach', '--constraint-add', 'node.labels.nowhere==true', 'swarm-e2e-db']);
    docker(['service', 'create', '--detach', '--name', 'swarm-e2e-stray', '--label', `${LABELS.stack}=swarm-e2e`, '--label', `${LABELS.path}=stray`, IMAGE, ...loop]);
    await until('db to have no running task', async () => (await driver.observe('swarm-e2e')).containers.some((c) => c.name === 'swarm-e2e-db' && c.status !== 'running'), 30_000);
    const { observed, images } = await observePlan(plan, driver);
    const drift = driftStack(plan, observed, images, driver.capabilities);
    const found = drift.findings.map((f) => `${f.category} ${f.name}: ${f.reasons.map((r) => `${r.field} ${r.before ?? ''} → ${r.after ?? ''}`).join(', ')}`);
    expect(found).toEqual(
      expect.arrayContaining([
        'stopped swarm-e2e-db: status 0/1 tasks running → 1/1',
        expect.stringMatching(/^changed swarm-e2e-db: deploy\.placement\.constraints \["node\.labels\.nowhere ?== ?true"\] → \[\]/),
        expect.stringMatching(/^changed swarm-e2e-web: .*env\.HAND "1" → .*replicas 1 → 3/),
        'orphan swarm-e2e-stray: ',
      ]),
    );
    docker(['service', 'rm', 'swarm-e2e-db']);
    const later = await observePlan(plan, driver);
    const gone = driftStack(plan, later.observed, later.images, driver.capabilities);
    expect(gone.findings.map((f) => `${f.category} ${f.name}`)).toEqual(expect.arrayContaining(['missing swarm-e2e-db', 'orphan swarm-e2e-stray']));
    // apply repairs all of it, the orphan removed.
    await apply(plan);
    const after = await diffNow(plan);
    expect(hasChanges(after.diff)).toBe(false);
    expect(after.observed.containers.map((c) => c.name)).toEqual(['swarm-e2e-db', 'swarm-e2e-probe', 'swarm-e2e-web', 'swarm-e2e-web-2', 'swarm-e2e-web-3']);
  });

  test('an update whose tasks do not become healthy is rolled back by the swarm; apply fails naming the service, the task error and its output', async () => {
    const broken = plan2({
      env: { GREETING: 'v3' },
      command: ['sh', '-c', 'echo broken-version-starting; trap "exit 0" TERM; while true; do sleep 0.2; done'],
      healthcheck: { test: 'false', interval: '300ms', retries: 1 },
      deploy: { updateConfig: { monitor: '1s', parallelism: 2 } },
    });
    const e = await rejection(apply(broken));
    expect(e.message).toMatch(/swarm-e2e-web/);
    expect(e.message).toMatch(/its update failed and was rolled back by the swarm/);
    expect(e.message).toMatch(/; its task [0-9a-z]{12} [a-z]+: /);
    expect(e.message).toContain('  | broken-version-starting');
    // The service runs its previous version.
    const exec = await driver.exec('swarm-e2e-web', ['sh', '-c', 'echo $GREETING'], { stdout: collector.reset() });
    expect(`${exec.exitCode} ${collector.text}`).toBe('0 v2\n');
  }, 240_000);

  test('destroy removes services, networks and the lock, and keeps volumes', async () => {
    const plan = plan2();
    await driver.lockStack('swarm-e2e', () => destroyStack('swarm-e2e', plan, driver));
    const left = await driver.observe('swarm-e2e');
    expect(left.containers).toEqual([]);
    expect(left.networks).toEqual([]);
    expect(docker(['service', 'ls', '-q']).trim()).toBe('');
    expect(docker(['config', 'ls', '--format', '{{.Name}}']).trim()).toBe('');
    expect(docker(['network', 'ls', '--filter', `label=${LABELS.stack}=swarm-e2e`, '-q']).trim()).toBe('');
    expect(docker(['volume', 'ls', '--format', '{{.Name}}']).split('\n').filter(Boolean).sort()).toEqual(['swarm-e2e-data', 'swarm-e2e-dbdata']);
    docker(['volume', 'rm', 'swarm-e2e-data', 'swarm-e2e-dbdata']);
  });
});

describe('the CLI with --engine swarm', () => {
  test('apply shows the plan and a live line per service, waits for the dependency, and then diff, drift and destroy agree', () => {
    const dir = tempDir('cdk-docker-swarm-cli-');
    writeJsApp(
      dir,
      `const app = new cdk.App();
const stack = new cdk.Stack(app, 'swarm-cli');
const base = cdk.Image.fromRegistry(stack, 'base', '${IMAGE}', { pullPolicy: 'never' });
const loop = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'];
const db = new cdk.Container(stack, 'db', { image: base, command: loop, restart: 'always', healthcheck: { test: 'true', interval: '300ms', retries: 1 } });
new cdk.Container(stack, 'web', { image: base, command: loop, restart: 'always', replicas: 2, deploy: { updateConfig: { order: 'start-first' } }, dependsOn: [{ container: db, condition: 'healthy' }] });
app.synth();`,
    );
    const env = { DOCKER_HOST: swarm.host, CDK_DOCKER_ROOT: path.join(dir, 'root'), CDK_DOCKER_RUNROOT: path.join(dir, 'run') };
    const applied = cdkDocker(['apply', '--engine', 'swarm', '--auto-approve'], dir, env);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('  + container web (swarm-cli-web)');
    expect(applied.stdout).toContain('db (swarm-cli-db): swarm-cli-db 1/1 running\n');
    expect(applied.stdout).toContain('web (swarm-cli-web): swarm-cli-web 2/2 running\n');
    expect(applied.stdout).toContain('Apply complete! Resources: 2 added, 0 changed, 0 replaced, 0 destroyed.');
    expect(applied.stdout.indexOf('swarm-cli-db 1/1 running')).toBeLessThan(applied.stdout.indexOf('swarm-cli-web 0/2 running'));
    const diff = cdkDocker(['diff', '--engine', 'swarm', '--detailed-exitcode'], dir, env);
    expect(`${diff.code} ${diff.stdout}`).toContain('0 No changes. The stack matches the plan.');
    expect(cdkDocker(['drift', '--engine', 'swarm'], dir, env).code).toBe(0);
    const destroyed = cdkDocker(['destroy', '--engine', 'swarm', '--auto-approve'], dir, env);
    expect(destroyed.code).toBe(0);
    expect(docker(['service', 'ls', '--filter', 'label=io.cdk-docker.stack=swarm-cli', '-q']).trim()).toBe('');
    expect(docker(['config', 'ls', '-q']).trim()).toBe('');
  });
});

describe('services one by one', () => {
  test('a one-shot service completes; one that exits 3 fails the wait naming it with its last output', async () => {
    const plan = stackOf('jobs', (s, i) => {
      new Container(s, 'ok', { image: i, command: ['sh', '-c', 'echo job done'] });
      new Container(s, 'bad', { image: i, command: ['sh', '-c', 'echo starting; echo boom-line >&2; exit 3'] });
    });
    const e = await rejection(apply(plan));
    expect(e.message).toMatch(/swarm-jobs-bad cannot run its tasks \(1 failed\)/);
    expect(e.message).toContain('  | boom-line');
    await driver.wait('swarm-jobs-ok', 'completed', 30_000);
    expect(await lastOutput(driver, 'swarm-jobs-ok', 5)).toBe('job done\n');
    const w = await rejection(driver.wait('swarm-jobs-bad', 'completed', 30_000));
    expect(w).toBeInstanceOf(ContainerConditionError);
    expect(w.message).toContain('swarm-jobs-bad');
    expect(w.message).toContain('boom-line');
    // A service with no healthcheck never becomes healthy.
    expect((await rejection(driver.wait('swarm-jobs-ok', 'healthy', 5_000))).message).toMatch(/has no healthcheck/);
    await destroyStack('swarm-jobs', plan, driver);
    await destroyStack('swarm-jobs', plan, driver);
    expect(await driver.observe('swarm-jobs')).toEqual({ networks: [], volumes: [], containers: [] });
  });

  test('secrets and configs are Swarm secrets and configs under content-addressed names; a change rolls the tasks and the old ones go', async () => {
    const env = { SWARM_TEST_TOKEN: 's3cr3t-swarm' };
    const files = (text: string) =>
      stackOf(
        'files',
        (s, i) => {
          new Container(s, 'svc', {
            image: i,
            command: loop,
            restart: Restart.ALWAYS,
            secrets: [{ secret: Secret.fromEnv('SWARM_TEST_TOKEN'), target: '/run/secrets/token' }],
            configs: [{ config: Config.fromString(text), target: '/etc/app.conf', mode: 0o440 }],
          });
        },
        env,
      );
    await apply(files('port=1\n'), [], env);
    const read = async () => {
      const r = await driver.exec('swarm-files-svc', ['sh', '-c', 'cat /run/secrets/token; echo; cat /etc/app.conf; stat -c %a /etc/app.conf'], { stdout: collector.reset() });
      return `${r.exitCode} ${collector.text}`;
    };
    expect(await read()).toBe('0 s3cr3t-swarm\nport=1\n440\n');
    const names = () => [...docker(['secret', 'ls', '--format', '{{.Name}}']).split('\n'), ...docker(['config', 'ls', '--format', '{{.Name}}']).split('\n')].filter(Boolean).sort();
    const first = names();
    expect(first).toEqual([expect.stringMatching(/^swarm-files-svc-config-[0-9a-f]{16}$/), expect.stringMatching(/^swarm-files-svc-secret-[0-9a-f]{16}$/)]);
    // The secret's value is in neither name nor label.
    expect(JSON.stringify(JSON.parse(docker(['secret', 'inspect', first[1]])))).not.toContain('s3cr3t');
    const { diff } = await diffNow(files('port=2\n'));
    expect(reasonsOf(diff.changes.find((c) => c.path === 'svc'))).toEqual(['configs./etc/app.conf update (rolls tasks)']);
    await apply(files('port=2\n'), [], env);
    expect(await read()).toBe('0 s3cr3t-swarm\nport=2\n440\n');
    const second = names();
    expect(second[1]).toBe(first[1]);
    expect(second[0]).not.toBe(first[0]);
    expect(second).toHaveLength(2);
    await destroyStack('swarm-files', files('port=2\n'), driver);
    expect(names()).toEqual([]);
  });

  test('extra hosts, DNS settings, sysctls and ulimits are the service\'s, seen by its tasks, and diff as no change', async () => {
    const plan = stackOf('host', (s, i) => {
      new Container(s, 'svc', {
        image: i,
        command: loop,
        restart: Restart.ALWAYS,
        extraHosts: { 'db.internal': '10.161.0.9' },
        dns: ['10.161.0.53'],
        dnsSearch: ['swarm.test'],
        dnsOptions: ['ndots:2'],
        sysctls: { 'net.ipv4.ip_unprivileged_port_start': '80' },
        ulimits: { nofile: { soft: 1024, hard: 2048 } },
      });
    });
    await apply(plan);
    const r = await driver.exec('swarm-host-svc', ['sh', '-c', 'grep db.internal /etc/hosts; grep -v "^#" /etc/resolv.conf; cat /proc/sys/net/ipv4/ip_unprivileged_port_start; ulimit -Sn; ulimit -Hn'], { stdout: collector.reset() });
    expect(r.exitCode).toBe(0);
    expect(collector.text.split('\n').map((l) => l.trim()).filter(Boolean)).toEqual(['10.161.0.9\tdb.internal', 'search swarm.test', 'nameserver 10.161.0.53', 'options ndots:2', '80', '1024', '2048']);
    expect(hasChanges((await diffNow(plan)).diff)).toBe(false);
    await destroyStack('swarm-host', plan, driver);
  });

  test('a global service runs one task per node; a change of mode replaces the service', async () => {
    const global = stackOf('global', (s, i) => {
      new Container(s, 'agent', { image: i, command: loop, restart: Restart.ALWAYS, deploy: { mode: 'global' } });
    });
    const events = await apply(global);
    expect(events.find((e) => e.phase === 'done')?.message).toBe('created: 1/1 running');
    const now = await diffNow(global);
    expect(hasChanges(now.diff)).toBe(false);
    expect(now.observed.containers.map((c) => `${c.name} ${c.status}`)).toEqual(['swarm-global-agent running']);
    const replicated = stackOf('global', (s, i) => {
      new Container(s, 'agent', { image: i, command: loop, restart: Restart.ALWAYS, deploy: {} });
    });
    const change = (await diffNow(replicated)).diff.changes.find((c) => c.path === 'agent');
    expect(`${change?.action} ${reasonsOf(change).join(', ')}`).toBe('replace deploy.mode replace');
    await apply(replicated);
    expect(docker(['service', 'ls', '--filter', 'name=swarm-global-agent', '--format', '{{.Mode}} {{.Replicas}}']).trim()).toBe('replicated 1/1');
    await destroyStack('swarm-global', replicated, driver);
  });

  test('a service no node may run fails apply after a while, naming it and why', async () => {
    const plan = stackOf('unplaced', (s, i) => {
      new Container(s, 'svc', { image: i, command: loop, restart: Restart.ALWAYS, deploy: { placement: { constraints: ['node.labels.zone == nowhere'] } } });
    });
    const started = Date.now();
    const e = await rejection(apply(plan));
    expect(Date.now() - started).toBeLessThan(40_000);
    expect(e.message).toMatch(/svc: service swarm-unplaced-svc cannot place its tasks \(0\/1 running; no suitable node \(scheduling constraints not satisfied on 1 node\)\)/);
    expect(e.message).toContain('or change its placement');
    await destroyStack('swarm-unplaced', plan, driver);
  });

  test('listStacks names the stacks that have services, networks or volumes', async () => {
    const plan = stackOf('listed', (s, i) => {
      new Container(s, 'svc', { image: i, command: loop, restart: Restart.ALWAYS });
    });
    await apply(plan);
    await driver.createVolume('swarm-lonely-vol', { driver: 'local', driverOpts: {}, labels: {}, removalPolicy: 'retain' }, { [LABELS.stack]: 'swarm-lonely', [LABELS.path]: 'v', [LABELS.specHash]: 'sha256:1' });
    expect(await driver.listStacks()).toEqual(expect.arrayContaining(['swarm-listed', 'swarm-lonely']));
    await destroyStack('swarm-listed', plan, driver);
    await driver.removeVolume('swarm-lonely-vol');
    expect(await driver.listStacks()).not.toContain('swarm-listed');
    expect(await driver.listStacks()).not.toContain('swarm-lonely');
  });

  test('an apply killed after it made a service carries on with it; a service of that name not ours is a conflict', async () => {
    const plan = stackOf('resume', (s, i) => {
      new Container(s, 'svc', { image: i, command: loop, restart: Restart.ALWAYS, replicas: 2 });
    });
    // As if an apply had created the service and died before anything else.
    docker(['service', 'create', '--detach', '--name', 'swarm-resume-svc', '--replicas', '1', '--label', `${LABELS.stack}=swarm-resume`, '--label', `${LABELS.path}=svc`, IMAGE, 'true']);
    await apply(plan);
    expect(hasChanges((await diffNow(plan)).diff)).toBe(false);
    expect(docker(['service', 'ls', '--filter', 'name=swarm-resume-svc', '--format', '{{.Name}} {{.Replicas}}']).trim()).toBe('swarm-resume-svc 2/2');
    await destroyStack('swarm-resume', plan, driver);
    docker(['service', 'create', '--detach', '--name', 'swarm-resume-svc', IMAGE, ...loop]);
    const e = await rejection(apply(plan));
    expect(e.message).toContain('service swarm-resume-svc already exists and was not created by cdk-docker; remove it (docker service rm swarm-resume-svc)');
    docker(['service', 'rm', 'swarm-resume-svc']);
  });

  test('settings a service cannot have are refused at diff, naming the engine and the fix; nothing is made', async () => {
    const plan = stackOf('refused', (s, i) => {
      new Container(s, 'svc', { image: i, privileged: true, ports: ['127.0.0.1:19102:80'] });
    });
    const e = await rejection(diffNow(plan));
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).problems).toEqual([
      '[swarm-refused/svc] a Swarm service cannot be privileged, so the swarm engine cannot honour privileged; remove it (add the capabilities it needs with capAdd), or apply with --engine docker',
      '[swarm-refused/svc] a Swarm publishes a port on every address of its nodes, so the swarm engine cannot bind one to a hostIp; remove hostIp (firewall the port instead), or apply with --engine docker',
    ]);
    expect(await driver.observe('swarm-refused')).toEqual({ networks: [], volumes: [], containers: [] });
  });

  test('the lock is a swarm config: a stale one whose holder died on this machine is taken over; a live holder is named', async () => {
    const dead = execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).trim();
    const machine = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() + ' ' + fs.readlinkSync('/proc/self/ns/pid');
    const labels = { 'io.cdk-docker.lock': 'swarm-locked', 'io.cdk-docker.lock.holder': `cdk-docker (pid ${dead}) on gone`, 'io.cdk-docker.lock.boot': machine, 'io.cdk-docker.lock.process': `${dead} 1`, 'io.cdk-docker.lock.lease': '0' };
    swarm.manager.docker(['config', 'create', ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), 'cdk-docker-lock-swarm-locked', '-'], 'stale\n');
    expect(await driver.lockStack('swarm-locked', async () => docker(['config', 'ls', '--format', '{{.Name}}']).trim())).toBe('cdk-docker-lock-swarm-locked');
    expect(docker(['config', 'ls', '-q']).trim()).toBe('');
    // Held by us: a second holder is told who holds it and how to remove it.
    await driver.lockStack('swarm-locked', async () => {
      const e = await rejection(swarmDriver({ DOCKER_HOST: swarm.host }, {}, { machine: 'elsewhere' }).lockStack('swarm-locked', async () => 'never'));
      expect(e.message).toMatch(/^stack swarm-locked is being applied by cdk-docker \(pid \d+\) on .* \(its lock is the config cdk-docker-lock-swarm-locked on the swarm at unix:\/\/.*\); wait for it to finish, or, if that command is gone for good, remove the lock with `docker config rm cdk-docker-lock-swarm-locked`$/);
    });
  });
});

/** Collects what an exec writes. */
const collector = {
  text: '',
  reset(): NodeJS.WritableStream {
    this.text = '';
    const { Writable } = require('node:stream') as typeof import('node:stream');
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        this.text += chunk.toString();
        cb();
      },
    });
  },
};
