import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CdkDockerError, NotFoundError } from '../../lib/core/errors';
import { BUILD_LABELS } from '../../lib/core/labels';
import { identityAlive, processIdentity } from '../../lib/core/process';
import type { ContainerService } from '../containers/service';

/**
 * What a build leaves while it runs, and how the next command finds what a killed build left.
 *
 * A build's step containers carry two labels: `io.cdk-docker.build` (a build step; `ps` hides
 * them) and `io.cdk-docker.build.owner`, the identity of the build's process: its pid and its
 * start time in clock ticks since boot (field 22 of `/proc/PID/stat`), so a pid the kernel gave
 * to another process since does not count as the owner. A step container that stays after its
 * build (a failed RUN's, as Docker's classic builder keeps it; every one with `--rm=false`) loses
 * both labels first: it is an ordinary container then, listed by `ps -a`, never collected here.
 * A build's temporary files (ADD URL downloads) live in `<root>/build-tmp/<pid>-<starttime>-<random>`.
 *
 * A build stopped by SIGINT, SIGTERM or SIGHUP removes them itself. One killed (SIGKILL, OOM, a
 * crash) cannot: the next `build` and `image prune` remove every step container and temporary
 * directory whose owner is dead — gone, replaced by another process, or a zombie (state Z: killed,
 * not reaped yet) — and never those of a build that still runs.
 */

/** Marks a container as a build step (`ps` never lists these). */
export const BUILD_LABEL = BUILD_LABELS.step;
/** The identity (`PID STARTTIME`) of the build process that owns a step container. */
export const BUILD_OWNER_LABEL = BUILD_LABELS.owner;

const TMP_DIR = 'build-tmp';

/** This process's identity, as step containers record it. */
export function selfIdentity(): string {
  const id = processIdentity(process.pid);
  if (!id) throw new CdkDockerError(`cannot read /proc/${process.pid}/stat: the build needs /proc mounted`);
  return id;
}

/** Whether the process an owner label names still runs (a missing or malformed label: no). */
export function ownerAlive(owner: string | undefined): boolean {
  return owner !== undefined && /^\d+ \d+$/.test(owner) && identityAlive(owner);
}

/** Makes a temporary directory of this build under the state root (removed by the build, or after its death). */
export function buildTempDir(root: string): string {
  const base = path.join(root, TMP_DIR);
  fs.mkdirSync(base, { recursive: true, mode: 0o700 });
  const dir = path.join(base, `${selfIdentity().replace(' ', '-')}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/** What `collectDeadBuilds` removed, and what it could not. */
export interface CollectedBuilds {
  readonly containers: string[];
  readonly tempDirs: string[];
  /** One line per container that could not be removed (naming it and why). */
  readonly problems: string[];
}

/**
 * Removes the step containers and temporary directories of builds whose process is dead: each
 * container completely, as `rm -f -v` does (its processes killed, runc state, overlay mount,
 * network namespace and netavark rules, bundle, record). Those of live builds are left alone.
 */
export async function collectDeadBuilds(svc: ContainerService, root: string): Promise<CollectedBuilds> {
  const containers: string[] = [];
  const problems: string[] = [];
  for (const r of svc.records()) {
    const labels = r.Config.Labels ?? {};
    if (labels[BUILD_LABEL] === undefined || ownerAlive(labels[BUILD_OWNER_LABEL])) continue;
    try {
      await svc.remove(r.Id, { force: true, volumes: true });
      containers.push(r.Id);
    } catch (e) {
      if (e instanceof NotFoundError) continue; // another command removed it first
      problems.push(`the step container ${r.Id.slice(0, 12)} of an interrupted build could not be removed (${(e as Error).message}); remove it with: cdk-docker runtime rm -f ${r.Id.slice(0, 12)}`);
    }
  }
  const tempDirs: string[] = [];
  const base = path.join(root, TMP_DIR);
  let names: string[] = [];
  try {
    names = fs.readdirSync(base);
  } catch {
    // no build has made one
  }
  for (const name of names) {
    const m = /^(\d+)-(\d+)-[0-9a-f]+$/.exec(name);
    if (m && ownerAlive(`${m[1]} ${m[2]}`)) continue;
    fs.rmSync(path.join(base, name), { recursive: true, force: true });
    tempDirs.push(name);
  }
  return { containers, tempDirs, problems };
}
