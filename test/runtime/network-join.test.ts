import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cdkDocker, ok, writeJsApp } from '../helpers/cli';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';

jest.setTimeout(180_000);

/**
 * An apply's containers join a network side by side once its rules are in place (one holding
 * of the host lock shared by the setups of one process, see HostLock in runtime/networks): every
 * container gets its interface and reaches the others, published ports still work, and after
 * destroy nothing of the network is left in iptables or among the links.
 */
const OCTET = 184; // the default network 10.184.0.0/24, user networks 10.185.x.0/24
let world: StackWorld;
let app: string;
beforeAll(() => {
  world = stackWorld('cdk-docker-join-', OCTET);
  app = path.join(world.work, 'app');
  fs.mkdirSync(app);
});
afterAll(async () => {
  expect(await tearDownWorld(world)).toEqual([]);
});

const cli = (args: string[]) => cdkDocker(args, app, world.env);

/** The iptables lines and links that name this suite's subnets or their bridges. */
function footprint(bridges: readonly string[]): string[] {
  const mine = (l: string) => l.includes(`10.${OCTET}.`) || l.includes(`10.${OCTET + 1}.`) || bridges.some((b) => l.includes(b));
  const rules = execFileSync('iptables-save', { encoding: 'utf8' }).split('\n').filter((l) => !l.startsWith('#') && !l.startsWith(':') && mine(l));
  const links = (JSON.parse(execFileSync('ip', ['-j', 'link'], { encoding: 'utf8' })) as Array<{ ifname: string; master?: string }>).filter((l) => bridges.includes(l.ifname) || (l.master !== undefined && bridges.includes(l.master)));
  return [...rules, ...links.map((l) => `link ${l.ifname}`)];
}

test('twelve containers on one network, applied four at a time: all attached, reachable and named, nothing left after destroy', () => {
  writeJsApp(
    app,
    `const app = new cdk.App();
const stack = new cdk.Stack(app, 'join');
const img = new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(BASE_ARCHIVE)}, tag: 'busybox:join' });
const net = new cdk.Network(stack, 'net');
for (let i = 1; i <= 12; i++) new cdk.Container(stack, 'c' + i, { image: img, command: ['sleep', '100000'], networks: [net], stopSignal: 'SIGKILL', ports: i === 12 ? ['127.0.0.1::80'] : [] });
app.synth();`,
  );
  const before = footprint([]);
  expect(before).toEqual([]);
  const applied = cli(['apply', '--auto-approve']);
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  expect(applied.stdout.match(/: created and started/g)).toHaveLength(12);

  const bridge = ok(world.rt(['network', 'inspect', '-f', '{{index .Options "com.docker.network.bridge.name"}}', 'join-net'])).trim();
  expect(fs.readdirSync(`/sys/class/net/${bridge}/brif`)).toHaveLength(12);
  const ips = Array.from({ length: 12 }, (_, i) => ok(world.rt(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', `join-c${i + 1}`])).trim());
  expect(new Set(ips).size).toBe(12);
  for (const ip of ips) expect(ip).toMatch(new RegExp(`^10\\.${OCTET + 1}\\.\\d+\\.\\d+$`));
  // The first and the last reach each other (the last joined while others were joining).
  expect(world.rt(['exec', 'join-c1', 'ping', '-c', '1', '-W', '3', ips[11]]).code).toBe(0);
  expect(world.rt(['exec', 'join-c12', 'ping', '-c', '1', '-W', '3', ips[0]]).code).toBe(0);
  // aardvark-dns has every name, though the setups committed their entries side by side.
  for (let i = 2; i <= 12; i++) expect(world.rt(['exec', 'join-c1', 'nslookup', `join-c${i}`]).stdout).toContain(`Address: ${ips[i - 1]}`);
  // The network's rules are in iptables once, not once per container.
  const rules = footprint([bridge]).filter((l) => !l.startsWith('link '));
  expect(rules.length).toBe(new Set(rules).size);

  const destroyed = cli(['destroy', '--auto-approve']);
  expect(destroyed.code).toBe(0);
  expect(footprint([bridge])).toEqual([]);
});
