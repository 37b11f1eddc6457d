import { Command } from 'commander';
import { isIP } from 'node:net';
import * as path from 'node:path';
import type { Containers } from '../../../runtime';
import { Duration } from '../../constructs/duration';
import { PortError, parsePort } from '../../constructs/private/ports';
import { _parseSizeText } from '../../constructs/size';
import { parseGoDuration } from '../../core/duration';
import { CdkDockerError, InvalidArgumentError, NotFoundError } from '../../core/errors';
import { MAX_COUNT, MAX_PIDS, MAX_STOP_TIMEOUT_SECONDS, MAX_TIMER_MS, MIN_HEALTH_MS, MIN_MEMORY_BYTES, cpuRangeMessage, hostCpuCount, tmpfsOptionProblem } from '../../core/limits';
import { familiarReference, parseReference } from '../../core/reference';
import { parsePlatform, Platform, requireHostPlatform } from '../../core/platform';
import { flagAliases, flagsEndAtFirstArgument } from './flags';
import { ago, eachName, goTimeString, printInspect, renderFormatted, renderTemplate, shortId, table, tabwrite } from './format';
import { attachToContainer, parseSigProxy } from './attach';
import { collect } from '../options';
import { containerService as service, imageService, loadRuntime } from './services';

function out(s: string): void {
  process.stdout.write(s);
}

interface RunFlags {
  detachKeys?: string;
  sigProxy?: string | boolean;
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  name?: string;
  env?: string[];
  envFile?: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  label?: string[];
  restart?: string;
  init?: boolean;
  readOnly?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  securityOpt?: string[];
  memory?: string;
  cpus?: string;
  pidsLimit?: string;
  stopSignal?: string;
  stopTimeout?: string;
  volume?: string[];
  mount?: string[];
  tmpfs?: string[];
  volumesFrom?: string[];
  healthCmd?: string;
  healthInterval?: string;
  healthRetries?: string;
  healthTimeout?: string;
  healthStartPeriod?: string;
  healthcheck: boolean;
  network?: string;
  link?: string[];
  networkAlias?: string[];
  ip?: string;
  publish?: string[];
  publishAll?: boolean;
  addHost?: string[];
  shmSize?: string;
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  sysctl?: string[];
  ulimit?: string[];
  device?: string[];
  pid?: string;
  ipc?: string;
  expose?: string[];
  logOpt?: string[];
  logDriver?: string;
  pull: string;
  quiet?: boolean;
  platform?: string;
}

/** The flags `run` and `create` share, as Docker spells them. */
function withCreateFlags(cmd: Command): Command {
  flagsEndAtFirstArgument(cmd);
  flagAliases(cmd, { net: 'network' });
  return cmd
    .argument('<image>', 'the image')
    .argument('[command...]', 'command and arguments (replace the image\'s Cmd)')
    .option('--name <name>', 'name the container')
    .option('-e, --env <K=V>', 'set an environment variable (repeatable)', collect)
    .option('--env-file <file>', 'read environment variables from a file (repeatable)', collect)
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'user name or uid, optionally with a group')
    .option('--entrypoint <cmd>', 'replace the image\'s entrypoint ("" clears it)')
    .option('-h, --hostname <name>', 'container host name')
    .option('-l, --label <K=V>', 'set a label (repeatable)', collect)
    .option('--restart <policy>', 'no, always, unless-stopped, on-failure[:max-retries]')
    .option('--init', 'run an init (catatonit or tini) as PID 1')
    .option('--read-only', 'mount the root filesystem read-only')
    .option('--cap-add <cap>', 'add a Linux capability (repeatable)', collect)
    .option('--cap-drop <cap>', 'drop a Linux capability (repeatable)', collect)
    .option('--privileged', 'give all capabilities and devices, no seccomp or masked paths')
    .option('--security-opt <opt>', 'no-new-privileges, seccomp=unconfined (repeatable)', collect)
    .option('-m, --memory <size>', 'memory limit, e.g. 512m')
    .option('--cpus <n>', 'number of CPUs, e.g. 1.5')
    .option('--pids-limit <n>', 'maximum number of processes')
    .option('--stop-signal <signal>', 'signal to stop the container')
    .option('--stop-timeout <seconds>', 'seconds to wait before killing on stop')
    .option('-v, --volume <spec>', 'bind or volume mount: [SOURCE:]TARGET[:OPTIONS] (repeatable)', collect)
    .option('--mount <spec>', 'type=volume|bind|tmpfs,source=…,target=…[,readonly] (repeatable)', collect)
    .option('--tmpfs <path[:opts]>', 'mount a tmpfs (repeatable)', collect)
    .option('--volumes-from <container[:ro|rw]>', 'mount the volumes of another container (repeatable)', collect)
    .option('--health-cmd <cmd>', 'command to check health (run with /bin/sh -c)')
    .option('--health-interval <duration>', 'time between checks (default 30s)')
    .option('--health-retries <n>', 'failures in a row before unhealthy (default 3)')
    .option('--health-timeout <duration>', 'maximum time of one check (default 30s)')
    .option('--health-start-period <duration>', 'time to start before failures count')
    .option('--no-healthcheck', 'disable the image\'s HEALTHCHECK')
    .option('--network <network>', 'bridge (default), a network name, none, host or container:NAME')
    .option('--link <name[:alias]>', 'add a link to another container (repeatable)', collect)
    .option('--network-alias <alias>', 'a DNS name on the network (repeatable)', collect)
    .option('--ip <address>', 'IPv4 address on the network')
    .option('-p, --publish <[ip:][hostPort:]containerPort[/proto]>', 'publish a port or a range (repeatable)', collect)
    .option('-P, --publish-all', 'publish every exposed port on a free host port')
    .option('--add-host <host:ip>', 'add a line to /etc/hosts (repeatable)', collect)
    .option('--shm-size <size>', 'size of /dev/shm (default 64m)')
    .option('--dns <ip>', 'a DNS server (repeatable)', collect)
    .option('--dns-search <domain>', 'a DNS search domain (repeatable)', collect)
    .option('--dns-option <option>', 'a resolv.conf option, e.g. ndots:2 (repeatable)', collect)
    .option('--sysctl <K=V>', 'a namespaced kernel parameter, e.g. net.core.somaxconn=1024 (repeatable)', collect)
    .option('--ulimit <name=soft[:hard]>', 'a resource limit, e.g. nofile=1024:2048 (repeatable)', collect)
    .option('--device <host[:container[:rwm]]>', 'give the container a host device (repeatable)', collect)
    .option('--pid <mode>', 'host: share the host\'s PID namespace')
    .option('--ipc <mode>', 'private (default), shareable or host')
    .option('--expose <port[/proto]>', 'expose a port or a range without publishing it (repeatable)', collect)
    .option('--log-driver <driver>', 'k8s-file (default), json-file (Docker\'s <id>-json.log) or none')
    .option('--log-opt <K=V>', 'log option: max-size=SIZE (repeatable)', collect)
    .option('--pull <policy>', 'pull the image before creating: always, missing or never', 'missing')
    .option('--platform <platform>', 'the image\'s platform, os/arch[/variant]: this host\'s (there is no emulation)')
    .option('-q, --quiet', 'suppress the pull output')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a pseudo-TTY');
}

/**
 * A healthcheck duration flag in nanoseconds (0 when unset), within what Docker takes (at least
 * 1 ms, as moby's "Interval in Healthcheck cannot be less than 1ms") and the engine's timers can
 * wait for.
 */
const nanos = (text: string | undefined, flag: string, field: string): number => {
  if (text === undefined) return 0;
  let ns: number;
  try {
    ns = parseGoDuration(text);
  } catch {
    throw new InvalidArgumentError(`invalid ${flag} "${text}": use a duration such as 30s, 1m30s or 500ms`);
  }
  if (ns !== 0 && ns < MIN_HEALTH_MS * 1e6) throw new InvalidArgumentError(`${field} in Healthcheck cannot be less than 1ms`);
  if (ns > MAX_TIMER_MS * 1e6) throw new InvalidArgumentError(`invalid ${flag} "${text}": longer than the engine can wait, ${MAX_TIMER_MS}ms (24 days); use a shorter duration such as 30s`);
  return ns;
};

/** A whole-number flag within [min, max] (the bound is named in the message, with `hint`). */
const integer = (text: string | undefined, flag: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER, hint = ''): number | undefined => {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text)) throw new InvalidArgumentError(`invalid ${flag} "${text}": not a whole number`);
  const n = Number(text);
  if (!(n >= min && n <= max)) {
    const range = min === Number.MIN_SAFE_INTEGER ? `at most ${max}` : `out of range ${min} to ${max}`;
    throw new InvalidArgumentError(`invalid ${flag} "${text}": ${range}${hint}`);
  }
  return n;
};

/** `-e K=V` / `-e K`: Docker's opts.ValidateEnv (a name is required). */
const envFlag = (values: string[] | undefined): string[] | undefined => {
  for (const v of values ?? []) {
    if (v.split('=')[0] === '') throw new InvalidArgumentError(`invalid argument "${v}" for "-e, --env" flag: invalid environment variable: ${v}`);
  }
  return values;
};

/** `-w`: Docker's check (runc would say only "Cwd must be an absolute path"). */
const workdirFlag = (dir: string | undefined): string | undefined => {
  if (dir !== undefined && dir !== '' && !path.posix.isAbsolute(dir)) throw new InvalidArgumentError(`the working directory '${dir}' is invalid, it needs to be an absolute path`);
  return dir;
};

/** The tmpfs options of `--tmpfs` and `--mount type=tmpfs`, checked as the kernel reads them. */
const checkTmpfs = (flag: string, spec: string, mount: Containers.MountRequest): Containers.MountRequest => {
  if (mount.type !== 'tmpfs') return mount;
  for (const o of mount.options) {
    const problem = tmpfsOptionProblem(o);
    if (problem) throw new InvalidArgumentError(`invalid ${flag} "${spec}": ${problem}`);
  }
  return mount;
};

/** `--restart no|always|unless-stopped|on-failure[:N]`. */
function restartFlag(text: string | undefined): Containers.CreateOptions['restart'] {
  if (!text) return undefined;
  const r = /^(no|always|unless-stopped|on-failure)(?::(-?\d+))?$/.exec(text);
  if (!r) throw new InvalidArgumentError(`invalid restart policy "${text}": use no, always, unless-stopped or on-failure[:max-retries]`);
  if (r[2] !== undefined && Number(r[2]) < 0) throw new InvalidArgumentError('invalid restart policy: maximum retry count cannot be negative');
  if (r[2] !== undefined && Number(r[2]) > MAX_COUNT) throw new InvalidArgumentError(`invalid restart policy "${text}": the maximum retry count is out of range 0 to ${MAX_COUNT}`);
  return { name: r[1] as Containers.RestartPolicyName, maxRetries: r[2] !== undefined ? Number(r[2]) : undefined };
}

/** A size flag (`--memory 512m`) in bytes, naming the flag when it is not a size. */
function sizeFlag(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const r = _parseSizeText(text);
  if ('problem' in r) throw new InvalidArgumentError(`invalid ${flag} "${text}": ${r.problem}`);
  return r.bytes;
}

/**
 * `--memory`, `--cpus` and `--pids-limit` (unset flags stay undefined), within what the cgroup
 * files take and, for CPUs, what this host has (Docker's message).
 */
function limitFlags(o: { memory?: string; cpus?: string; pidsLimit?: string }): { memory?: number; nanoCpus?: number; pidsLimit?: number } {
  const cpus = o.cpus === undefined ? undefined : Number(o.cpus);
  if (cpus !== undefined && !(cpus > 0 && Number.isFinite(cpus))) throw new InvalidArgumentError(`invalid --cpus "${o.cpus}": a positive number such as 0.5 or 2`);
  const nanoCpus = cpus !== undefined ? Math.round(cpus * 1e9) : undefined;
  if (nanoCpus !== undefined) {
    const host = hostCpuCount();
    if (nanoCpus < 1e7 || nanoCpus > host * 1e9) throw new InvalidArgumentError(cpuRangeMessage(host));
  }
  const memory = sizeFlag(o.memory, '--memory');
  if (memory !== undefined && memory > 0 && memory < MIN_MEMORY_BYTES) throw new InvalidArgumentError('Minimum memory limit allowed is 6MB');
  return {
    memory,
    nanoCpus,
    pidsLimit: integer(o.pidsLimit, '--pids-limit', Number.MIN_SAFE_INTEGER, MAX_PIDS, ' (the kernel\'s PID_MAX_LIMIT); use -1 for unlimited'),
  };
}

/** Docker's flags as CreateOptions. */
function createOptions(image: string, command: string[], o: RunFlags): Containers.CreateOptions {
  const m = loadRuntime().containers();
  const restart = restartFlag(o.restart);
  const labels: { [k: string]: string } = {};
  for (const l of o.label ?? []) {
    const i = l.indexOf('=');
    labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  const healthcheck =
    o.healthCmd !== undefined || o.healthInterval || o.healthRetries || o.healthTimeout || o.healthStartPeriod
      ? {
          Test: o.healthCmd !== undefined ? ['CMD-SHELL', o.healthCmd] : undefined,
          Interval: nanos(o.healthInterval, '--health-interval', 'Interval'),
          Timeout: nanos(o.healthTimeout, '--health-timeout', 'Timeout'),
          StartPeriod: nanos(o.healthStartPeriod, '--health-start-period', 'StartPeriod'),
          Retries: healthRetries(o.healthRetries),
        }
      : undefined;
  return {
    image,
    name: o.name,
    cmd: command.length ? command : undefined,
    entrypoint: o.entrypoint !== undefined ? (o.entrypoint === '' ? [] : [o.entrypoint]) : undefined,
    env: envFlag(o.env),
    envFiles: o.envFile,
    workingDir: workdirFlag(o.workdir),
    user: o.user,
    hostname: o.hostname,
    labels,
    restart,
    autoRemove: o.rm,
    init: o.init,
    readOnly: o.readOnly,
    capAdd: o.capAdd,
    capDrop: o.capDrop,
    privileged: o.privileged,
    securityOpt: o.securityOpt,
    ...limitFlags(o),
    stopSignal: o.stopSignal,
    stopTimeout: integer(o.stopTimeout, '--stop-timeout', 0, MAX_STOP_TIMEOUT_SECONDS, ' seconds (24 days, the longest the engine can wait)'),
    mounts: [
      ...(o.volume ?? []).map(m.parseVolumeFlag),
      ...(o.mount ?? []).map((s) => checkTmpfs('--mount', s, m.parseMountFlag(s))),
      ...(o.tmpfs ?? []).map((s) => checkTmpfs('--tmpfs', s, m.parseTmpfsFlag(s))),
    ],
    volumesFrom: o.volumesFrom,
    healthcheck: healthcheck as Containers.CreateOptions['healthcheck'],
    noHealthcheck: o.healthcheck === false,
    tty: o.tty,
    openStdin: o.interactive,
    // As Docker's client: stdin attached (`create -i`, `run -i` without -d) closes when its input ends.
    stdinOnce: !!o.interactive && !o.detach,
    networkMode: o.network,
    links: (o.link ?? []).map(linkFlag),
    networkAliases: o.networkAlias,
    ipv4Address: o.ip,
    ports: (o.publish ?? []).flatMap(publishFlag),
    publishAll: o.publishAll,
    extraHosts: (o.addHost ?? []).map(addHostFlag),
    dns: o.dns,
    dnsSearch: o.dnsSearch,
    dnsOptions: o.dnsOption,
    sysctls: sysctlFlags(o.sysctl ?? []),
    ulimits: (o.ulimit ?? []).map(ulimitFlag),
    devices: (o.device ?? []).map(deviceFlag),
    pidMode: o.pid,
    ipcMode: o.ipc,
    expose: (o.expose ?? []).flatMap(exposeFlag),
    shmSize: sizeFlag(o.shmSize, '--shm-size'),
    logMaxSize: logMaxSize(o.logOpt ?? []),
    logDriver: o.logDriver === undefined ? undefined : loadRuntime().containers().checkLogDriver(o.logDriver),
    platform: platformFlag(o.platform),
  };
}

/** `--platform os/arch[/variant]` (empty: none), with Docker's client message when it cannot be read. */
function platformFlag(text: string | undefined): Platform | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    return parsePlatform(text);
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new InvalidArgumentError(`error parsing specified platform: ${e.message}`);
    throw e;
  }
}

/** `--health-retries`: Docker's "cannot be negative", and at most Go's int32. */
function healthRetries(text: string | undefined): number {
  const n = integer(text, '--health-retries', Number.MIN_SAFE_INTEGER, MAX_COUNT) ?? 0;
  if (n < 0) throw new InvalidArgumentError('--health-retries cannot be negative');
  return n;
}

/** Writes a line of a container's output to this process's stdout or stderr, as its stream says. */
const writeLine = (l: Containers.LogLine, timestamps = false) => (l.stream === 'stdout' ? process.stdout : process.stderr).write(timestamps ? `${l.time} ${l.text}` : l.text);

/**
 * Runs in the foreground: streams the container's stdout and stderr until it exits (an --rm
 * container then goes), forwards SIGINT/SIGTERM to it, and resolves with its exit code.
 */
async function runInForeground(svc: Containers.ContainerService, id: string): Promise<number> {
  const forward = (sig: NodeJS.Signals) => {
    svc.kill(id, sig).catch(() => undefined);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    return await svc.followRun(id, (l) => writeLine(l));
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}

/** `run`: create (pulling the image as --pull says), then start detached, attached or in the foreground. */
async function runContainer(image: string, command: string[], o: RunFlags): Promise<void> {
  const options = createOptions(image, command, o);
  const attached = !o.detach && (o.interactive || o.tty);
  // Checked before anything is made.
  const sigProxy = parseSigProxy(o.sigProxy);
  if (o.detachKeys) loadRuntime().containers().parseDetachKeys(o.detachKeys);
  await ensureImage(image, o);
  const svc = service();
  const record = await svc.create(options);
  try {
    if (attached) {
      process.exitCode = await svc.runAndCleanUp(record.Id, () => attachToContainer(record.Id, { start: true, stdin: !!o.interactive, detachKeys: o.detachKeys, sigProxy }));
      return;
    }
    await svc.runAndCleanUp(record.Id, () => svc.start(record.Id, { attachedBy: o.detach ? undefined : process.pid }));
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    if (code !== undefined) {
      process.stderr.write(`Error: failed to start container ${shortId(record.Id)}: ${(e as Error).message}\n`);
      process.exitCode = code;
      return;
    }
    throw e;
  }
  if (o.detach) {
    out(`${record.Id}\n`);
    return;
  }
  process.exitCode = await runInForeground(svc, record.Id);
}

/** Registers the container commands of `cdk-docker runtime`. */
export function registerContainerCommands(runtime: Command): void {
  withCreateFlags(runtime.command('run').description('create and start a container'))
    .option('-d, --detach', 'run in the background and print the container id')
    .option('--rm', 'remove the container when it exits')
    .option('--detach-keys <keys>', 'the key sequence that detaches from the container')
    .option('--sig-proxy [bool]', 'proxy received signals to the process (not with a TTY)')
    .action(async (image: string, command: string[], o: RunFlags) => {
      // Docker's client checks the terminal first, and exits 1 when it is not one.
      if (!o.detach && o.tty && o.interactive && !process.stdin.isTTY) throw new InvalidArgumentError('the input device is not a TTY; drop -t or run from a terminal');
      // As docker run: what fails before the container's process runs exits 125 (126/127 when
      // its command cannot be run or is not found), with one line on stderr.
      try {
        await runContainer(image, command, o);
      } catch (e) {
        if (!(e instanceof CdkDockerError)) throw e;
        process.stderr.write(`Error: ${e.message}\n`);
        process.exitCode = (e as { exitCode?: number }).exitCode ?? 125;
      }
    });

  withCreateFlags(runtime.command('create').description('create a container without starting it'))
    .option('--rm', 'remove the container when it exits')
    .action(async (image: string, command: string[], o: RunFlags) => {
      let options: Containers.CreateOptions;
      try {
        options = createOptions(image, command, o);
        pullPolicy(o.pull);
      } catch (e) {
        // A flag Docker's create refuses before asking the engine: exit 125 (the engine's own errors exit 1).
        if (!(e instanceof CdkDockerError)) throw e;
        process.stderr.write(`Error: ${e.message}\n`);
        process.exitCode = 125;
        return;
      }
      await ensureImage(image, o);
      const record = await service().create(options);
      out(`${record.Id}\n`);
    });

  runtime
    .command('start')
    .description('start stopped containers')
    .argument('<containers...>')
    .option('-a, --attach', 'attach stdout and stderr and wait for the exit')
    .option('-i, --interactive', "attach the container's stdin")
    .option('--detach-keys <keys>', 'the key sequence that detaches from the container')
    .action(async (names: string[], o: { attach?: boolean; interactive?: boolean; detachKeys?: string }) => {
      const svc = service();
      for (const n of names) {
        if (o.attach || o.interactive) {
          process.exitCode = await attachToContainer(n, { start: true, stdin: !!o.interactive, detachKeys: o.detachKeys });
          continue;
        }
        await svc.start(n);
        out(`${n}\n`);
      }
    });

  runtime
    .command('ps')
    .description('list containers')
    .option('-a, --all', 'show all containers (default: running ones)')
    .option('-q, --quiet', 'only container ids')
    .option('--no-trunc', 'do not truncate output')
    .option('-l, --latest', 'show the latest created container (in any state)')
    .option('-n, --last <n>', 'show the n last created containers (in any state)', '-1')
    .option('-s, --size', 'display total file sizes')
    .option('--format <template>', 'a Go template over .ID .Image .Command .CreatedAt .RunningFor .Ports .State .Status .Size .Names .Labels .Label "k" .Mounts .Networks, or table …')
    .option('-f, --filter <filter>', 'id=ID, name=N, label=K[=V], status=S, exited=CODE, health=H (repeatable)', collect)
    .action(async (o: PsFlags) => {
      const last = o.latest ? 1 : integer(o.last, '--last', -1, MAX_COUNT) ?? -1;
      const svc = service();
      const filters = loadRuntime().containers().parseContainerListFilters(o.filter ?? []);
      const list = async (size: boolean) => {
        const rows = await svc.list(o.all || last > 0, filters, { size });
        return last > 0 ? rows.slice(0, last) : rows;
      };
      let format = o.format ?? (o.quiet ? '{{.ID}}' : `table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}${o.size ? '\t{{.Size}}' : ''}`);
      if (o.quiet && o.format === undefined) format = '{{.ID}}';
      // As Docker's client: sizes are asked for with -s, or when the template reads .Size (json . does).
      let sizeRead = false;
      const render = (rows: Containers.ContainerSummary[]) => renderFormatted(format, rows.map((r) => psContext(r, o.trunc, () => (sizeRead = true))), PS_HEADERS);
      let text = render(await list(!!o.size));
      if (sizeRead && !o.size) text = render(await list(true));
      out(text);
    });

  runtime
    .command('inspect')
    .description('show containers or images as Docker-like JSON (a container first, as docker inspect)')
    .argument('<names...>')
    .option('-f, --format <template>', 'a Go-template subset such as {{.State.Running}} or {{json .Config}}')
    .option('--type <type>', 'only this kind of object: container or image')
    .action(async (names: string[], o: { format?: string; type?: string }) => {
      if (o.type !== undefined && o.type !== 'container' && o.type !== 'image') throw new InvalidArgumentError(`"${o.type}" is not a valid value for --type: use container or image`);
      const svc = service();
      await printInspect(names, async (n) => {
        if (o.type === 'container' || (o.type === undefined && svc.tryResolve(n) !== undefined)) return svc.inspect(n);
        try {
          return imageService().inspect(n);
        } catch (e) {
          throw e instanceof NotFoundError && o.type === undefined ? new NotFoundError(`No such object: ${n}`) : e;
        }
      }, o.format);
    });

  runtime
    .command('logs')
    .description('show a container\'s output')
    .argument('<container>')
    .option('-f, --follow', 'keep following the output')
    .option('-t, --timestamps', 'show timestamps')
    .option('-n, --tail <n>', 'number of lines from the end ("all" for all)', 'all')
    .option('--since <time>', 'only output since a time (RFC 3339) or a duration ago (10m)')
    .option('--until <time>', 'only output before a time or a duration ago')
    .action((name: string, o: LogsOptions) => containerLogs(name, o));

  const lifecycle = (name: string, description: string, fn: (svc: Containers.ContainerService, c: string, o: { time?: string; signal?: string }) => Promise<void>) =>
    runtime
      .command(name)
      .description(description)
      .argument('<containers...>')
      .action(async (names: string[], o: { time?: string; signal?: string }) => {
        const svc = service();
        await eachName(names, (n) => fn(svc, n, o));
      });
  lifecycle('stop', 'stop running containers (STOPSIGNAL, then SIGKILL after the timeout)', (svc, c, o) => svc.stop(c, integer(o.time, '--time', 0, MAX_STOP_TIMEOUT_SECONDS))).option('-t, --time <seconds>', 'seconds to wait before killing');
  lifecycle('restart', 'restart containers', (svc, c, o) => svc.restart(c, integer(o.time, '--time', 0, MAX_STOP_TIMEOUT_SECONDS))).option('-t, --time <seconds>', 'seconds to wait before killing');
  lifecycle('kill', 'send a signal to running containers', (svc, c, o) => svc.kill(c, o.signal ?? 'KILL')).option('-s, --signal <signal>', 'signal to send', 'KILL');
  lifecycle('pause', 'suspend all processes in containers', (svc, c) => svc.pause(c));
  lifecycle('unpause', 'resume paused containers', (svc, c) => svc.unpause(c));

  runtime
    .command('rm')
    .description('remove containers')
    .argument('<containers...>')
    .option('-f, --force', 'kill and remove running containers')
    .option('-v, --volumes', 'remove anonymous volumes too')
    .action(async (names: string[], o: { force?: boolean; volumes?: boolean }) => {
      const svc = service();
      await eachName(names, (n) => svc.remove(n, o));
    });

  runtime
    .command('wait')
    .description('wait for containers to stop and print their exit codes')
    .argument('<containers...>')
    .action(async (names: string[]) => {
      const svc = service();
      for (const n of names) out(`${await svc.wait(n)}\n`);
    });

  runtime
    .command('update')
    .description('change the restart policy and limits of containers (a running one at once)')
    .argument('<containers...>')
    .option('--restart <policy>', 'no, always, unless-stopped, on-failure[:max-retries]')
    .option('-m, --memory <size>', 'memory limit, e.g. 512m')
    .option('--cpus <n>', 'number of CPUs, e.g. 1.5')
    .option('--pids-limit <n>', 'maximum number of processes (0 or -1: unlimited)')
    .action(async (names: string[], o: { restart?: string; memory?: string; cpus?: string; pidsLimit?: string }) => {
      const change = { restart: restartFlag(o.restart), ...limitFlags(o) };
      if (Object.values(change).every((v) => v === undefined)) throw new InvalidArgumentError('nothing to update: give --restart, --memory, --cpus or --pids-limit');
      if (change.pidsLimit !== undefined && change.pidsLimit < 0) change.pidsLimit = 0;
      const svc = service();
      await eachName(names, (n) => svc.update(n, change));
    });

  runtime
    .command('rename')
    .description('rename a container')
    .argument('<container>')
    .argument('<new-name>')
    .action(async (c: string, n: string) => {
      await service().rename(c, n);
    });

  flagsEndAtFirstArgument(runtime.command('top'))
    .description('show the processes of a container')
    .argument('<container>')
    .argument('[ps-options...]', 'ps options (default -ef)')
    .action(async (c: string, psArgs: string[]) => {
      const { titles, processes } = await service().top(c, psArgs);
      // As the docker CLI: cells aligned by a tabwriter of minimum width 20.
      out(tabwrite([titles, ...processes], 20));
    });

  runtime
    .command('port')
    .description('list the published ports of a container (or the mapping of one port)')
    .argument('<container>')
    .argument('[port]', 'PORT[/PROTO]')
    .action(async (c: string, port: string | undefined) => {
      let rows = await service().ports(c);
      if (port) {
        const key = port.includes('/') ? port : `${port}/tcp`;
        rows = rows.filter((r) => r.container === key);
        if (!rows.length) throw new InvalidArgumentError(`No public port '${key}' published for ${c}`);
        out(rows.map((r) => `${r.host}\n`).join(''));
        return;
      }
      out(rows.map((r) => `${r.container} -> ${r.host}\n`).join(''));
    });

  runtime
    .command('stats')
    .description('show containers\' resource usage (CPU, memory, network and block I/O, PIDs)')
    .argument('[containers...]', 'containers to show (default: the running ones)')
    .option('-a, --all', 'show all containers (default: running ones)')
    .option('--no-stream', 'print one reading and exit')
    .option('--no-trunc', 'do not truncate output')
    .option('--format <template>', 'a Go-template subset: table {{.Name}}\t{{.CPUPerc}}…, {{json .}}, json')
    .action(async (names: string[], o: { all?: boolean; stream: boolean; trunc: boolean; format?: string }) => {
      for await (const readings of service().stats(names, { all: o.all, stream: o.stream })) {
        const rows = readings.map(({ id, row }) => (o.trunc ? row : { ...row, ID: id, Container: id }));
        if (o.stream && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
        out(renderStats(rows, o.format));
      }
    });

  flagsEndAtFirstArgument(runtime.command('exec'))
    .description('run a command in a running container')
    .argument('<container>')
    .argument('<command...>')
    .option('-d, --detach', 'run in the background')
    .option('-e, --env <K=V>', 'set an environment variable (repeatable)', collect)
    .option('-w, --workdir <dir>', 'working directory')
    .option('-u, --user <user[:group]>', 'user name or uid')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .action((c: string, command: string[], o: ExecOptions) => containerExec(c, command, o));

  const health = runtime.command('healthcheck').description('run container healthchecks');
  health
    .command('run')
    .description('run a container\'s healthcheck now; exit 0 when healthy')
    .argument('<container>')
    .action(async (c: string) => {
      const h = await service().runHealthcheck(c);
      out(`${h.Status}\n`);
      process.exitCode = h.Status === 'healthy' ? 0 : 1;
    });

  runtime
    .command('restore')
    .description('after a reboot: start again the containers whose restart policy says so (for a boot unit)')
    .action(async () => {
      for (const n of await service().restoreIfRebooted(true)) out(`${n}\n`);
    });

}

/** `runtime ps` flags. */
interface PsFlags {
  all?: boolean;
  quiet?: boolean;
  trunc: boolean;
  latest?: boolean;
  last: string;
  size?: boolean;
  format?: string;
  filter?: string[];
}

/** The headers of Docker's `ps` fields (`table …` formats). */
const PS_HEADERS: { [field: string]: unknown } = {
  ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Label: (key: unknown) => String(key).split('.').pop()!.replace(/[-_]/g, ' '), Mounts: 'MOUNTS', LocalVolumes: 'LOCAL VOLUMES', Networks: 'NETWORKS',
};

/** docker/cli's Ellipsis: at most `max` characters, the last one `…` when cut. */
function ellipsis(s: string, max: number): string {
  const r = [...s];
  return r.length <= max ? s : `${r.slice(0, max - 1).join('')}…`;
}

/** One container as Docker's `ps` templates see it (its fields, sorted as `{{json .}}` prints them). */
function psContext(r: Containers.ContainerSummary, trunc: boolean, sizeRead: () => void): object {
  const record = r.record;
  const labels = Object.keys(r.labels ?? {}).sort();
  const mounts = (record?.Mounts ?? []).filter((m) => m.Type !== 'tmpfs');
  const networks = record ? (['host', 'none'].includes(record.HostConfig.NetworkMode) ? [record.HostConfig.NetworkMode] : Object.keys(record.EndpointsConfig ?? {}).sort()) : [];
  return {
    Command: JSON.stringify(trunc ? ellipsis(r.command, 20) : r.command),
    CreatedAt: goTimeString(r.created),
    ID: trunc ? shortId(r.id) : r.id,
    Image: trunc && record && shortId(record.ImageId) === shortId(r.image) ? shortId(r.image) : r.image,
    Labels: labels.map((k) => `${k}=${r.labels[k]}`).join(','),
    LocalVolumes: String(mounts.filter((m) => m.Type === 'volume').length),
    Mounts: mounts.map((m) => (trunc ? ellipsis(m.Name ?? m.Source, 15) : m.Name ?? m.Source)).join(','),
    Names: r.name.replace(/^\//, ''),
    Networks: networks.join(','),
    Ports: r.ports,
    RunningFor: ago(r.created),
    get Size(): string {
      sizeRead();
      const rw = r.sizeRw ?? 0;
      const all = r.sizeRootFs ?? rw;
      const human = loadRuntime().humanSize;
      return all > 0 ? `${human(rw, 3)} (virtual ${human(all, 3)})` : human(rw, 3);
    },
    State: r.state.Status,
    Status: r.status,
    Label: (key: unknown) => r.labels?.[String(key)] ?? '',
  };
}

/** `runtime logs` flags. */
interface LogsOptions {
  readonly follow?: boolean;
  readonly timestamps?: boolean;
  /** Lines from the end, or "all". */
  readonly tail: string;
  readonly since?: string;
  readonly until?: string;
}

/** Writes a container's output to stdout/stderr as `runtime logs` does, until interrupted when it follows. */
async function containerLogs(name: string, o: LogsOptions): Promise<void> {
  const opts = { follow: o.follow, tail: o.tail === 'all' ? undefined : integer(o.tail, '--tail'), since: parseTime(o.since, '--since'), until: parseTime(o.until, '--until') };
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.once('SIGINT', interrupt);
  try {
    await service().logs(name, { ...opts, signal: stop.signal }, (l) => writeLine(l, o.timestamps));
  } finally {
    process.off('SIGINT', interrupt);
  }
}

/** `runtime exec` flags. */
interface ExecOptions {
  readonly detach?: boolean;
  readonly env?: string[];
  readonly workdir?: string;
  readonly user?: string;
  readonly interactive?: boolean;
  readonly tty?: boolean;
}

/** Runs `command` in a running container as `runtime exec` does; sets process.exitCode. */
async function containerExec(c: string, command: string[], o: ExecOptions): Promise<void> {
  const env = (envFlag(o.env) ?? []).map((e) => (e.includes('=') ? e : `${e}=${process.env[e] ?? ''}`));
  workdirFlag(o.workdir);
  const r = await service().exec(c, command, {
    env,
    workdir: o.workdir,
    user: o.user,
    tty: o.tty,
    detach: o.detach,
    stdin: o.interactive || o.tty ? 'inherit' : undefined,
    stdout: 'inherit',
    stderr: 'inherit',
  });
  if (r.error !== undefined) {
    process.stderr.write(`Error: ${r.error}\n`);
    // Docker's exec exits 126 for any command it could not start, a missing one included
    // (moby sets 126 when the exec fails to start; measured on Docker 20.10.24); `exec -d`
    // reports the daemon's error and exits 1.
    process.exitCode = o.detach ? 1 : r.exitCode;
    return;
  }
  process.exitCode = r.exitCode;
}

function logMaxSize(opts: string[]): number | undefined {
  let size: number | undefined;
  for (const o of opts) {
    const [k, v] = [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)];
    if (k !== 'max-size' || !o.includes('=')) throw new InvalidArgumentError(`unknown log option "${o}": the k8s-file log supports max-size=SIZE`);
    size = sizeFlag(v, '--log-opt max-size');
  }
  return size;
}

function parseTime(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const t = Date.parse(text);
  if (Number.isFinite(t)) return t;
  try {
    return Date.now() - Duration.parse(text).toMilliseconds();
  } catch {
    throw new InvalidArgumentError(`invalid ${flag} "${text}": use an RFC 3339 time, a Unix timestamp or a duration such as 10m`);
  }
}

const STATS_COLUMNS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Container: 'CONTAINER',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};
const STATS_DEFAULT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

/** `stats` output for a `--format` (Docker's: `table …` with headers, `json`, or a line template). */
function renderStats(rows: Containers.StatsRow[], format = STATS_DEFAULT): string {
  if (format === 'json') format = '{{json .}}';
  const m = /^table\s+(.*)$/s.exec(format);
  if (!m) return rows.map((r) => `${renderTemplate(format, r)}\n`).join('');
  const cells = m[1].replace(/\\t/g, '\t').split('\t');
  const header = cells.map((c) => c.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_x, f: string) => STATS_COLUMNS[f] ?? f.toUpperCase()));
  return table(header, rows.map((r) => cells.map((c) => renderTemplate(c, r))));
}

/** `-p` in Docker's syntax, one mapping per port. */
function publishFlag(text: string): Array<{ hostIp: string; hostPort: number; containerPort: number; protocol: string }> {
  try {
    return parsePort(text);
  } catch (e) {
    if (e instanceof PortError) throw new InvalidArgumentError(`invalid -p ${e.message}`);
    throw e;
  }
}

/** `--pull always|missing|never`, Docker's message for anything else. */
function pullPolicy(text: string): 'always' | 'missing' | 'never' {
  if (text !== 'always' && text !== 'missing' && text !== 'never') throw new InvalidArgumentError(`invalid pull option: '${text}': must be one of "always", "missing" or "never"`);
  return text;
}

/**
 * Pulls `image` for run/create as Docker's client does: with `--pull always`, first; with
 * `missing` (the default), when it is not here ("Unable to find image 'X' locally" on stderr);
 * with `never`, not at all (a missing image is "No such image"). Progress goes to stderr, so
 * that stdout carries only the container's id or output.
 */
async function ensureImage(image: string, o: { pull: string; quiet?: boolean; platform?: string }): Promise<void> {
  const policy = pullPolicy(o.pull);
  const platform = platformFlag(o.platform);
  // An image id (sha256:… or 64 hex digits) names no repository to pull from.
  if (/^(sha256:)?[a-f0-9]{64}$/.test(image)) return;
  const familiar = familiarReference(parseReference(image));
  const images = imageService();
  if (policy !== 'always' && images.store.tryResolve(image)) return;
  if (policy === 'never') throw new NotFoundError(`No such image: ${familiar}`);
  // An image of another platform would not run here: it is not pulled.
  if (platform) requireHostPlatform(platform);
  if (policy === 'missing') process.stderr.write(`Unable to find image '${familiar}' locally\n`);
  const rt = loadRuntime();
  await images.pull(image, o.quiet ? rt.images().Progress.silent() : rt.images().Progress.to(process.stderr));
}

/** `--link NAME[:ALIAS]` as Docker's opts.ParseLink reads it (`/name:/c/alias`, from inspect, too). */
function linkFlag(text: string): { name: string; alias: string } {
  const parts = text.split(':');
  if (text === '') throw new InvalidArgumentError('invalid argument "" for "--link" flag: empty string specified for links');
  if (parts.length > 2) throw new InvalidArgumentError(`invalid argument "${text}" for "--link" flag: bad format for links: ${text}`);
  const [name, alias] = parts.length === 1 ? [text, text] : parts[0].startsWith('/') ? [parts[0].slice(1), path.posix.basename(parts[1])] : [parts[0], parts[1]];
  if (!name || !alias) throw new InvalidArgumentError(`invalid argument "${text}" for "--link" flag: give NAME or NAME:ALIAS, for example db:database`);
  return { name, alias };
}

/** `--sysctl K=V` (repeatable) as a map; which keys a container may set is the runtime's check. */
function sysctlFlags(list: readonly string[]): { [key: string]: string } | undefined {
  if (list.length === 0) return undefined;
  const out: { [key: string]: string } = {};
  for (const text of list) {
    const i = text.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`invalid argument "${text}" for "--sysctl" flag: use KEY=VALUE, for example net.core.somaxconn=1024`);
    out[text.slice(0, i)] = text.slice(i + 1);
  }
  return out;
}

/** `--ulimit NAME=SOFT[:HARD]` (-1 = unlimited), as Docker's client reads it. */
function ulimitFlag(text: string): { name: string; soft: number; hard: number } {
  const m = /^([a-z]+)=(-1|\d+)(?::(-1|\d+))?$/.exec(text);
  if (!m) throw new InvalidArgumentError(`invalid argument "${text}" for "--ulimit" flag: use NAME=SOFT[:HARD], for example nofile=1024:2048`);
  const soft = Number(m[2]);
  return { name: m[1], soft, hard: m[3] !== undefined ? Number(m[3]) : soft };
}

/** `--device HOST[:CONTAINER][:PERMISSIONS]`, as Docker's client reads it. */
function deviceFlag(text: string): { hostPath: string; containerPath: string; permissions: string } {
  const parts = text.split(':');
  if (parts.length > 3 || parts[0] === '' || !parts[0].startsWith('/')) {
    throw new InvalidArgumentError(`invalid argument "${text}" for "--device" flag: use HOST[:CONTAINER][:PERMISSIONS], for example /dev/fuse or /dev/sda:/dev/xvda:rwm`);
  }
  const [hostPath] = parts;
  let containerPath = hostPath;
  let permissions = 'rwm';
  if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1])) permissions = parts[1];
    else containerPath = parts[1];
  } else if (parts.length === 3) {
    [, containerPath, permissions] = parts;
  }
  if (!containerPath.startsWith('/')) throw new InvalidArgumentError(`invalid argument "${text}" for "--device" flag: the container path ${containerPath} is not absolute`);
  if (!/^[rwm]{1,3}$/.test(permissions) || new Set(permissions).size !== permissions.length) throw new InvalidArgumentError(`invalid argument "${text}" for "--device" flag: invalid device mode: ${permissions}`);
  return { hostPath, containerPath, permissions };
}

/** `--expose PORT[/PROTO]` or a range `START-END[/PROTO]`, as `8080/tcp` entries. */
function exposeFlag(text: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(text);
  const start = m ? Number(m[1]) : NaN;
  const end = m?.[2] !== undefined ? Number(m[2]) : start;
  if (!m || !(start >= 1 && end <= 65535 && start <= end)) throw new InvalidArgumentError(`invalid argument "${text}" for "--expose" flag: use PORT[/PROTO] or START-END[/PROTO], for example 8080/udp`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  return Array.from({ length: end - start + 1 }, (_, i) => `${start + i}/${proto}`);
}

/** `--add-host NAME:IP` (also `NAME=IP`), checked as Docker checks it. */
function addHostFlag(text: string): string {
  const m = /^([^:=\s]+)[:=](.+)$/.exec(text);
  if (!m || (isIP(m[2]) === 0 && m[2] !== 'host-gateway')) throw new InvalidArgumentError(`invalid argument "${text}" for "--add-host" flag: use NAME:IP, for example db:10.0.0.5`);
  return `${m[1]}:${m[2]}`;
}
