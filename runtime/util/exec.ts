import { spawn } from 'node:child_process';
import { CdkDockerError } from '../../lib/core/errors';

/**
 * A host tool failed. The message names the command, its arguments and its stderr; `brief`
 * (`TOOL: STDERR`) leaves the arguments out, for callers whose arguments hold what must not be
 * shown (mount options with a password).
 */
export class ToolError extends CdkDockerError {
  public override readonly code = 'TOOL_FAILED';
  /** `TOOL: what it printed on stderr` (or why it did not run, or its exit status). */
  public readonly brief: string;

  constructor(message: string, brief: string) {
    super(message);
    this.brief = brief;
  }
}

/**
 * Runs a small host tool (mknod, setfattr, mount, cp …) to completion, `input` on its stdin when
 * given; a non-zero exit is a ToolError with the command and its stderr.
 */
export function runTool(cmd: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'], env: process.env });
    if (input !== undefined) {
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(input);
    }
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', (e) => reject(new ToolError(`cannot run ${cmd}: ${e.message}`, `${cmd}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const status = signal ?? `exit ${code}`;
      reject(new ToolError(`${cmd} ${args.join(' ')} failed (${status}): ${stderr.trim()}`, `${cmd}: ${stderr.trim() || status}`));
    });
  });
}
