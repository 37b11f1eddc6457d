import { spawn } from 'node:child_process';
import { MAX_COUNT, MAX_TIMER_MS } from '../../lib/core/limits';
import type { HealthcheckConfig, HealthLogEntry, HealthState } from './types';

/**
 * Healthchecks without systemd or a daemon: while a container runs, a small shell loop (one per
 * healthchecked container, a few hundred KB) sleeps for the interval and then runs the engine's
 * healthcheck hook (runtime/hook.ts), which execs the test in the container and records the
 * result. The loop ends by itself when the container's monitor (conmon) exits.
 */

export const HEALTH_DEFAULTS = { interval: 30e9, timeout: 30e9, startPeriod: 0, retries: 3 } as const;
const MAX_OUTPUT = 4096;
const MAX_LOG = 5;

/** The test as an argv to exec, or undefined when healthchecks are off (`NONE`, empty). */
export function healthArgv(hc: HealthcheckConfig | undefined): string[] | undefined {
  if (!hc || hc.Test.length === 0) return undefined;
  const [kind, ...rest] = hc.Test;
  if (kind === 'NONE') return undefined;
  if (kind === 'CMD') return rest.length ? rest : undefined;
  if (kind === 'CMD-SHELL') return ['/bin/sh', '-c', rest.join(' ')];
  return ['/bin/sh', '-c', hc.Test.join(' ')];
}

/** Interval, timeout, start period (ms) and retries with Docker's defaults for zeros. */
export function healthTimings(hc: HealthcheckConfig): { interval: number; timeout: number; startPeriod: number; retries: number } {
  // An image's HEALTHCHECK comes from its config, unchecked: a duration past Node's longest timer
  // would fire at once, so each is held to it (about 24 days), and odd values take the default.
  const ms = (ns: number | undefined, fallback: number) => (Number.isFinite(ns) && ns! > 0 ? Math.min(ns! / 1e6, MAX_TIMER_MS) : fallback / 1e6);
  return {
    interval: ms(hc.Interval, HEALTH_DEFAULTS.interval),
    timeout: ms(hc.Timeout, HEALTH_DEFAULTS.timeout),
    startPeriod: ms(hc.StartPeriod, HEALTH_DEFAULTS.startPeriod),
    retries: Number.isSafeInteger(hc.Retries) && hc.Retries! > 0 ? Math.min(hc.Retries!, MAX_COUNT) : HEALTH_DEFAULTS.retries,
  };
}

/** Docker's rules for one probe result: success → healthy; failures count once the start period is over. */
export function nextHealth(prev: HealthState | undefined, entry: HealthLogEntry, inStartPeriod: boolean, retries: number): HealthState {
  const base: HealthState = prev ?? { Status: 'starting', FailingStreak: 0, Log: [] };
  const Log = [...base.Log, { ...entry, Output: entry.Output.slice(0, MAX_OUTPUT) }].slice(-MAX_LOG);
  if (entry.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log };
  if (inStartPeriod) return { ...base, Log };
  const FailingStreak = base.FailingStreak + 1;
  return { Status: FailingStreak >= retries ? 'unhealthy' : base.Status, FailingStreak, Log };
}

/**
 * Starts the probe loop for a container whose monitor is `monitorPid`: every `intervalMs` it runs
 * `probe` (the engine's healthcheck hook for the container). Returns the loop's pid (the leader of
 * its own process group, so it can be ended with everything it started).
 */
export function startHealthLoop(probe: string[], monitorPid: number, intervalMs: number, env: NodeJS.ProcessEnv): number {
  const seconds = (intervalMs / 1000).toFixed(3);
  const quoted = probe.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `while kill -0 ${monitorPid} 2>/dev/null; do sleep ${seconds}; kill -0 ${monitorPid} 2>/dev/null || break; ${quoted} >/dev/null 2>&1; done`;
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore', env });
  child.unref();
  return child.pid!;
}

/** Ends a probe loop and any probe it is running. */
export function stopHealthLoop(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
