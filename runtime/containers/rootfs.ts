import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CdkDockerError } from '../../lib/core/errors';
import { isMounted, mountsUnder } from '../util/mounts';
import { execFileText } from './runc';

/**
 * A container's root filesystem: the image's unpacked layers as overlayfs lower directories
 * (top layer first), the container's own `diff` as the upper directory, mounted at
 * `<bundle>/rootfs` while the container runs and unmounted when it exits.
 */

/** Mount points from /proc/self/mountinfo: the one parser, shared with the volume store. */
export { isMounted, mountsUnder } from '../util/mounts';

/**
 * Mounts the overlay for a container. `layerDirs` are the layers' diff directories, bottom
 * first. Lower directories are given relative to their common parent (mount runs there), so
 * deep images stay under the kernel's one-page limit for mount options.
 */
export async function mountRootfs(layerDirs: string[], containerDir: string, target: string): Promise<void> {
  if (isMounted(target)) return;
  const upper = path.join(containerDir, 'diff');
  const work = path.join(containerDir, 'work');
  const empty = path.join(containerDir, 'empty');
  for (const d of [upper, work, target]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  let lowers = [...layerDirs].reverse();
  if (lowers.length === 0) {
    fs.mkdirSync(empty, { recursive: true });
    lowers = [empty];
  }
  const parent = commonParent(lowers);
  const rel = lowers.map((l) => path.relative(parent, l));
  const options = `lowerdir=${rel.join(':')},upperdir=${upper},workdir=${work}`;
  if (options.length > 4000) {
    throw new CdkDockerError(`the image has too many layers (${lowers.length}) to mount with overlayfs; squash it (e.g. rebuild it with fewer RUN steps)`);
  }
  await new Promise<void>((resolve, reject) => {
    execFile('mount', ['-t', 'overlay', 'overlay', '-o', options, target], { cwd: parent, encoding: 'utf8' }, (err, _o, stderr) =>
      err ? reject(new CdkDockerError(`cannot mount the container's root filesystem: ${stderr.trim() || err.message}`)) : resolve(),
    );
  });
}

function commonParent(dirs: string[]): string {
  let parent = path.dirname(dirs[0]);
  while (!dirs.every((d) => d.startsWith(`${parent}/`))) parent = path.dirname(parent);
  return parent;
}

/** Unmounts everything at or under `target` (lazily if busy); no-op when nothing is mounted. */
export async function unmountAll(target: string): Promise<void> {
  for (const m of mountsUnder(target)) {
    try {
      await execFileText('umount', [m]);
    } catch {
      await execFileText('umount', ['-l', m]).catch(() => undefined);
    }
  }
}
