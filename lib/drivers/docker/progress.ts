/**
 * A pull's progress messages, as the Docker Engine streams them from `POST /images/create` and
 * `POST /build` (`{id, status, progressDetail}`), to an ImageProgress: one call per change of a
 * layer's status, its bytes while it downloads, and the lines about the whole image.
 */
import type { ImageProgress } from '../types';
import type { DockerProgressMessage } from './stream';

/** The handler of each message of a pull (or of a build's pulls) for `progress`. */
export function pullReporter(progress: ImageProgress): (message: DockerProgressMessage) => void {
  const statuses = new Map<string, string>();
  return (m) => {
    if (typeof m.status !== 'string' || m.error !== undefined) return;
    const status = m.status.trim();
    // Without an id: `Digest: …`, `Status: …`. With the tag as its id: `1.2: Pulling from …`.
    if (!m.id) return progress.line(status);
    if (/^Pulling from /.test(status)) return progress.line(`${m.id}: ${status}`);
    const { current, total } = m.progressDetail ?? {};
    const counted = typeof current === 'number' && typeof total === 'number' && total > 0;
    if (status === 'Downloading' && counted) {
      statuses.set(m.id, status);
      return progress.bytes(m.id, current, total);
    }
    // `Downloading` and `Extracting` repeat for every chunk: a layer's status is reported when it changes.
    if (statuses.get(m.id) === status) return;
    statuses.set(m.id, status);
    progress.layer(m.id, status);
  };
}
