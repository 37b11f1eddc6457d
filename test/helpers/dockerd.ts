import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './cli';
import { requireCommand } from './prereq';

/**
 * A real dockerd started by the test with private roots and socket (no bridge, no iptables
 * rules), for interoperability checks; `stop()` shuts it down and removes its state.
 */
export interface TestDockerd {
  readonly host: string;
  /** Runs the docker CLI against this daemon and returns stdout. */
  docker(args: string[], input?: Buffer | string): string;
  stop(): Promise<void>;
}

export async function startDockerd(): Promise<TestDockerd> {
  const dockerd = requireCommand('dockerd', 'docker.io');
  const docker = requireCommand('docker', 'docker.io');
  const dir = tempDir('cdk-docker-dockerd-');
  const sock = path.join(dir, 'docker.sock');
  const host = `unix://${sock}`;
  const child: ChildProcess = spawn(
    dockerd,
    [
      '--data-root', path.join(dir, 'data'),
      '--exec-root', path.join(dir, 'exec'),
      '--pidfile', path.join(dir, 'docker.pid'),
      '-H', host,
      '--bridge=none', '--iptables=false', '--ip-masq=false', '--ip-forward=false',
      '--containerd-namespace', `cdk-docker-test-${process.pid}`,
      '--containerd-plugins-namespace', `cdk-docker-test-${process.pid}-plugins`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
  const run = (args: string[], input?: Buffer | string) =>
    execFileSync(docker, args, { env: { ...process.env, DOCKER_HOST: host }, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dockerd exited (${child.exitCode}): ${log}`);
    try {
      run(['version', '--format', '{{.Server.Version}}']);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`dockerd did not start within 30 s: ${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    host,
    docker: run,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      // dockerd unmounts its layers on shutdown; anything left is unmounted before removal.
      const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(dir));
      for (const m of mounts.reverse()) {
        try {
          execFileSync('umount', ['-l', m]);
        } catch {
          // already gone
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
