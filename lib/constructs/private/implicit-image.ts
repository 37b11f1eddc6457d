import { createHash } from 'node:crypto';
import { normalizeReference } from '../../core/reference';
import { Image } from '../image';
import type { Stack } from '../stack';

/** The Images made for plain references, per stack and normalised reference. */
const implicitImages = new WeakMap<Stack, Map<string, Image>>();

/**
 * The Image construct that containers of `stack` naming the reference `ref` (rather than an
 * Image) share: made on first use as a registry image, a child of the stack. Throws the
 * reference's own error when `ref` is not a valid reference.
 */
export function imageForRef(stack: Stack, ref: string): Image {
  const normalized = normalizeReference(ref);
  let images = implicitImages.get(stack);
  if (!images) {
    images = new Map();
    implicitImages.set(stack, images);
  }
  let image = images.get(normalized);
  if (!image) {
    const id = `image-${normalized.replace(/^docker\.io\/(library\/)?/, '').replace(/[^A-Za-z0-9_.-]+/g, '-')}`;
    // On a clash (`a/b:c` and `a-b:c` both give image-a-b-c), a suffix from the reference
    // itself, so the id never depends on how many other images were created before.
    const unique = stack.node.tryFindChild(id) ? `${id}-${createHash('sha256').update(normalized).digest('hex').slice(0, 8)}` : id;
    image = new Image(stack, unique, { ref: normalized });
    images.set(normalized, image);
  }
  return image;
}
