import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../util/files';
import type { ContainerContext } from './context';

/**
 * The boot the run dir has seen: `<runRoot>/boot-id` holds the kernel's boot id once the first
 * command since boot has restored the containers a reboot stopped (`restoreIfRebooted`).
 */
const marker = (ctx: ContainerContext) => path.join(ctx.config.runRoot, 'boot-id');

function bootId(): string {
  return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/** Whether the containers have been restored since this boot. */
export function bootSeen(ctx: ContainerContext): boolean {
  try {
    return fs.readFileSync(marker(ctx), 'utf8').trim() === bootId();
  } catch {
    return false; // first command since boot
  }
}

export function markBootSeen(ctx: ContainerContext): void {
  fs.mkdirSync(ctx.config.runRoot, { recursive: true, mode: 0o700 });
  writeFileAtomic(marker(ctx), bootId());
}
