import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A container's cgroups: runc's cgroupfs driver puts it under `cdk-docker/<id>` in every
 * controller (v1) or in the unified hierarchy (v2).
 */

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The container's cgroup, as runc's cgroupsPath. */
export function cgroupsPath(id: string): string {
  return `/cdk-docker/${id}`;
}

/** Whether the kernel's OOM killer killed a process of the container's cgroup (v1 or v2). */
export function readOomKilled(id: string): boolean {
  for (const file of [path.join(CGROUP_ROOT, 'memory', 'cdk-docker', id, 'memory.oom_control'), path.join(CGROUP_ROOT, 'cdk-docker', id, 'memory.events')]) {
    try {
      const m = /oom_kill (\d+)/.exec(fs.readFileSync(file, 'utf8'));
      if (m) return Number(m[1]) > 0;
    } catch {
      // not this hierarchy
    }
  }
  return false;
}

/** Removes the container's cgroup directories runc left (it removes them on delete; a crash may not). */
export function removeCgroups(id: string): void {
  let controllers: string[] = [];
  try {
    controllers = fs.readdirSync(CGROUP_ROOT);
  } catch {
    return;
  }
  for (const c of ['', ...controllers]) {
    const dir = path.join(CGROUP_ROOT, c, 'cdk-docker', id);
    try {
      fs.rmdirSync(dir);
    } catch {
      // absent or busy
    }
  }
}
