import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliResult, ROOT, cdkDocker, sleep, tempDir } from './cli';
import { aardvarksUnder, privateNetworkConfig } from './network';
import { requireCommand } from './prereq';

/** The offline base image the examples and stack tests load (examples/base). */
export const BASE_ARCHIVE = path.join(ROOT, 'examples', 'base', 'busybox.tar');

/** A private state root for end-to-end stack tests (apply/diff/destroy on the built-in runtime). */
export interface StackWorld {
  readonly work: string;
  readonly env: NodeJS.ProcessEnv;
  /** `cdk-docker runtime ARGS` on this root. */
  rt(args: string[]): CliResult;
}

/**
 * Checks the host components, makes the base image archive, and gives a fresh private state root
 * whose networks use `10.<octet>.…` (a distinct octet per test file).
 */
export function stackWorld(prefix: string, octet: number): StackWorld {
  for (const [c, p] of [['runc', 'runc'], ['conmon', 'conmon'], ['busybox', 'busybox-static']]) requireCommand(c, p, ['/bin']);
  requireCommand('netavark', 'netavark', ['/usr/lib/podman']);
  execFileSync('bash', [path.join(ROOT, 'examples', 'base', 'make-busybox-archive.sh')], { stdio: 'inherit' });
  const work = tempDir(prefix);
  const env = { CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') };
  privateNetworkConfig(env.CDK_DOCKER_ROOT, octet);
  return { work, env, rt: (args) => cdkDocker(['runtime', ...args], work, env) };
}

/**
 * Removes every container and user network of the root, then the root; returns what was left:
 * mounts, and aardvark-dns processes still serving the root (stopped here, once reported).
 */
export async function tearDownWorld(world: StackWorld | undefined): Promise<string[]> {
  if (!world) return [];
  const all = world.rt(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (all.length) world.rt(['rm', '-f', ...all]);
  for (const n of world.rt(['network', 'ls', '-q', '--filter', 'type=custom']).stdout.split('\n').filter(Boolean)) world.rt(['network', 'rm', n]);
  await sleep(500);
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(world.work));
  const aardvarks = aardvarksUnder(world.work);
  for (const pid of aardvarks) process.kill(pid, 'SIGTERM');
  fs.rmSync(world.work, { recursive: true, force: true });
  return [...mounts, ...aardvarks.map((pid) => `aardvark-dns (pid ${pid}) still serving ${world.work}`)];
}
