import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { CliResult, ROOT, cdkDocker, removeTempDirs, sleep, tempDir, until, writeJsApp } from '../helpers/cli';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';
import { hostIptablesOfOurs, requireIpvs, startSwarm, TestSwarm } from '../helpers/swarm';

/**
 * A three-node swarm on this machine (test/helpers/swarm.ts): one manager, two workers, each a
 * dockerd in a network namespace of its own, joined over a bridge. One cluster for the whole file.
 * Ports 19200–19299 are this file's (inside the nodes' namespaces, reached over the bridge).
 *
 * Swarm's routing mesh and service VIPs are IPVS in the kernel. The tests that need them call
 * requireIpvs() and fail loudly where it is missing (a missing prerequisite, never a skip); the
 * others use what works without it — endpoint mode dnsrr, host-mode ports, names of tasks.
 */
let swarm: TestSwarm;
/** The examples' offline image (examples/base), loaded on every node. */
const IMAGE = 'busybox:examples';
let iptablesBefore: string[];
/** A private built-in root (networks on 10.166/10.167) for the example on one machine. */
let world: StackWorld;
let work: string;

beforeAll(async () => {
  execFileSync('bash', [path.join(ROOT, 'examples', 'base', 'make-busybox-archive.sh')], { stdio: 'inherit' });
  iptablesBefore = hostIptablesOfOurs();
  swarm = await startSwarm({ nodes: 3, label: 'cluster' });
  swarm.loadImage(BASE_ARCHIVE);
  world = stackWorld('cdk-docker-cluster-builtin-', 166);
  work = tempDir('cdk-docker-cluster-');
  swarm.labelNode(2, { zone: 'b' });
}, 120_000);

afterAll(async () => {
  const left = await tearDownWorld(world);
  if (swarm) await swarm.stop();
  removeTempDirs();
  expect(left).toEqual([]);
}, 120_000);

const docker = (args: string[]) => swarm.manager.docker(args);

/** The running tasks of a service: the node each runs on. */
function runningTasks(service: string): string[] {
  return docker(['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}', service])
    .split('\n')
    .filter((l) => / Running /.test(l))
    .map((l) => l.split(' ')[0]);
}

async function untilRunning(service: string, count: number, where?: (nodes: string[]) => boolean): Promise<string[]> {
  let nodes: string[] = [];
  await until(
    `${count} running tasks of ${service}`,
    () => {
      nodes = runningTasks(service);
      return nodes.length === count && (!where || where(nodes));
    },
    90_000,
    () => docker(['service', 'ps', '--no-trunc', service]),
  );
  return nodes;
}

/** GET http://address:port/path from the host (over the swarm's bridge for a node); the body, or the error. */
function get(address: string, port: number, urlPath = '/'): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host: address, port, path: urlPath, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => resolve(`error: ${e.message}`));
  });
}

/** A web server answering with the name of the node it runs on (httpd as PID 1 ignores SIGTERM: killed after 1 s). */
const WEB = ['--hostname', '{{.Node.Hostname}}', '--stop-grace-period', '1s', IMAGE, 'sh', '-c', 'hostname > /tmp/index.html && exec httpd -f -p 80 -h /tmp'];

function removeServices(...names: string[]): void {
  docker(['service', 'rm', ...names]);
}

describe('the three-node test swarm, driven with the docker CLI', () => {
  test('it has one manager and two workers, each on its own address', () => {
    const lines = docker(['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}']).trim().split('\n').map((l) => l.trim()).sort();
    expect(lines).toEqual(['cluster-0 Ready Active Leader', 'cluster-1 Ready Active', 'cluster-2 Ready Active']);
    const addresses = swarm.nodes.map((n) => docker(['node', 'inspect', '--format', '{{.Status.Addr}}', n.id]).trim());
    expect(new Set(addresses).size).toBe(3);
    expect(addresses).toEqual(swarm.nodes.map((n) => n.address));
  });

  test('three replicas spread over the three nodes', async () => {
    docker(['service', 'create', '-d', '--name', 'spread', '--replicas', '3', ...WEB]);
    try {
      const nodes = await untilRunning('spread', 3);
      expect(nodes.sort()).toEqual(['cluster-0', 'cluster-1', 'cluster-2']);
    } finally {
      removeServices('spread');
    }
  }, 120_000);

  test('a task on one node finds a service on another node by name over an overlay and talks to it', async () => {
    docker(['network', 'create', '-d', 'overlay', '--attachable', 'cluster-dns']);
    // dnsrr: the name resolves to the tasks themselves (a VIP needs IPVS; the routing-mesh test checks that).
    docker(['service', 'create', '-d', '--name', 'far', '--network', 'cluster-dns', '--endpoint-mode', 'dnsrr', '--constraint', 'node.hostname==cluster-1', ...WEB]);
    docker(['service', 'create', '-d', '--name', 'near', '--network', 'cluster-dns', '--constraint', 'node.hostname==cluster-2', IMAGE, 'sleep', '3600']);
    try {
      await untilRunning('far', 1);
      await untilRunning('near', 1);
      const client = swarm.nodes[2];
      const id = client.docker(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=near']).trim();
      const farIp = docker(['service', 'inspect', '--format', '{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}', 'far']);
      expect(farIp.trim()).toBe('');
      const lookup = client.docker(['exec', id, 'nslookup', 'far']);
      const taskIp = swarm.nodes[1].docker(['inspect', '--format', '{{(index .NetworkSettings.Networks "cluster-dns").IPAddress}}', swarm.nodes[1].docker(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=far']).trim()]).trim();
      expect(lookup).toContain(`Address: ${taskIp}`);
      const answer = client.docker(['exec', id, 'sh', '-c', "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 far 80"]);
      expect(answer.trim().split('\n').pop()).toBe('cluster-1');
    } finally {
      removeServices('far', 'near');
      await until('the overlay to be free', () => (docker(['network', 'rm', 'cluster-dns']), true), 30_000);
    }
  }, 120_000);

  test('a host-mode published port of a global service answers on every node\'s address', async () => {
    docker(['service', 'create', '-d', '--name', 'everywhere', '--mode', 'global', '--endpoint-mode', 'dnsrr', '--publish', 'mode=host,published=19201,target=80', ...WEB]);
    try {
      await untilRunning('everywhere', 3);
      for (const n of swarm.nodes) {
        await until(`${n.address}:19201 to answer`, async () => (await get(n.address, 19201)) === n.name, 30_000);
      }
      // The nodes' rules for it are in their own namespaces, none in the host's.
      expect(hostIptablesOfOurs()).toEqual(iptablesBefore);
      expect(swarm.nodes[1].exec('iptables-save', ['-t', 'nat'])).toMatch(/--dport 19201 /);
    } finally {
      removeServices('everywhere');
    }
  }, 120_000);

  test('the routing mesh answers a published port on every node\'s address, also where no task runs', async () => {
    requireIpvs();
    docker(['service', 'create', '-d', '--name', 'mesh', '--replicas', '1', '--constraint', 'node.hostname==cluster-1', '--publish', 'published=19202,target=80', ...WEB]);
    try {
      await untilRunning('mesh', 1);
      for (const n of swarm.nodes) {
        await until(`${n.address}:19202 to answer through the mesh`, async () => (await get(n.address, 19202)) === 'cluster-1', 30_000);
      }
    } finally {
      removeServices('mesh');
    }
  }, 120_000);

  test('draining a worker moves its tasks to the other nodes', async () => {
    docker(['service', 'create', '-d', '--name', 'movers', '--replicas', '3', ...WEB]);
    const worker = swarm.nodes[1];
    try {
      await untilRunning('movers', 3, (nodes) => nodes.includes(worker.name));
      docker(['node', 'update', '--availability', 'drain', worker.id]);
      const nodes = await untilRunning('movers', 3, (ns) => !ns.includes(worker.name));
      expect(new Set(nodes)).toEqual(new Set(['cluster-0', 'cluster-2']));
      await until(`no task of movers left running on ${worker.name}`, () => worker.docker(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=movers']).trim() === '', 30_000);
    } finally {
      docker(['node', 'update', '--availability', 'active', worker.id]);
      removeServices('movers');
    }
  }, 150_000);
});

/** Host port of the example's private copy (its own 8082 is left to users). */
const EXAMPLE_PORT = 19210;

/**
 * A private copy of examples/scale-out under the work dir, as a user would have it: its files,
 * the base archive, a tsconfig naming this checkout's lib, the app run by this checkout's tsx,
 * its host port moved to EXAMPLE_PORT.
 */
function privateExample(): string {
  const root = path.join(work, 'examples');
  const dir = path.join(root, 'scale-out');
  if (fs.existsSync(dir)) return dir;
  fs.cpSync(path.join(ROOT, 'examples', 'scale-out'), dir, { recursive: true, filter: (src) => !/\/cdk\.out$/.test(src) });
  fs.mkdirSync(path.join(root, 'base'), { recursive: true });
  fs.copyFileSync(BASE_ARCHIVE, path.join(root, 'base', 'busybox.tar'));
  const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', 'tsconfig.json'), 'utf8')) as { compilerOptions: { paths: object } };
  tsconfig.compilerOptions.paths = { 'cdk-docker': [path.join(ROOT, 'lib', 'index.ts')] };
  fs.writeFileSync(path.join(root, 'tsconfig.json'), JSON.stringify(tsconfig));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'cdk-docker.json'), 'utf8')) as { app: string };
  fs.writeFileSync(path.join(dir, 'cdk-docker.json'), JSON.stringify({ ...config, app: config.app.replace(/^npx tsx /, `${path.join(ROOT, 'node_modules', '.bin', 'tsx')} `) }));
  const main = path.join(dir, 'main.ts');
  const text = fs.readFileSync(main, 'utf8');
  if (!text.includes("ports: ['8082:80']")) throw new Error("examples/scale-out/main.ts no longer publishes '8082:80': update this test");
  fs.writeFileSync(main, text.replace("ports: ['8082:80']", `ports: ['${EXAMPLE_PORT}:80']`));
  return dir;
}

describe('examples/scale-out', () => {
  let dir: string;
  beforeAll(() => {
    dir = privateExample();
  });

  test('on one machine (the built-in engine): applies, answers on its port from store and a web replica, plans no changes, is destroyed', async () => {
    const cli = (args: string[]): CliResult => cdkDocker([...args, '--engine', 'builtin', '-o', path.join(work, 'plans-builtin')], dir, { ...world.env, CDK_DOCKER_ENGINE: '' });
    const applied = cli(['apply', '--auto-approve']);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('Apply complete! Resources: 7 added, 0 changed, 0 replaced, 0 destroyed.');
    // store is healthy before any web replica is created, web before front.
    const order = applied.stdout.split('\n').filter((l) => /: (creating|created and started)/.test(l)).map((l) => l.replace(/ \[.*$/, ''));
    expect(order.indexOf('store (scale-out-store): created and started')).toBeLessThan(order.indexOf('web (scale-out-web): creating…'));
    let body = '';
    await until(`the example to answer on ${EXAMPLE_PORT}`, async () => /^hello from the store\nserved by \S+$/.test((body = await get('127.0.0.1', EXAMPLE_PORT, '/cgi-bin/hello'))), 20_000, () => body);
    const noop = cli(['diff', '--detailed-exitcode']);
    expect(noop.stdout).toContain('No changes');
    expect(noop.code).toBe(0);
    const destroyed = cli(['destroy', '--auto-approve']);
    expect(destroyed.code).toBe(0);
    expect(world.rt(['ps', '-aq', '--filter', 'label=io.cdk-docker.stack=scale-out']).stdout).toBe('');
  }, 120_000);

  test('on the three-node swarm, unchanged: apply converges in dependency order, web spreads over the nodes, no perpetual diff, no drift', async () => {
    const applied = cli(dir, ['apply', '--auto-approve']);
    await withStack(dir, 'scale-out', async () => {
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
      expect(docker(['network', 'inspect', '--format', '{{.Driver}}', 'scale-out-backend']).trim()).toBe('overlay');
      expect(runningTasks('scale-out-web').sort()).toEqual(['cluster-0', 'cluster-1', 'cluster-2']);
      expect(runningTasks('scale-out-store')).toHaveLength(1);
      expect(runningTasks('scale-out-front')).toHaveLength(1);
      const created = (service: string) => Date.parse(docker(['service', 'inspect', '--format', '{{.CreatedAt}}', service]).trim());
      expect(created('scale-out-web')).toBeGreaterThan(created('scale-out-store'));
      expect(created('scale-out-front')).toBeGreaterThan(created('scale-out-web'));
      const noop = cli(dir, ['diff', '--detailed-exitcode']);
      expect(noop.stdout).toContain('No changes');
      expect(noop.code).toBe(0);
      expect(cli(dir, ['drift', 'scale-out'])).toMatchObject({ code: 0 });
    });
  }, 180_000);
});

/** The environment of every cdk-docker command on the swarm: its manager, nothing of the machine's. */
const swarmEnv = (): NodeJS.ProcessEnv => ({
  DOCKER_HOST: swarm.host,
  DOCKER_CONTEXT: '',
  DOCKER_TLS_VERIFY: '',
  DOCKER_CONFIG: path.join(work, 'docker-config'),
  CDK_DOCKER_ENGINE: '',
  ...world.env,
});

/**
 * A stack app (CommonJS on the built library, as writeJsApp makes it) named `stack` in a fresh
 * directory: `body` declares its resources with `stack` and `img` (the examples' image) in scope.
 */
function stackApp(stack: string, body: string): string {
  const dir = path.join(work, stack);
  fs.mkdirSync(dir, { recursive: true });
  writeJsApp(
    dir,
    [
      'const app = new cdk.App();',
      `const stack = new cdk.Stack(app, ${JSON.stringify(stack)});`,
      `const img = new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(BASE_ARCHIVE)}, tag: ${JSON.stringify(IMAGE)} });`,
      body,
      'app.synth();',
    ].join('\n'),
  );
  return dir;
}

/** Rewrites a stack app's body (the next apply's change). */
function changeApp(stack: string, body: string): void {
  stackApp(stack, body);
}

/** `cdk-docker ARGS --engine swarm` in `dir`, plans in dir/plans. */
const cli = (dir: string, args: string[]): CliResult => cdkDocker([...args, '--engine', 'swarm', '-o', path.join(dir, 'plans')], dir, swarmEnv());

/** What the swarm holds of a stack: services, networks, secrets, configs carrying its label. */
function labelled(stack: string): string[] {
  const f = ['--filter', `label=io.cdk-docker.stack=${stack}`];
  const lines = (kind: string) => docker([kind, 'ls', ...f, '--format', '{{.Name}}']).split('\n').filter(Boolean).map((n) => `${kind} ${n}`);
  return [...lines('service'), ...lines('network'), ...lines('secret'), ...lines('config')].sort();
}

/** Destroys a stack and checks nothing of it is left on the swarm. */
function destroy(dir: string, stack: string): void {
  const destroyed = cli(dir, ['destroy', '--auto-approve']);
  expect(destroyed.stderr).toBe('');
  expect(destroyed.code).toBe(0);
  expect(labelled(stack)).toEqual([]);
}

/**
 * Runs `body` on the stack app in `dir`, then destroys the stack and checks nothing is left. When
 * `body` fails, its error is the test's (the destroy's, if it fails too, is added to it).
 */
async function withStack(dir: string, stack: string, body: () => void | Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    try {
      destroy(dir, stack);
    } catch (d) {
      (e as Error).message += `\n(and destroying ${stack} then: ${(d as Error).message})`;
    }
    throw e;
  }
  destroy(dir, stack);
}

/** A busybox web server answering with its container's hostname (its id's first 12 characters). */
const SERVE = "['sh', '-c', 'hostname > /tmp/index.html && exec httpd -f -p 80 -h /tmp']";

/** The node whose container of `service` has `hostname`. */
function nodeOfTask(service: string, hostname: string): string {
  for (const n of swarm.nodes) {
    const ids = n.docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${service}`]).split('\n').filter(Boolean);
    if (ids.some((id) => id.startsWith(hostname) || hostname.startsWith(id))) return n.name;
  }
  return `(no node runs ${hostname})`;
}

/** The one running container of `service` on node `index`. */
function taskContainer(index: number, service: string): string {
  const ids = swarm.nodes[index].docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${service}`]).split('\n').filter(Boolean);
  if (ids.length !== 1) throw new Error(`${swarm.nodes[index].name} runs ${ids.length} containers of ${service}`);
  return ids[0];
}

describe('cdk-docker apply --engine swarm on the three-node swarm', () => {
  test('replicas spread over the nodes, a constraint on a node label holds a service to the labelled node, and apply returns converged', async () => {
    const dir = stackApp(
      'cl-place',
      [
        `new cdk.Container(stack, 'web', { image: img, replicas: 3, command: ${SERVE}, stopSignal: 'SIGKILL' });`,
        `new cdk.Container(stack, 'pinned', { image: img, replicas: 2, command: ['sleep', '3600'], stopSignal: 'SIGKILL', deploy: { placement: { constraints: ['node.labels.zone == b'] } } });`,
      ].join('\n'),
    );
    await withStack(dir, 'cl-place', async () => {
      const applied = cli(dir, ['apply', '--auto-approve']);
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
      expect(applied.stdout).toContain('cl-place-web 3/3 running');
      // No waiting here: apply returned once the services had converged.
      expect(runningTasks('cl-place-web').sort()).toEqual(['cluster-0', 'cluster-1', 'cluster-2']);
      expect(runningTasks('cl-place-pinned')).toEqual(['cluster-2', 'cluster-2']);
      const noop = cli(dir, ['diff', '--detailed-exitcode']);
      expect(noop.stdout).toContain('No changes');
      expect(noop.code).toBe(0);
    });
  }, 180_000);

  test('a task on one node reaches a service on another node by its name on the stack\'s overlay network', async () => {
    const dir = stackApp(
      'cl-dns',
      [
        "const net = new cdk.Network(stack, 'net');",
        // dnsrr: the name resolves to the tasks (a VIP needs IPVS, which the routing-mesh test requires).
        `new cdk.Container(stack, 'far', { image: img, command: ${SERVE}, stopSignal: 'SIGKILL', networks: [net], deploy: { endpointMode: 'dnsrr', placement: { constraints: ['node.hostname == cluster-1'] } } });`,
        `new cdk.Container(stack, 'near', { image: img, command: ['sleep', '3600'], stopSignal: 'SIGKILL', networks: [net], deploy: { placement: { constraints: ['node.hostname == cluster-2'] } } });`,
      ].join('\n'),
    );
    await withStack(dir, 'cl-dns', async () => {
      const applied = cli(dir, ['apply', '--auto-approve']);
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
      expect(docker(['network', 'inspect', '--format', '{{.Driver}} {{.Scope}}', 'cl-dns-net']).trim()).toBe('overlay swarm');
      const near = taskContainer(2, 'cl-dns-near');
      const far = taskContainer(1, 'cl-dns-far');
      const farIp = swarm.nodes[1].docker(['inspect', '--format', '{{(index .NetworkSettings.Networks "cl-dns-net").IPAddress}}', far]).trim();
      expect(swarm.nodes[2].docker(['exec', near, 'nslookup', 'far'])).toContain(`Address: ${farIp}`);
      const answer = swarm.nodes[2].docker(['exec', near, 'sh', '-c', "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 far 80 | tail -n 1"]).trim();
      expect(nodeOfTask('cl-dns-far', answer)).toBe('cluster-1');
    });
  }, 180_000);

  test('a global service with a host-mode port answers on every node\'s address', async () => {
    const dir = stackApp(
      'cl-global',
      `new cdk.Container(stack, 'web', { image: img, command: ${SERVE}, stopSignal: 'SIGKILL', restart: cdk.Restart.ALWAYS, ports: [{ containerPort: 80, hostPort: 19230, mode: 'host' }], deploy: { mode: 'global', endpointMode: 'dnsrr' } });`,
    );
    await withStack(dir, 'cl-global', async () => {
      const applied = cli(dir, ['apply', '--auto-approve']);
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
      expect(runningTasks('cl-global-web').sort()).toEqual(['cluster-0', 'cluster-1', 'cluster-2']);
      for (const n of swarm.nodes) {
        let body = '';
        await until(`${n.address}:19230 to answer`, async () => nodeOfTask('cl-global-web', (body = await get(n.address, 19230))) === n.name, 30_000, () => body);
      }
      expect(docker(['service', 'inspect', '--format', '{{range .Endpoint.Ports}}{{.PublishMode}} {{.PublishedPort}}{{end}}', 'cl-global-web']).trim()).toBe('host 19230');
      expect(cli(dir, ['diff', '--detailed-exitcode'])).toMatchObject({ code: 0 });
    });
  }, 180_000);

  test('a drained worker: the swarm moves what it can, drift reports the service that cannot follow, apply fails naming it and why; the node back, both are clean', async () => {
    const worker = swarm.nodes[1];
    const dir = stackApp(
      'cl-drain',
      [
        // restart always: the swarm gives a drained node's tasks new ones elsewhere (restart "no" maps to condition none, which it does not).
        `new cdk.Container(stack, 'web', { image: img, replicas: 3, command: ${SERVE}, stopSignal: 'SIGKILL', restart: cdk.Restart.ALWAYS });`,
        `new cdk.Container(stack, 'pinned', { image: img, command: ['sleep', '3600'], stopSignal: 'SIGKILL', restart: cdk.Restart.ALWAYS, deploy: { placement: { constraints: ['node.hostname == ${worker.name}'] } } });`,
      ].join('\n'),
    );
    await withStack(dir, 'cl-drain', async () => {
      try {
        expect(cli(dir, ['apply', '--auto-approve'])).toMatchObject({ code: 0, stderr: '' });
        expect(runningTasks('cl-drain-web')).toContain(worker.name);
        expect(cli(dir, ['drift', 'cl-drain'])).toMatchObject({ code: 0 });
        docker(['node', 'update', '--availability', 'drain', worker.id]);
        await untilRunning('cl-drain-web', 3, (nodes) => !nodes.includes(worker.name));
        await until('the pinned task to leave the drained node', () => runningTasks('cl-drain-pinned').length === 0, 30_000);

        const drift = cli(dir, ['drift', 'cl-drain']);
        expect(drift.stderr).toBe('');
        expect(drift.code).toBe(2);
        expect(drift.stdout).toMatch(/^ {2}stopped +container pinned \(cl-drain-pinned\)$/m);
        expect(drift.stdout).toMatch(/0\/1 tasks running/);
        // web followed the drain (3/3 on the two other nodes): not drift.
        expect(drift.stdout).not.toMatch(/cl-drain-web/);

        // apply plans pinned back to running, and gives up on it, naming the swarm's reason: no node may run it.
        const stuck = cli(dir, ['apply', '--auto-approve']);
        expect(stuck.code).toBe(1);
        expect(stuck.stdout).toMatch(/~ container pinned \(cl-drain-pinned\)/);
        expect(stuck.stdout).not.toMatch(/container web/);
        expect(stuck.stderr).toMatch(/cl-drain-pinned/);
        expect(stuck.stderr).toMatch(/no suitable node/);

        // The worker back, the swarm places the pending task itself: nothing left to drift or apply.
        docker(['node', 'update', '--availability', 'active', worker.id]);
        await untilRunning('cl-drain-pinned', 1, (nodes) => nodes[0] === worker.name);
        expect(cli(dir, ['drift', 'cl-drain'])).toMatchObject({ code: 0 });
        const again = cli(dir, ['apply', '--auto-approve']);
        expect(again.code).toBe(0);
        expect(again.stdout).toContain('No changes');
      } finally {
        docker(['node', 'update', '--availability', 'active', worker.id]);
      }
    });
  }, 240_000);

  test('a start-first rolling update: a client polling the service by name meanwhile never fails', async () => {
    // One replica, so that only start-first avoids a gap (with stop-first the name has no task for
    // a moment). The server keeps serving for 2 s after SIGTERM (the swarm takes the task out of
    // DNS first).
    const server = (version: number) =>
      `new cdk.Container(stack, 'web', { image: img, replicas: 1, env: { V: '${version}' }, networks: [net], stopTimeout: '5s', command: ['sh', '-c', 'trap "sleep 2; exit 0" TERM; echo "v$V" > /tmp/index.html; httpd -f -p 80 -h /tmp & wait'], deploy: { endpointMode: 'dnsrr', updateConfig: { order: 'start-first', parallelism: 1 } } });`;
    const poller =
      "new cdk.Container(stack, 'poller', { image: img, networks: [net], stopSignal: 'SIGKILL', deploy: { placement: { constraints: ['node.hostname == cluster-0'] } }, command: ['sh', '-c', 'while true; do r=$(printf \"GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n\" | nc -w 2 web 80 | tail -n 1); echo \"${r:-FAIL}\"; sleep 0.1; done'] });";
    const body = (version: number) => ["const net = new cdk.Network(stack, 'net');", server(version), poller].join('\n');
    const dir = stackApp('cl-roll', body(1));
    await withStack(dir, 'cl-roll', async () => {
      expect(cli(dir, ['apply', '--auto-approve'])).toMatchObject({ code: 0, stderr: '' });
      const poll = taskContainer(0, 'cl-roll-poller');
      const log = () => swarm.nodes[0].docker(['logs', poll]).split('\n').filter(Boolean);
      await until('the poller to get answers', () => log().includes('v1'), 30_000, () => log().slice(-5).join('\n'));
      changeApp('cl-roll', body(2));
      const diff = cli(dir, ['diff']);
      expect(diff.stdout).toMatch(/env\.V/);
      const updated = cli(dir, ['apply', '--auto-approve']);
      expect(updated.stderr).toBe('');
      expect(updated.code).toBe(0);
      expect(updated.stdout).toMatch(/cl-roll-web updating/);
      // The update is over when apply returns: a moment later only v2 answers.
      await sleep(1500);
      const lines = log();
      const first = lines.indexOf('v1');
      const during = lines.slice(first);
      expect(during.filter((l) => l !== 'v1' && l !== 'v2')).toEqual([]);
      expect(during.slice(-5)).toEqual(['v2', 'v2', 'v2', 'v2', 'v2']);
      expect(during.filter((l) => l === 'v1').length).toBeGreaterThan(0);
    });
  }, 240_000);

  test('an update whose healthcheck fails is rolled back by the swarm, and apply exits 1 naming the service', async () => {
    const web = (file: string) =>
      `new cdk.Container(stack, 'web', { image: img, replicas: 2, command: ['sh', '-c', 'touch /tmp/ok; exec httpd -f -p 80 -h /tmp'], stopSignal: 'SIGKILL', healthcheck: { test: 'test -f /tmp/${file}', interval: '1s', retries: 2 }, deploy: { updateConfig: { failureAction: 'rollback', monitor: '10s' } } });`;
    const dir = stackApp('cl-rollback', web('ok'));
    await withStack(dir, 'cl-rollback', async () => {
      expect(cli(dir, ['apply', '--auto-approve'])).toMatchObject({ code: 0, stderr: '' });
      const before = docker(['service', 'inspect', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck.Test}}', 'cl-rollback-web']).trim();
      changeApp('cl-rollback', web('never'));
      const failed = cli(dir, ['apply', '--auto-approve']);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/cl-rollback-web/);
      expect(failed.stderr).toMatch(/rolled back/);
      // The swarm runs the previous version again, both replicas.
      expect(docker(['service', 'inspect', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck.Test}}', 'cl-rollback-web']).trim()).toBe(before);
      expect(docker(['service', 'inspect', '--format', '{{.UpdateStatus.State}}', 'cl-rollback-web']).trim()).toBe('rollback_completed');
    });
  }, 240_000);

  test('dependsOn healthy holds the dependent service until its dependency is healthy', async () => {
    const dir = stackApp(
      'cl-dep',
      [
        // Healthy no earlier than 4 s after its task started.
        "const db = new cdk.Container(stack, 'db', { image: img, command: ['sh', '-c', 'sleep 4; touch /tmp/ready; exec sleep 3600'], stopSignal: 'SIGKILL', healthcheck: { test: 'test -f /tmp/ready', interval: '1s', retries: 30 } });",
        "new cdk.Container(stack, 'app', { image: img, command: ['sleep', '3600'], stopSignal: 'SIGKILL', dependsOn: [{ container: db, condition: cdk.DependencyCondition.HEALTHY }] });",
      ].join('\n'),
    );
    await withStack(dir, 'cl-dep', async () => {
      const applied = cli(dir, ['apply', '--auto-approve']);
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
      const dbNodeName = runningTasks('cl-dep-db')[0];
      const dbNode = swarm.nodes.findIndex((n) => n.name === dbNodeName);
      const dbStarted = Date.parse(swarm.nodes[dbNode].docker(['inspect', '--format', '{{.State.StartedAt}}', taskContainer(dbNode, 'cl-dep-db')]).trim());
      const appCreated = Date.parse(docker(['service', 'inspect', '--format', '{{.CreatedAt}}', 'cl-dep-app']).trim());
      expect(appCreated - dbStarted).toBeGreaterThanOrEqual(4000);
    });
  }, 180_000);
});

describe('the routing mesh (IPVS in the kernel: required, not skipped)', () => {
  test('a published port answers on every node, also during a start-first rolling update polled from the host; the example answers on every node', async () => {
    requireIpvs();
    const web = (version: number) =>
      `new cdk.Container(stack, 'web', { image: img, replicas: 1, env: { V: '${version}' }, ports: ['19220:80'], stopTimeout: '5s', command: ['sh', '-c', 'trap "sleep 2; exit 0" TERM; echo "v$V" > /tmp/index.html; httpd -f -p 80 -h /tmp & wait'], deploy: { updateConfig: { order: 'start-first', parallelism: 1 } } });`;
    const dir = stackApp('cl-mesh', web(1));
    await withStack(dir, 'cl-mesh', async () => {
      expect(cli(dir, ['apply', '--auto-approve'])).toMatchObject({ code: 0, stderr: '' });
      for (const n of swarm.nodes) await until(`${n.address}:19220 to answer through the mesh`, async () => (await get(n.address, 19220)) === 'v1', 30_000);
      changeApp('cl-mesh', web(2));
      const answers: string[] = [];
      let polling = true;
      const poller = (async () => {
        for (let i = 0; polling; i++) {
          answers.push(await get(swarm.nodes[i % 3].address, 19220));
          await sleep(50);
        }
      })();
      const updated = cli(dir, ['apply', '--auto-approve']);
      await sleep(1000);
      polling = false;
      await poller;
      expect(updated).toMatchObject({ code: 0, stderr: '' });
      expect(answers.filter((a) => a !== 'v1' && a !== 'v2')).toEqual([]);
      expect(answers.slice(-3)).toEqual(['v2', 'v2', 'v2']);
    });
    const example = privateExample();
    await withStack(example, 'scale-out', async () => {
      expect(cli(example, ['apply', '--auto-approve'])).toMatchObject({ code: 0, stderr: '' });
      for (const n of swarm.nodes) {
        await until(`the example to answer on ${n.address}:${EXAMPLE_PORT}`, async () => /^hello from the store\nserved by \S+$/.test(await get(n.address, EXAMPLE_PORT, '/cgi-bin/hello')), 30_000);
      }
    });
  }, 300_000);
});
