import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contextPaths } from '../core/dockerignore';
import { hashInputFile, readInputChunks, readInputFile } from '../core/input-file';

/** `sha256:…` of a regular file's content (a FIFO or device is refused, not read). */
export function hashFileContent(file: string): string {
  return hashInputFile(file, 'file');
}

/**
 * The files of a build context that Docker would send: everything not excluded by the
 * context's .dockerignore, as sorted POSIX paths relative to the context. The Dockerfile and
 * .dockerignore are always part of it, as with Docker.
 */
export function contextFiles(context: string, dockerfile = 'Dockerfile'): string[] {
  const out = contextPaths(context).filter((e) => !e.isDir).map((e) => e.rel);
  for (const always of [dockerfile.split(path.sep).join('/'), '.dockerignore']) {
    if (!out.includes(always) && fs.existsSync(path.join(context, always))) out.push(always);
  }
  return out.sort();
}

/**
 * `sha256:…` over a build context: for each file Docker would send, its path, type, executable
 * bit and content (a symlink's target). Changing, adding or removing such a file changes the
 * hash; an ignored file does not. The Dockerfile is included even when it is outside the context.
 */
export function hashBuildContext(context: string, dockerfile = 'Dockerfile'): string {
  const h = createHash('sha256');
  h.update('cdk-docker build context v1\0');
  for (const rel of contextFiles(context, dockerfile)) {
    const abs = path.join(context, rel);
    const st = fs.lstatSync(abs);
    if (st.isSymbolicLink()) {
      h.update(`L\0${rel}\0${fs.readlinkSync(abs)}\0`);
    } else if (st.isFile()) {
      h.update(`F\0${rel}\0${(st.mode & 0o111) !== 0 ? 'x' : '-'}\0${st.size}\0`);
      // Read without blocking: a file that would block (/proc/kmsg in a context of /proc) is refused.
      readInputChunks(abs, 'build context file', (b) => h.update(b));
      h.update('\0');
    }
  }
  const dfAbs = path.resolve(context, dockerfile);
  if (!dfAbs.startsWith(path.resolve(context) + path.sep)) {
    h.update(`D\0${readInputFile(dfAbs, 'Dockerfile')}`);
  }
  return `sha256:${h.digest('hex')}`;
}

/**
 * The images a Dockerfile's stages start FROM, as written: not `scratch`, not an earlier stage
 * (`FROM build`), not a reference with a variable in it (its value is known only at build time).
 */
export function dockerfileBaseImages(text: string): string[] {
  const { DockerfileParser } = require('dockerfile-ast') as typeof import('dockerfile-ast');
  const stages = new Set<string>();
  const out: string[] = [];
  for (const from of DockerfileParser.parse(text).getFROMs()) {
    const image = from.getImage();
    if (image && image !== 'scratch' && !image.includes('$') && !stages.has(image.toLowerCase()) && !out.includes(image)) out.push(image);
    const stage = from.getBuildStage();
    if (stage) stages.add(stage.toLowerCase());
  }
  return out;
}
