import { inspect } from 'node:util';
import { CdkDockerError } from './errors';

/**
 * An error the app did not catch, as cdk-docker shows it: a cdk-docker error (a construct's or
 * `synth()`'s validation) as its message lines, which name the construct, the prop and the fix;
 * anything else as Node prints it, with its stack.
 */
export function describeAppError(err: unknown): string {
  return err instanceof CdkDockerError ? `Error: ${err.message}\n` : `${inspect(err)}\n`;
}
