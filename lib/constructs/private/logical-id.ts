import { createHash } from 'node:crypto';

/**
 * A logical id from a construct path relative to its stack: the path's alphanumeric
 * characters (up to 240) followed by 8 hex digits of a hash of the full path. It depends on
 * nothing but the path, so adding or renaming other constructs never changes it.
 */
export function logicalIdFromPath(components: string[]): string {
  const readable = components
    .map((c) => c.replace(/[^A-Za-z0-9]/g, ''))
    .map((c) => c.charAt(0).toUpperCase() + c.slice(1))
    .join('')
    .slice(0, 240);
  const hash = createHash('sha256').update(components.join('/')).digest('hex').slice(0, 8).toUpperCase();
  const id = `${readable}${hash}`;
  return /^[A-Za-z]/.test(id) ? id : `R${id}`;
}
