import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../../lib/core/errors';
import { NetworkStore } from '../../runtime/networks';
import { SUBNET_REGISTRY_DIR } from '../../runtime/networks/registry';
import { VolumeStore } from '../../runtime/volumes';
import { tempDir } from '../helpers/cli';

/**
 * setLabels of the runtime's network and volume stores (what the built-in driver adopts with):
 * the labels change, nothing else; a missing object is a NotFoundError. Private state roots; the
 * network's subnet is this suite's own (10.192.77.0/24), no bridge is made.
 */
let work: string;

beforeEach(() => {
  work = tempDir('cdk-docker-adopt-relabel-');
});

afterEach(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

test('a volume\'s labels are replaced; its data, options and creation time stay', async () => {
  const store = new VolumeStore(path.join(work, 'root'));
  const before = await store.create('adopt-vol', { labels: { 'com.docker.compose.volume': 'data' }, driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
  fs.writeFileSync(path.join(store.dataDir('adopt-vol'), 'f'), 'kept');
  const after = await store.setLabels('adopt-vol', { 'io.cdk-docker.stack': 's', team: 'blue' });
  expect(after).toEqual({ ...before, Labels: { 'io.cdk-docker.stack': 's', team: 'blue' } });
  expect(store.get('adopt-vol')).toEqual(after);
  expect(fs.readFileSync(path.join(store.dataDir('adopt-vol'), 'f'), 'utf8')).toBe('kept');
  await expect(store.setLabels('adopt-none', {})).rejects.toThrow(new NotFoundError('no such volume: adopt-none'));
  await expect(store.setLabels('adopt-vol', { '': 'x' })).rejects.toThrow(new InvalidArgumentError('volume adopt-vol: a label needs a name (KEY=VALUE)'));
});

test('a network\'s labels are replaced, its addresses stay; the default network\'s are refused', async () => {
  const store = new NetworkStore(path.join(work, 'root'), undefined, { defaultBridge: 'cdkad9', bip: '10.192.76.1/24' });
  const before = await store.create('adopt-net', { subnet: '10.192.77.0/24', labels: { 'com.docker.compose.network': 'front' } });
  const after = await store.setLabels('adopt-net', { team: 'blue', 'io.cdk-docker.stack': 's' });
  expect(after).toEqual({ ...before, Labels: { 'io.cdk-docker.stack': 's', team: 'blue' } });
  expect(await store.get(before.Id)).toEqual(after);
  await expect(store.setLabels('adopt-none', {})).rejects.toThrow(new NotFoundError('network adopt-none not found'));
  await expect(store.setLabels('bridge', {})).rejects.toThrow(new InvalidArgumentError("network bridge: the default network's labels cannot change"));
  // Removed, the network's claim in the host's subnet registry goes with it (the default
  // network's, which cannot be removed, is dead once afterEach deletes the root: dropped by the
  // registry's next reader).
  await store.remove('adopt-net');
  expect(fs.readdirSync(SUBNET_REGISTRY_DIR)).not.toContain('10.192.77.0-24.json');
});
