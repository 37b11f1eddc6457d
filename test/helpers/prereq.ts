import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The path of a host program the tests need. A missing one fails the test with the package to
 * install — never a silent skip (`.ci/setup` installs them all).
 */
export function requireCommand(command: string, debianPackage: string, extraDirs: string[] = []): string {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', ...extraDirs];
  for (const d of dirs) {
    const p = path.join(d, command);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  throw new Error(`test prerequisite missing: ${command} (install it with \`apt-get install ${debianPackage}\`, or run \`bash .ci/setup\`)`);
}

/** Runs a command and returns its stdout. */
export function sh(command: string, args: string[], input?: string | Buffer): string {
  return execFileSync(command, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/**
 * A log file for a daemon a test starts (dockerd, docker-registry): `fd` for its stderr, `tail()`
 * for an error message. Never a pipe: the tests wait in spawnSync/execFileSync for minutes, the
 * event loop drains nothing meanwhile, and a daemon whose pipe is full blocks in a log write —
 * dockerd then holds its locks and a `docker build` waits forever (a CI run hung 77 minutes so).
 */
export function daemonLog(file: string): { readonly fd: number; tail(): string } {
  const fd = fs.openSync(file, 'a');
  return {
    fd,
    tail() {
      try {
        return fs.readFileSync(file, 'utf8').slice(-4000);
      } catch {
        return '(no log)';
      }
    },
  };
}
