import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { InvalidArgumentError } from './errors';

/**
 * Files a stack names as inputs (secret and config files, env files, bind-mounted files) are
 * read whole, at synth (hashed) and at apply (delivered). A path from a hostile compose file or
 * checkout can name a FIFO (open blocks for ever), a device (/dev/zero never ends) or a file too
 * big to hold in memory: each is refused with one line naming the file, never a hang or a crash.
 */

/** The most a secret or config file may hold (read into memory, written into every container). */
export const MAX_FILE_INPUT_BYTES = 64 * 1024 * 1024;

/** Opens `file` for reading without blocking (a FIFO opens at once) and checks it is a regular file. */
function openRegular(file: string, what: string): { fd: number } {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a file';
      throw new InvalidArgumentError(`${what} ${file} is ${kind}, not a regular file; give the path of a file`);
    }
    return { fd };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** The content of regular file `file`, at most `maxBytes` (a `what` names it in messages). */
export function readInputFile(file: string, what: string, maxBytes = MAX_FILE_INPUT_BYTES): Buffer {
  const size = fs.statSync(file).size;
  if (size > maxBytes) throw new InvalidArgumentError(`${what} ${file} is ${size} bytes, more than the ${maxBytes} a ${what} may have; make it smaller`);
  // Read to the end, but never past the limit (a file may grow while it is read).
  const chunks: Buffer[] = [];
  let total = 0;
  readInputChunks(file, what, (b) => {
    total += b.length;
    if (total > maxBytes) throw new InvalidArgumentError(`${what} ${file} is more than the ${maxBytes} bytes a ${what} may have; make it smaller`);
    chunks.push(Buffer.from(b));
  });
  return Buffer.concat(chunks);
}

/**
 * Reads regular file `file` in chunks (any size), giving each to `chunk` (valid during the call
 * only). A file whose read would wait (a /proc file such as kmsg) is refused, not waited for.
 */
export function readInputChunks(file: string, what: string, chunk: (data: Buffer) => void): void {
  const { fd } = openRegular(file, what);
  try {
    const buf = Buffer.alloc(1 << 16);
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') throw new InvalidArgumentError(`${what} ${file} cannot be read without waiting (it is not an ordinary file); leave it out`);
        throw e;
      }
      if (n === 0) return;
      chunk(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** `sha256:…` of regular file `file`, read in chunks (any size). */
export function hashInputFile(file: string, what: string): string {
  const h = createHash('sha256');
  readInputChunks(file, what, (b) => h.update(b));
  return `sha256:${h.digest('hex')}`;
}
