/**
 * A build context as the Docker CLI sends it to `POST /build`: a tar of the context directory's
 * files that `.dockerignore` keeps (the walk ../../core/dockerignore shares with the plan's
 * context hash, so what `diff` calls a change is what the engine gets), owned by root, with the
 * Dockerfile and `.dockerignore` always included (the CLI's rule). A Dockerfile outside the
 * context travels as an extra entry, as the CLI sends one from elsewhere.
 */

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { tarStream, TarHeader } from '../../core/tar';
import { contextPaths, dockerignore } from '../../core/dockerignore';

export interface BuildContext {
  /** The tar, produced as it is read. */
  readonly tar: Readable;
  /** The Dockerfile's path inside the tar (the `dockerfile` query parameter). */
  readonly dockerfile: string;
}

/** The context `dir` as a tar stream, with `dockerfile` (absolute, or relative to `dir`). */
export function buildContext(dir: string, dockerfile: string): BuildContext {
  const root = path.resolve(dir);
  const file = path.resolve(root, dockerfile);
  const rel = path.relative(root, file);
  const inside = rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  const dockerfileEntry = inside ? rel.split(path.sep).join('/') : `.cdk-docker-dockerfile-${createHash('sha256').update(file).digest('hex').slice(0, 12)}`;
  const ignored = dockerignore(root);
  const entries = contextPaths(root, (r) => r !== dockerfileEntry && r !== '.dockerignore' && ignored(r));
  const pack = tarStream().pack();
  const add = (header: Partial<TarHeader> & { name: string }, from?: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (from === undefined) {
        pack.entry(header, (e) => (e ? reject(e) : resolve()));
        return;
      }
      const sink = pack.entry(header, (e) => (e ? reject(e) : resolve()));
      fs.createReadStream(from).on('error', reject).pipe(sink as unknown as NodeJS.WritableStream);
    });
  const fill = async (): Promise<void> => {
    for (const { rel: r } of entries) {
      const abs = path.join(root, r);
      const st = fs.lstatSync(abs);
      const base = { name: r, mode: st.mode & 0o7777, uid: 0, gid: 0, mtime: st.mtime };
      if (st.isDirectory()) await add({ ...base, type: 'directory' });
      else if (st.isSymbolicLink()) await add({ ...base, type: 'symlink', linkname: fs.readlinkSync(abs) });
      else if (st.isFile()) await add({ ...base, type: 'file', size: st.size }, abs);
      // Sockets, fifos and devices are not sent (as the Docker CLI).
    }
    if (!inside) {
      const st = fs.statSync(file);
      await add({ name: dockerfileEntry, mode: 0o644, uid: 0, gid: 0, mtime: st.mtime, type: 'file', size: st.size }, file);
    }
    pack.finalize();
  };
  fill().catch((e: Error) => pack.destroy(e));
  return { tar: Readable.from(pack as unknown as AsyncIterable<Buffer>), dockerfile: dockerfileEntry };
}
