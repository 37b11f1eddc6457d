import type { IConstruct } from 'constructs';
import type { Secret } from '../secret';

/**
 * What constructs may ask of the outside world while rendering their plan. The App implements
 * it (it is the boundary: it reads files and the environment), so constructs stay pure.
 */
export interface SynthContext {
  /** Absolute form of a user path, relative to the app's base directory. */
  resolvePath(path: string): string;
  /** `sha256:…` of a file, or undefined (after reporting) when it cannot be read. */
  hashFile(scope: IConstruct, what: string, absPath: string): string | undefined;
  /** `sha256:…` of a build context (honouring .dockerignore) and its Dockerfile. */
  hashBuildContext(scope: IConstruct, context: string, dockerfile: string): string | undefined;
  /** The images a build's Dockerfile starts FROM (see `dockerfileBaseImages`); none when it cannot be read. */
  dockerfileBaseImages(context: string, dockerfile: string): string[];
  /** `hmac-sha256:…` of a secret's current value, keyed per stack. */
  secretHmac(scope: IConstruct, stackName: string, secret: Secret): string | undefined;
  /** What `absPath` is; reports a missing path as an error naming `what`. */
  statPath(scope: IConstruct, what: string, absPath: string): 'file' | 'directory' | 'other' | 'missing';
  /** Reports a problem found while rendering; synth fails with all of them at the end. */
  error(scope: IConstruct, message: string): void;
}
