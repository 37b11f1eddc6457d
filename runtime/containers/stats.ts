import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bytesSize, humanSize } from '../util/units';

/**
 * Resource usage of a container from its cgroup (v1 or v2) and its network namespace, the way
 * Docker computes `docker stats`: CPU % from two samples against the host's CPU time, memory
 * without the inactive page cache, the limit capped at the host's memory.
 */

const CGROUP_ROOT = '/sys/fs/cgroup';
const NS_PER_TICK = 1e9 / 100; // USER_HZ is 100 on Linux

/** One reading of a container's counters. */
export interface StatsSample {
  /** Nanoseconds of CPU the container used. */
  readonly cpuNs: number;
  /** Nanoseconds of CPU the host used (all CPUs), from /proc/stat. */
  readonly systemNs: number;
  readonly onlineCpus: number;
  readonly memUsage: number;
  readonly memLimit: number;
  readonly pids: number;
  readonly blkRead: number;
  readonly blkWrite: number;
  readonly netRx: number;
  readonly netTx: number;
}

/** One line of `stats`, with the fields `--format` templates use (Docker's names). */
export interface StatsRow {
  readonly ID: string;
  readonly Container: string;
  readonly Name: string;
  readonly CPUPerc: string;
  readonly MemUsage: string;
  readonly MemPerc: string;
  readonly NetIO: string;
  readonly BlockIO: string;
  readonly PIDs: string;
}

/** Reads the counters of the container whose cgroup is `cgroupsPath` and whose init is `pid`. */
export function sampleStats(cgroupsPath: string, pid: number, hostNetwork: boolean): StatsSample {
  const cg = cgroupV2() ? readV2(path.join(CGROUP_ROOT, cgroupsPath)) : readV1(cgroupsPath);
  const net = hostNetwork || !pid ? { rx: 0, tx: 0 } : readNetDev(pid);
  const hostMem = os.totalmem();
  return {
    ...cg,
    memLimit: cg.memLimit > 0 && cg.memLimit < hostMem ? cg.memLimit : hostMem,
    systemNs: systemCpuNs(),
    onlineCpus: os.cpus().length || 1,
    netRx: net.rx,
    netTx: net.tx,
  };
}

/** Docker's CPU %: the container's share of the host's CPU time between two samples, × CPUs. */
export function cpuPercent(prev: StatsSample | undefined, cur: StatsSample): number {
  if (!prev) return 0;
  const cpuDelta = cur.cpuNs - prev.cpuNs;
  const systemDelta = cur.systemNs - prev.systemNs;
  if (cpuDelta <= 0 || systemDelta <= 0) return 0;
  return (cpuDelta / systemDelta) * cur.onlineCpus * 100;
}

/** The row `stats` prints; a container that is not running shows zeros, as Docker. */
export function statsRow(id: string, name: string, prev: StatsSample | undefined, cur: StatsSample | undefined): StatsRow {
  const s = cur ?? { cpuNs: 0, systemNs: 0, onlineCpus: 1, memUsage: 0, memLimit: 0, pids: 0, blkRead: 0, blkWrite: 0, netRx: 0, netTx: 0 };
  const memPerc = s.memLimit > 0 ? (s.memUsage / s.memLimit) * 100 : 0;
  return {
    ID: id.slice(0, 12),
    Container: id.slice(0, 12),
    Name: name,
    CPUPerc: `${cpuPercent(prev, s).toFixed(2)}%`,
    MemUsage: `${bytesSize(s.memUsage)} / ${bytesSize(s.memLimit)}`,
    MemPerc: `${memPerc.toFixed(2)}%`,
    NetIO: `${humanSize(s.netRx, 3)} / ${humanSize(s.netTx, 3)}`,
    BlockIO: `${humanSize(s.blkRead, 3)} / ${humanSize(s.blkWrite, 3)}`,
    PIDs: String(s.pids),
  };
}

type CgroupCounters = Pick<StatsSample, 'cpuNs' | 'memUsage' | 'memLimit' | 'pids' | 'blkRead' | 'blkWrite'>;

function cgroupV2(): boolean {
  return fs.existsSync(path.join(CGROUP_ROOT, 'cgroup.controllers'));
}

function readV1(cgroupsPath: string): CgroupCounters {
  const dir = (controller: string) => {
    // `cpuacct` may be mounted on its own or together with `cpu`.
    for (const d of [controller, `cpu,${controller}`, `${controller},cpu`]) {
      const p = path.join(CGROUP_ROOT, d, cgroupsPath);
      if (fs.existsSync(p)) return p;
    }
    return path.join(CGROUP_ROOT, controller, cgroupsPath);
  };
  const memDir = dir('memory');
  const memStat = keyValues(read(path.join(memDir, 'memory.stat')));
  const usage = num(read(path.join(memDir, 'memory.usage_in_bytes')));
  const io = blkioV1(read(path.join(dir('blkio'), 'blkio.throttle.io_service_bytes_recursive')));
  return {
    cpuNs: num(read(path.join(dir('cpuacct'), 'cpuacct.usage'))),
    memUsage: Math.max(0, usage - (memStat.total_inactive_file ?? 0)),
    memLimit: num(read(path.join(memDir, 'memory.limit_in_bytes'))),
    pids: num(read(path.join(dir('pids'), 'pids.current'))),
    blkRead: io.read,
    blkWrite: io.write,
  };
}

function readV2(dir: string): CgroupCounters {
  const cpu = keyValues(read(path.join(dir, 'cpu.stat')));
  const memStat = keyValues(read(path.join(dir, 'memory.stat')));
  const max = read(path.join(dir, 'memory.max')).trim();
  let blkRead = 0;
  let blkWrite = 0;
  for (const line of read(path.join(dir, 'io.stat')).split('\n')) {
    blkRead += Number(/rbytes=(\d+)/.exec(line)?.[1] ?? 0);
    blkWrite += Number(/wbytes=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return {
    cpuNs: (cpu.usage_usec ?? 0) * 1000,
    memUsage: Math.max(0, num(read(path.join(dir, 'memory.current'))) - (memStat.inactive_file ?? 0)),
    memLimit: max === 'max' ? 0 : num(max),
    pids: num(read(path.join(dir, 'pids.current'))),
    blkRead,
    blkWrite,
  };
}

function blkioV1(text: string): { read: number; write: number } {
  let r = 0;
  let w = 0;
  for (const line of text.split('\n')) {
    const [, op, value] = line.trim().split(/\s+/);
    if (op === 'Read') r += Number(value) || 0;
    else if (op === 'Write') w += Number(value) || 0;
  }
  return { read: r, write: w };
}

/** Bytes received and sent on the container's interfaces other than loopback. */
function readNetDev(pid: number): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of read(`/proc/${pid}/net/dev`).split('\n').slice(2)) {
    const [iface, rest] = line.split(':');
    if (!rest || iface.trim() === 'lo') continue;
    const f = rest.trim().split(/\s+/).map(Number);
    rx += f[0] || 0;
    tx += f[8] || 0;
  }
  return { rx, tx };
}

/** The host's total CPU time (user … steal) in nanoseconds. */
function systemCpuNs(): number {
  const line = read('/proc/stat').split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number).reduce((a, b) => a + (b || 0), 0);
  return ticks * NS_PER_TICK;
}

function keyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function num(text: string): number {
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : 0;
}
