import { Container, Network, NetworkDriver, Testing } from '../../lib';
import { invalidArgument, portable, resourceAt, shop, synthProblems } from '../fixtures';

describe('Network', () => {
  test('defaults: a bridge network named after the stack and path', () => {
    const stack = shop();
    const net = new Network(stack, 'backend');
    expect(net.networkName).toBe('shop-backend');
    expect(Network.isNetwork(net)).toBe(true);

    const plan = Testing.synth(stack);
    expect(resourceAt(plan, 'backend')).toEqual({
      logicalId: stack.getLogicalId(net),
      type: 'network',
      path: 'backend',
      name: 'shop-backend',
      dependsOn: [],
      spec: { driver: 'bridge', internal: false, attachable: false, labels: {} },
    });
    expect(portable(plan)).toMatchSnapshot();
  });

  test('custom: name, driver, subnet, gateway, ipRange, internal, attachable, labels', () => {
    const stack = shop();
    const net = new Network(stack, 'backend', {
      name: 'shop_internal',
      driver: NetworkDriver.OVERLAY,
      subnet: '10.20.0.0/16',
      gateway: '10.20.0.254',
      ipRange: '10.20.8.0/24',
      internal: true,
      attachable: true,
      labels: { 'com.example.tier': 'backend' },
    });
    expect(net.networkName).toBe('shop_internal');

    const plan = Testing.synth(stack);
    expect(resourceAt(plan, 'backend')).toMatchObject({
      name: 'shop_internal',
      spec: {
        driver: 'overlay',
        subnet: '10.20.0.0/16',
        gateway: '10.20.0.254',
        ipRange: '10.20.8.0/24',
        internal: true,
        attachable: true,
        labels: { 'com.example.tier': 'backend' },
      },
    });
    expect(portable(plan)).toMatchSnapshot();
  });

  test('a network imported by name is not part of the plan', () => {
    const stack = shop();
    const net = Network.fromName(stack, 'shared', 'corp-net');
    expect(net.networkName).toBe('corp-net');
    expect(Network.isNetwork(net)).toBe(false);
    expect(Testing.synth(stack).resources).toEqual({});
    expect(invalidArgument(() => Network.fromName(stack, 'bad', 'corp net'))).toBe(
      '[shop/bad] network name "corp net" is not a valid Docker name: use at least two characters, starting with a letter or digit, then letters, digits, "_", "." or "-" (for example "corp-net")',
    );
  });

  test.each<[object, string]>([
    [{ name: 'bridge' }, 'network name "bridge" is reserved by the runtime; choose another name'],
    [{ name: 'host' }, 'network name "host" is reserved by the runtime; choose another name'],
    [{ name: '_net' }, 'network name "_net" is not a valid Docker name: use at least two characters, starting with a letter or digit, then letters, digits, "_", "." or "-" (for example "net")'],
    [{ driver: 'macvlan' }, 'driver "macvlan" is not one of "bridge", "overlay"'],
    [{ subnet: '10.0.0.0/33' }, 'subnet "10.0.0.0/33" is not an IPv4 CIDR such as "172.28.0.0/16"'],
    [{ subnet: '10.0.0.1/24' }, 'subnet "10.0.0.1/24" has host bits set; the network is "10.0.0.0/24"'],
    [{ gateway: '10.0.0.1' }, 'gateway needs a subnet; set subnet too'],
    [{ subnet: '10.0.0.0/24', gateway: '10.0.1.1' }, 'gateway 10.0.1.1 is outside subnet 10.0.0.0/24'],
    [{ subnet: '10.0.0.0/24', gateway: 'ten' }, 'gateway "ten" is not an IPv4 address'],
    [{ subnet: '10.0.0.0/24', ipRange: '10.0.0.0/16' }, 'ipRange 10.0.0.0/16 is outside subnet 10.0.0.0/24'],
    [{ labels: { 'io.cdk-docker.stack': 'x' } }, 'label "io.cdk-docker.stack" uses the prefix "io.cdk-docker.", which cdk-docker reserves for its own labels; choose another key'],
  ])('%j is rejected: %s', (props, message) => {
    expect(invalidArgument(() => new Network(shop(), 'net', props))).toBe(`[shop/net] ${message}`);
  });

  test('two networks with one name are reported at synth', () => {
    const stack = shop();
    new Network(stack, 'a', { name: 'shared' });
    new Network(stack, 'b', { name: 'shared' });
    expect(synthProblems(stack)).toEqual(['[shop/b] network name "shared" is already used by shop/a; give one of them another name']);
  });

  test('a container that joins a network depends on it', () => {
    const stack = shop();
    const net = new Network(stack, 'net');
    const c = new Container(stack, 'web', { image: 'nginx', networks: [net] });
    const r = resourceAt(Testing.synth(stack), 'web', 'container');
    expect(r.dependsOn).toEqual([stack.getLogicalId(c.image), stack.getLogicalId(net)].sort());
  });
});
