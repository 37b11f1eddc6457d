import { Container, Stack, Testing } from '../../lib/constructs';
import { ValidationError } from '../../lib/core/errors';
import { SWARM_CAPABILITIES } from '../../lib/drivers/swarm/driver';
import { observedSpec, serviceSpec } from '../../lib/drivers/swarm/mapping';
import type { ContainerResource } from '../../lib/plan/types';
import { diffStack } from '../../lib/reconcile/diff';
import { defaultContainerSpec, fixtureApp, thrown } from '../fixtures';

/** The Swarm service body for what compose's tty, stdin_open, logging and platform set, and back; no engine needed. */
describe('swarm mapping: terminal, stdin, log driver, platform', () => {
  const resource = (over: Partial<ContainerResource['spec']> = {}): ContainerResource => ({
    type: 'container',
    path: 'svc',
    name: 'shop-svc',
    dependsOn: [],
    spec: defaultContainerSpec(over),
  });
  const service = (r: ContainerResource) => ({ ID: 'x', Version: { Index: 1 }, Spec: serviceSpec(r, 'busybox@sha256:1', {}, {}) });

  test('TTY and OpenStdin on the container spec, LogDriver on the task, the platform as a placement platform; read back as the plan has them', () => {
    const r = resource({ tty: true, stdinOpen: true, logging: { driver: 'json-file', options: { 'max-size': '10m' } }, platform: 'linux/arm64/v8' });
    const s = serviceSpec(r, 'busybox@sha256:1', {}, {});
    expect([s.TaskTemplate.ContainerSpec.TTY, s.TaskTemplate.ContainerSpec.OpenStdin]).toEqual([true, true]);
    expect(s.TaskTemplate.LogDriver).toEqual({ Name: 'json-file', Options: { 'max-size': '10m' } });
    expect(s.TaskTemplate.Placement?.Platforms).toEqual([{ OS: 'linux', Architecture: 'arm64' }]);
    const o = observedSpec(service(r), undefined, new Map());
    expect([o.tty, o.stdinOpen, o.logging]).toEqual([true, true, { driver: 'json-file', options: { 'max-size': '10m' } }]);
  });

  test('none of them when the plan has none', () => {
    const s = serviceSpec(resource(), 'busybox@sha256:1', {}, {});
    for (const k of ['TTY', 'OpenStdin']) expect(s.TaskTemplate.ContainerSpec).not.toHaveProperty(k);
    expect(s.TaskTemplate).not.toHaveProperty('LogDriver');
    expect(s.TaskTemplate.Placement).not.toHaveProperty('Platforms');
    const o = observedSpec(service(resource()), undefined, new Map());
    for (const k of ['tty', 'stdinOpen', 'logging']) expect(o).not.toHaveProperty(k);
  });

  test('dependsOn restart and a runtime other than runc are refused at diff, naming the swarm engine', () => {
    const stack = new Stack(fixtureApp(), 'shop');
    const db = new Container(stack, 'db', { image: 'busybox:1.36' });
    new Container(stack, 'web', { image: 'busybox:1.36', runtime: 'runsc', dependsOn: [{ container: db, restart: true }] });
    const plan = Testing.synth(stack);
    const e = thrown(() => diffStack(plan, { containers: [], networks: [], volumes: [] }, {}, SWARM_CAPABILITIES));
    expect((e as ValidationError).problems).toEqual([
      '[shop/web] a Swarm restarts no service when another is updated, so the swarm engine cannot honour dependsOn restart; remove it (the tasks reconnect by the service name), or apply with --engine docker',
      '[shop/web] the swarm engine has no "runsc" runtime (it runs containers with "runc"); leave runtime out, or apply it to an engine that has it (--engine docker with the runtime configured in its daemon.json)',
    ]);
  });
});
