import { spawn } from 'node:child_process';
import { CdkDockerError } from '../../lib/core/errors';

/**
 * Runs a small host tool (mknod, setfattr …) to completion; a non-zero exit is a CdkDockerError
 * with the command and its stderr.
 */
export function runTool(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: process.env });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', (e) => reject(new CdkDockerError(`cannot run ${cmd}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new CdkDockerError(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
}
