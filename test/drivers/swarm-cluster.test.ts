import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { CliResult, ROOT, cdkDocker, removeTempDirs, tempDir, until } from '../helpers/cli';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';
import { hostIptablesOfOurs, requireIpvs, startSwarm, TestSwarm } from '../helpers/swarm';

/**
 * A three-node swarm on this machine (test/helpers/swarm.ts): one manager, two workers, each a
 * dockerd in a network namespace of its own, joined over a bridge. One cluster for the whole file.
 * Ports 19200–19299 are this file's (inside the nodes' namespaces, reached over the bridge).
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
});
