import { inspect } from 'node:util';
import { CdkDockerError } from './errors';

/**
 * How an app run inside the CLI's own process (lib/toolkit/app-in-process) and the library's
 * App meet: while such a run is on, `globalThis[IN_PROCESS_APP]` is set, and `App.synth()` tells
 * it once the plans are written. A global symbol, so that it works whichever copy of the library
 * the app loaded.
 */
export const IN_PROCESS_APP = Symbol.for('cdk-docker.in-process-app');

/** What an in-process run offers the app's library. */
export interface InProcessApp {
  /** `App.synth()` wrote its plans to `outdir`. */
  synthesized(outdir: string): void;
}

/** The in-process run going on, if any. */
export function inProcessApp(): InProcessApp | undefined {
  return (globalThis as { [IN_PROCESS_APP]?: InProcessApp })[IN_PROCESS_APP];
}

/**
 * An error the app did not catch, as the CLI shows it: a cdk-docker error (a construct's or
 * `synth()`'s validation) as its message lines, which name the construct, the prop and the fix;
 * anything else as Node prints it, with its stack.
 */
export function describeAppError(err: unknown): string {
  return err instanceof CdkDockerError ? `Error: ${err.message}\n` : `${inspect(err)}\n`;
}
