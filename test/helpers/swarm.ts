import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DOCKER_2010 } from './dockerd';
import { daemonLog, requireCommand } from './prereq';

/**
 * A real Docker Swarm on this one machine, started and torn down by a test.
 *
 * Each node is a dockerd of its own in a network namespace of its own (`cdkcl-<slot>-<i>`) with
 * its own hostname (UTS namespace), mount namespace, data-root, exec-root, socket, pidfile,
 * containerd and log file (`dockerd.log` in its state directory), and its
 * iptables rules inside that namespace (the routing mesh needs them there; the host's tables are
 * never touched). The nodes' `eth0` are veths into one bridge that lives in a hub namespace
 * (`cdkcl-<slot>-hub`, whose firewall is empty, so the host's FORWARD policy and br_netfilter
 * never see node-to-node traffic); the host reaches the nodes over one more veth into that bridge
 * (`cdkcl<slot>`, 10.165.0.<16·slot+1>/28). Node i has 10.165.0.<16·slot+2+i>. Node 0 is the
 * manager (`swarm init --advertise-addr`), the others join as workers.
 *
 * A slot (0–15) is claimed atomically, so swarms of several test files can run at once; a slot
 * whose owner died is cleaned and reused. Address pools: overlays and ingress from
 * 10.168.<16·slot>.0/20, local bridges (docker0, docker_gwbridge) from 10.169.<16·slot>.0/20 —
 * both only exist inside the node namespaces.
 *
 * `stop()` makes the workers and then the manager leave, stops each dockerd by its pid, waits
 * until no process is left in the node namespaces, unmounts what is left under the state
 * directory, deletes the namespaces, veths and bridge, and then fails if a process had to be
 * killed or if the host's iptables (rules naming our interfaces or the swarms' octets) differ
 * from before.
 */
export interface TestSwarm {
  readonly nodes: readonly SwarmNode[];
  /** Node 0. */
  readonly manager: SwarmNode;
  /** The manager's endpoint for cdk-docker (`DOCKER_HOST`): `unix://…`. */
  readonly host: string;
  /** The host side's address on the swarm's bridge (the nodes can reach it). */
  readonly hostAddress: string;
  /** `docker load -i archive` on every node. */
  loadImage(archive: string): void;
  /** Sets node labels (`docker node update --label-add k=v`) on node `index`, from the manager. */
  labelNode(index: number, labels: { readonly [key: string]: string }): void;
  /** The swarm's node id → index of its node in `nodes`. */
  nodeIndex(nodeId: string): number;
  stop(): Promise<void>;
}

export interface SwarmNode {
  readonly index: number;
  /** The node's hostname (and Swarm node name): `<label>-<i>`. */
  readonly name: string;
  /** Its swarm id. */
  readonly id: string;
  /** Its address on the swarm's bridge (the host reaches it there). */
  readonly address: string;
  /** Its dockerd: `unix://…`. */
  readonly host: string;
  readonly pid: number;
  /** Its network namespace (`ip netns exec <netns> …`). */
  readonly netns: string;
  /** Runs Debian's docker client (20.10) against this node and returns stdout. */
  docker(args: string[], input?: Buffer | string): string;
  /** Runs a program inside the node's network namespace and returns stdout. */
  exec(command: string, args: string[], input?: Buffer | string): string;
}

export interface SwarmOptions {
  readonly nodes: 1 | 3;
  /** Names the state directory, the hostnames and the containerd namespaces. */
  readonly label: string;
}

/**
 * Swarm's routing mesh (ingress-published ports) and service VIPs are IPVS in the kernel. Without
 * it (a kernel built without CONFIG_IP_VS, as the 6.18 Firecracker kernels of these machines are)
 * a swarm still schedules tasks, overlays and DNS still work (`tasks.<service>`, endpoint mode
 * dnsrr, host-mode ports), but a VIP answers "No route to host" and an ingress port nothing.
 * Tests of those two fail here with this message instead of timing out.
 */
export function requireIpvs(): void {
  if (!fs.existsSync('/proc/net/ip_vs')) {
    throw new Error(
      `test prerequisite missing: IPVS in the kernel (CONFIG_IP_VS; /proc/net/ip_vs is absent on ${os.release()}): ` +
        "Swarm's routing mesh and service VIPs need it — run on a kernel with ip_vs (modprobe ip_vs)",
    );
  }
}

const SLOTS = 16;
const SLOT_DIR = path.join(os.tmpdir(), 'cdkcl-slots');

/**
 * The host's iptables rules that a swarm of ours could have left (ours never should): those naming
 * our interfaces or the swarms' octets — 10.165 (the bridges), 10.168 and 10.169 (the pools). Not
 * 10.166/10.167, which a built-in root of test/drivers/swarm-cluster.test.ts uses on the host
 * while other files' swarms run; not Docker's chain names, which other tests' dockerds on the
 * host may add at the same time.
 */
export function hostIptablesOfOurs(): string[] {
  const save = (cmd: string) => {
    const r = spawnSync(cmd, [], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.split('\n') : [];
  };
  const ours = /cdkcl|\b10\.16[589]\./;
  return [...save('iptables-save'), ...save('ip6tables-save')].filter((l) => !l.startsWith('#') && ours.test(l)).map((l) => l.replace(/\[\d+:\d+\]/g, ''));
}

function netnsInode(name: string): number | undefined {
  try {
    return fs.statSync(`/run/netns/${name}`).ino;
  } catch {
    return undefined;
  }
}

/** Pids (not zombies) whose network namespace is one of `names`. */
function pidsIn(names: string[]): number[] {
  const inodes = new Set(names.map(netnsInode).filter((i): i is number => i !== undefined).map((i) => `net:[${i}]`));
  if (inodes.size === 0) return [];
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (!inodes.has(fs.readlinkSync(`/proc/${p}/ns/net`))) continue;
      const state = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state !== 'Z') out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

const slotNetns = (slot: number, nodes = 3) => [`cdkcl-${slot}-hub`, ...Array.from({ length: nodes }, (_, i) => `cdkcl-${slot}-${i}`)];

/** Removes everything a slot's owner made: processes in its namespaces, namespaces, the host veth. */
function cleanSlot(slot: number): number[] {
  const names = slotNetns(slot);
  const killed = pidsIn(names);
  for (const pid of killed) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const n of names) spawnSync('ip', ['netns', 'del', n]);
  spawnSync('ip', ['link', 'del', `cdkcl${slot}`]);
  return killed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Claims a free slot (a directory made atomically, holding our pid); reclaims one whose owner died. */
function claimSlot(): number {
  fs.mkdirSync(SLOT_DIR, { recursive: true });
  for (let slot = 0; slot < SLOTS; slot++) {
    const dir = path.join(SLOT_DIR, String(slot));
    try {
      fs.mkdirSync(dir);
    } catch (e) {
      // The last other swarm released its slot and removed the directory just now: make it again.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        fs.mkdirSync(SLOT_DIR, { recursive: true });
        slot--;
        continue;
      }
      let owner = NaN;
      try {
        owner = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'));
      } catch {
        // being claimed right now, or its owner died before writing: leave it
        continue;
      }
      if (alive(owner)) continue;
      // A dead owner: take the slot over by renaming its directory away (only one claimant wins).
      const stale = `${dir}.stale-${process.pid}`;
      try {
        fs.renameSync(dir, stale);
      } catch {
        continue;
      }
      fs.rmSync(stale, { recursive: true, force: true });
      cleanSlot(slot);
      try {
        fs.mkdirSync(dir);
      } catch {
        continue;
      }
    }
    fs.writeFileSync(path.join(dir, 'pid'), String(process.pid));
    return slot;
  }
  throw new Error(`no free swarm slot under ${SLOT_DIR} (${SLOTS} in use)`);
}

function releaseSlot(slot: number): void {
  fs.rmSync(path.join(SLOT_DIR, String(slot)), { recursive: true, force: true });
  // The last swarm out leaves no directory behind (another file's may still hold a slot in it).
  try {
    fs.rmdirSync(SLOT_DIR);
  } catch {
    // not empty, or gone
  }
}

const ip = (args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });

export async function startSwarm(options: SwarmOptions): Promise<TestSwarm> {
  const dockerd = requireCommand('dockerd', 'docker.io');
  const docker = fs.existsSync(DOCKER_2010) ? DOCKER_2010 : requireCommand('docker', 'docker.io');
  requireCommand('containerd', 'containerd');
  requireCommand('ip', 'iproute2');
  requireCommand('unshare', 'util-linux');
  requireCommand('nsenter', 'util-linux');
  requireCommand('iptables-save', 'iptables');
  if (!fs.existsSync('/proc/self/ns/net')) throw new Error('test prerequisite missing: network namespaces (a kernel with CONFIG_NET_NS)');
  const count = options.nodes;
  const label = options.label;
  const iptablesBefore = hostIptablesOfOurs();
  const slot = claimSlot();
  const base = 16 * slot;
  const hub = `cdkcl-${slot}-hub`;
  const hostIf = `cdkcl${slot}`;
  const hostAddress = `10.165.0.${base + 1}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cdk-docker-${label}-swarm-`));
  const names = slotNetns(slot, count);
  const children: ChildProcess[] = [];
  /** Each dockerd's log file (its stderr). */
  const logs: ReturnType<typeof daemonLog>[] = [];
  const logTail = (i: number): string => logs[i]?.tail() ?? '(no log)';
  const nodes: SwarmNode[] = [];
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const problems: string[] = [];
    // Workers leave first, then the manager (a manager leaving a swarm with workers needs --force).
    for (const n of [...nodes].reverse()) {
      spawnSync(docker, ['swarm', 'leave', '--force'], { env: { ...process.env, DOCKER_HOST: n.host }, stdio: 'ignore', timeout: 20_000 });
    }
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(child.pid!, 'SIGTERM');
        const timer = setTimeout(() => {
          problems.push(`dockerd ${child.pid} did not stop within 30 s of SIGTERM; killed`);
          try {
            process.kill(child.pid!, 'SIGKILL');
          } catch {
            // gone
          }
        }, 30_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    // containerd and the shims follow dockerd out; anything still in our namespaces afterwards is a leak.
    const deadline = Date.now() + 15_000;
    while (pidsIn(names).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const left = pidsIn(names);
    if (left.length > 0) {
      problems.push(`processes left in ${names.join(', ')}: ${left.map((p) => `${p} ${cmdline(p)}`).join('; ')}`);
      for (const p of left) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    // The dockerds ran in mount namespaces of their own (ip netns exec); whatever reached ours is unmounted.
    const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(dir));
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    for (const n of names) spawnSync('ip', ['netns', 'del', n]);
    spawnSync('ip', ['link', 'del', hostIf]);
    fs.rmSync(dir, { recursive: true, force: true });
    releaseSlot(slot);
    const after = hostIptablesOfOurs();
    const added = after.filter((l) => !iptablesBefore.includes(l));
    const removed = iptablesBefore.filter((l) => !after.includes(l));
    if (added.length > 0 || removed.length > 0) problems.push(`the host's iptables changed: ${[...added.map((l) => `+ ${l}`), ...removed.map((l) => `- ${l}`)].join('\n')}`);
    for (const n of names) if (fs.existsSync(`/run/netns/${n}`)) problems.push(`network namespace ${n} is still there`);
    if (spawnSync('ip', ['link', 'show', hostIf], { stdio: 'ignore' }).status === 0) problems.push(`link ${hostIf} is still there`);
    if (problems.length > 0) throw new Error(`swarm ${label} did not stop cleanly:\n${problems.join('\n')}`);
  };

  try {
    // A crash of an earlier owner of this slot may have left namespaces behind.
    cleanSlot(slot);
    ip(['netns', 'add', hub]);
    ip(['-n', hub, 'link', 'set', 'lo', 'up']);
    ip(['-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', hub, 'link', 'set', 'br0', 'up']);
    ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'host', 'netns', hub]);
    ip(['-n', hub, 'link', 'set', 'host', 'master', 'br0', 'up']);
    ip(['addr', 'add', `${hostAddress}/28`, 'dev', hostIf]);
    ip(['link', 'set', hostIf, 'up']);

    for (let i = 0; i < count; i++) {
      const netns = `cdkcl-${slot}-${i}`;
      const address = `10.165.0.${base + 2 + i}`;
      ip(['netns', 'add', netns]);
      ip(['-n', netns, 'link', 'set', 'lo', 'up']);
      ip(['-n', hub, 'link', 'add', `n${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      ip(['-n', hub, 'link', 'set', `n${i}`, 'master', 'br0', 'up']);
      ip(['-n', netns, 'addr', 'add', `${address}/28`, 'dev', 'eth0']);
      ip(['-n', netns, 'link', 'set', 'eth0', 'up']);

      const nodeDir = path.join(dir, String(i));
      fs.mkdirSync(nodeDir);
      const sock = path.join(nodeDir, 'docker.sock');
      const host = `unix://${sock}`;
      const name = `${label}-${i}`;
      logs.push(daemonLog(path.join(nodeDir, 'dockerd.log')));
      const child = spawn(
        'nsenter',
        [
          `--net=/run/netns/${netns}`, '--',
          // Its own hostname, and a mount namespace whose mounts (layers, netns files) die with it.
          // (Not `ip netns exec`: its fresh /sys has no cgroup mounts, and dockerd needs them.)
          'unshare', '--uts', '--mount', '--propagation', 'slave', '--',
          '/bin/sh', '-c', 'hostname "$0" && exec "$@"', name,
          dockerd,
          '--data-root', path.join(nodeDir, 'data'),
          '--exec-root', path.join(nodeDir, 'exec'),
          '--pidfile', path.join(nodeDir, 'docker.pid'),
          '-H', host,
          '--default-address-pool', `base=10.169.${base}.0/20,size=24`,
          '--containerd-namespace', `cdk-docker-${label}-${i}`,
          '--containerd-plugins-namespace', `cdk-docker-${label}-${i}-plugins`,
          '--swarm-default-advertise-addr', address,
        ],
        // Its log goes to a file, not a pipe (daemonLog): blocked in a log write, dockerd holds
        // libnetwork's locks — tasks hang in 'starting' (seen in bench/swarm).
        { stdio: ['ignore', 'ignore', logs[i].fd] },
      );
      fs.closeSync(logs[i].fd);
      children.push(child);
      const run = (args: string[], input?: Buffer | string) =>
        execFileSync(docker, args, { env: { ...process.env, DOCKER_HOST: host }, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 180_000 });
      const exec = (command: string, args: string[], input?: Buffer | string) =>
        execFileSync('ip', ['netns', 'exec', netns, command, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
      nodes.push({ index: i, name, id: '', address, host, pid: child.pid!, netns, docker: run, exec });
    }

    const deadline = Date.now() + 60_000;
    for (const [i, n] of nodes.entries()) {
      for (;;) {
        if (children[i].exitCode !== null) throw new Error(`dockerd of ${n.name} exited (${children[i].exitCode}): ${logTail(i)}`);
        try {
          n.docker(['version', '--format', '{{.Server.Version}}']);
          break;
        } catch {
          if (Date.now() > deadline) throw new Error(`dockerd of ${n.name} did not start within 60 s: ${logTail(i)}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }

    const manager = nodes[0];
    manager.docker([
      'swarm', 'init',
      '--advertise-addr', manager.address,
      '--listen-addr', `${manager.address}:2377`,
      '--default-addr-pool', `10.168.${base}.0/20`,
      '--default-addr-pool-mask-length', '24',
    ]);
    const token = manager.docker(['swarm', 'join-token', '-q', 'worker']).trim();
    for (const n of nodes.slice(1)) {
      n.docker(['swarm', 'join', '--token', token, '--advertise-addr', n.address, '--listen-addr', `${n.address}:2377`, `${manager.address}:2377`]);
    }
    for (const [i, n] of nodes.entries()) {
      (n as { id: string }).id = n.docker(['info', '--format', '{{.Swarm.NodeID}}']).trim();
      if (!n.id) throw new Error(`node ${n.name} has no swarm node id: ${logTail(i)}`);
    }
    const readyBy = Date.now() + 60_000;
    for (;;) {
      const ready = manager.docker(['node', 'ls', '--format', '{{.ID}} {{.Status}} {{.Availability}}']).split('\n').filter((l) => / Ready Active$/.test(l)).length;
      if (ready === count) break;
      if (Date.now() > readyBy) throw new Error(`only ${ready} of ${count} swarm nodes became ready within 60 s:\n${manager.docker(['node', 'ls'])}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    try {
      await stop();
    } catch (cleanup) {
      throw new Error(`${(e as Error).message}\n(and then: ${(cleanup as Error).message})`);
    }
    throw e;
  }

  return {
    nodes,
    manager: nodes[0],
    host: nodes[0].host,
    hostAddress,
    loadImage: (archive) => {
      for (const n of nodes) n.docker(['load', '-q', '-i', archive]);
    },
    labelNode: (index, labels) => {
      const args = Object.entries(labels).flatMap(([k, v]) => ['--label-add', `${k}=${v}`]);
      nodes[0].docker(['node', 'update', ...args, nodes[index].id]);
    },
    nodeIndex: (id) => {
      const i = nodes.findIndex((n) => n.id === id);
      if (i < 0) throw new Error(`no node of this swarm has id ${id}`);
      return i;
    },
    stop,
  };
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '?';
  }
}
