import * as fs from 'node:fs';
import * as path from 'node:path';
import { NetworkStore } from '../../runtime/networks';
import { CliResult, cdkDocker, ok, tempDir } from '../helpers/cli';

/**
 * `cdk-docker runtime network …` as a user types it: the built CLI, private state roots.
 * Output follows Docker's. (Traffic over the networks is tested in networks.test.ts.)
 */
let work: string;
let root: string;

const env = () => ({ CDK_DOCKER_ROOT: root, CDK_DOCKER_RUNROOT: path.join(work, 'run') });
const network = (args: string[], input?: string): CliResult => cdkDocker(['runtime', 'network', ...args], work, env(), input);

beforeEach(() => {
  work = tempDir('cdk-docker-networks-cli-');
  root = path.join(work, 'root');
});

afterEach(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

test('ls lists the default network and Docker\'s host and none from the start', () => {
  const text = ok(network(['ls']));
  const lines = text.trimEnd().split('\n');
  expect(lines[0]).toBe('NETWORK ID     NAME      DRIVER    SCOPE'); // Docker's tabwriter: min width 10, padding 3
  expect(lines.slice(1).map((l) => l.split(/\s+/).slice(1))).toEqual([['bridge', 'bridge', 'local'], ['host', 'host', 'local'], ['none', 'null', 'local']]);
  expect(lines[1]).toMatch(/^[0-9a-f]{12} {3}bridge {4}bridge {4}local$/);
  // The same ids every time: the default network is created once.
  expect(ok(network(['ls', '-q']))).toBe(lines.slice(1).map((l) => `${l.slice(0, 12)}\n`).join(''));
});

test('create, ls, inspect, rm', () => {
  const id = ok(network(['create', 'backend'])).trim();
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  const db = ok(network(['create', '--subnet', '10.213.0.0/16', '--gateway', '10.213.0.254', '--ip-range', '10.213.7.0/24', '--internal', '--attachable', '-l', 'tier=db', '-l', 'app=shop', 'db'])).trim();

  expect(ok(network(['ls', '--no-trunc', '-f', 'name=backend']))).toBe(`NETWORK ID${' '.repeat(57)}NAME      DRIVER    SCOPE\n${id}   backend   bridge    local\n`);
  expect(ok(network(['ls', '--format', '{{.Name}} {{.Driver}} {{.Internal}} {{.Labels}}', '-f', 'type=custom']))).toBe('backend bridge false \ndb bridge true app=shop,tier=db\n');
  expect(ok(network(['ls', '-q', '-f', 'label=tier=db']))).toBe(`${db.slice(0, 12)}\n`);
  expect(ok(network(['ls', '--format', '{{.Name}}', '-f', 'driver=null']))).toBe('none\n');
  expect(network(['ls', '-f', 'color=red'])).toMatchObject({ code: 1, stderr: "Error: invalid filter 'color': the network filters are name, label, driver, id, type\n" });
  expect(network(['ls', '-f', 'type=mine'])).toMatchObject({ code: 1, stderr: "Error: invalid filter 'type=mine': use type=builtin, type=custom\n" });
  // Repeated keys: any value may match (label: all must).
  expect(ok(network(['ls', '--format', '{{.Name}}', '-f', 'name=^backend$', '-f', 'name=^db$']))).toBe('backend\ndb\n');
  expect(ok(network(['ls', '--format', '{{.Name}}', '-f', 'label=tier=db', '-f', 'label=app=other']))).toBe('');

  const [inspected] = JSON.parse(ok(network(['inspect', 'db'])));
  expect(inspected).toEqual({
    Name: 'db',
    Id: db,
    Created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/),
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.213.0.0/16', Gateway: '10.213.0.254', IPRange: '10.213.7.0/24' }] },
    Internal: true,
    Attachable: true,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: { 'com.docker.network.bridge.name': `cdkbr-${db.slice(0, 9)}` },
    Labels: { app: 'shop', tier: 'db' },
  });
  expect(ok(network(['inspect', '-f', '{{.Name}} {{json .IPAM.Config}} {{.Options.com}}', 'backend', db.slice(0, 8)]))).toMatch(/^backend \[\{"Subnet":"10\.89\.\d+\.0\/24","Gateway":"10\.89\.\d+\.1"\}\] <no value>\ndb \[\{"Subnet":"10\.213\.0\.0\/16","Gateway":"10\.213\.0\.254","IPRange":"10\.213\.7\.0\/24"\}\] <no value>\n$/);
  const def = JSON.parse(ok(network(['inspect', 'bridge', 'host'])));
  expect(def.map((n: { Name: string; Driver: string }) => [n.Name, n.Driver])).toEqual([['bridge', 'bridge'], ['host', 'host']]);
  expect(def[0].Options).toMatchObject({ 'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.name': expect.stringMatching(/^cdk0-[0-9a-f]{8}$/) });
  expect(network(['inspect', 'nope'])).toEqual({ code: 1, stdout: '[]\n', stderr: 'Error: network nope not found\n' });

  // Bad input: each error names the thing and the fix.
  expect(network(['create', 'backend'])).toMatchObject({ code: 1, stderr: 'Error: network with name backend already exists; choose another name or remove it first (cdk-docker runtime network rm backend)\n' });
  expect(network(['create', '--subnet', '10.213.128.0/17', 'clash'])).toMatchObject({ code: 1, stderr: 'Error: create clash: subnet 10.213.128.0/17 overlaps 10.213.0.0/16 of network "db"; choose another --subnet or remove that network (cdk-docker runtime network rm db)\n' });
  expect(network(['create', '--subnet', '10.214.0.0/24', '--gateway', '10.215.0.1', 'gw'])).toMatchObject({ code: 1, stderr: 'Error: create gw: gateway 10.215.0.1 is not in subnet 10.214.0.0/24; give an address inside it (e.g. 10.214.0.1)\n' });
  expect(network(['create', '--gateway', '10.215.0.1', 'gw'])).toMatchObject({ code: 1, stderr: 'Error: create gw: --gateway 10.215.0.1 needs --subnet (a gateway only makes sense with the subnet it is in)\n' });
  expect(network(['create', '-d', 'overlay', 'ov'])).toMatchObject({ code: 1, stderr: 'Error: create ov: network driver "overlay" is not supported: the built-in runtime has only the "bridge" driver (drop -d/--driver)\n' });
  expect(network(['create', '--subnet', 'fd00::/64', 'v6'])).toMatchObject({ code: 1, stderr: 'Error: invalid subnet "fd00::/64": IPv6 is not supported by the built-in runtime yet\n' });
  expect(network(['create', 'host'])).toMatchObject({ code: 1, stderr: 'Error: host is a pre-defined network and cannot be created; choose another name\n' });

  expect(network(['rm', 'bridge', 'none', 'backend', 'nope'])).toEqual({
    code: 1,
    stdout: 'backend\n',
    stderr: 'Error: bridge is a pre-defined network and cannot be removed\nError: none is a pre-defined network and cannot be removed\nError: network nope not found\n',
  });
  expect(network(['rm', '-f', 'nope'])).toEqual({ code: 0, stdout: 'nope\n', stderr: '' });
  expect(ok(network(['ls', '--format', '{{.Name}}']))).toBe('bridge\ndb\nhost\nnone\n');
});

test('a network with attached containers is refused by rm and skipped by prune; prune asks first', async () => {
  ok(network(['create', 'used']));
  ok(network(['create', '-l', 'keep=1', 'kept']));
  ok(network(['create', 'spare']));
  // A container holding an address on "used", as the engine records it.
  const store = new NetworkStore(root);
  const containerId = 'ab'.repeat(32);
  const ip = await store.allocate('used', containerId, { containerName: 'api' });
  const [inspected] = JSON.parse(ok(network(['inspect', 'used'])));
  expect(inspected.Containers).toEqual({ [containerId]: { Name: 'api', EndpointID: expect.stringMatching(/^[0-9a-f]{64}$/), MacAddress: '', IPv4Address: `${ip}/24`, IPv6Address: '' } });
  const usedId = inspected.Id as string;
  expect(network(['rm', 'used'])).toEqual({ code: 1, stdout: '', stderr: `Error: error while removing network: network used id ${usedId} has active endpoints (api); stop and remove those containers or disconnect them first (cdk-docker runtime network disconnect used CONTAINER)\n` });

  // Declined: nothing removed, nothing printed after the question.
  expect(network(['prune'], 'n\n')).toEqual({ code: 0, stdout: 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ', stderr: '' });
  expect(ok(network(['prune', '--filter', 'label!=keep'], 'y\n'))).toBe('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] Deleted Networks:\nspare\n\n');
  expect(ok(network(['prune', '-f']))).toBe('Deleted Networks:\nkept\n\n');
  expect(ok(network(['prune', '-f']))).toBe('');
  expect(ok(network(['ls', '--format', '{{.Name}}']))).toBe('bridge\nhost\nnone\nused\n');

  await store.release('used', containerId);
  expect(ok(network(['rm', 'used']))).toBe('used\n');
});
