import { CdkDockerError } from '../core/errors';
import type { DependencyCondition } from '../plan/types';

/**
 * A container cannot reach the condition the reconciler waits for (it exited, exited non-zero,
 * turned unhealthy, or did not get there in time). The message names the container, what
 * happened, its last log lines and what to do.
 */
export class ContainerConditionError extends CdkDockerError {
  public override readonly code = 'CONDITION_FAILED';
  constructor(
    /** The container's name. */
    public readonly container: string,
    public readonly condition: DependencyCondition,
    /** What happened, a phrase after the name: `exited with code 3 before it completed successfully`. */
    public readonly reason: string,
    /** The container's last output lines (may be empty). */
    public readonly lastLogs: string,
    fix: string,
  ) {
    const logs = lastLogs.trimEnd();
    super(`container ${container} ${reason}${logs ? `; its last output:\n${logs.split('\n').map((l) => `  | ${l}`).join('\n')}\n` : ' (it wrote no output); '}${fix}`);
  }
}

/** The engine cannot do what the plan asks (a feature it lacks). */
export class UnsupportedError extends CdkDockerError {
  public override readonly code = 'UNSUPPORTED';
}
