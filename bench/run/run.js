#!/usr/bin/env node
// bench/run: starting containers with the built-in runtime (`cdk-docker runtime run`) and with
// Docker (a private dockerd), same image, same run. Reports medians and ratios of
//   - a foreground `run --rm IMAGE true` (RUNS times, alternating),
//   - 20 `run -d IMAGE sleep` in a row,
// and the resident memory each running container costs (cdk-docker: its conmon; Docker: its
// containerd-shim). Target (issue 4): at least 4× faster than Docker. These run without a
// network (`--network none`) on both sides.
//
// The networked case (issue 5, target 2×): `run -d -p PORT:80` of an httpd on a bridge network
// until the host gets an answer on 127.0.0.1:PORT, RUNS times. Docker's side runs on a user
// bridge network of the private dockerd, which is started without iptables (ports go through
// docker-proxy), so it spares Docker its iptables work: the comparison is in Docker's favour.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { startDockerd, median, timeMs, freePort } = require('../lib/services');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'cdk-docker');
const RUNS = Number(process.env.RUNS || 10);
const DETACHED = Number(process.env.DETACHED || 20);
const TARGET = 4;

/** A busybox root filesystem tarball from the static busybox of busybox-static. */
function busyboxTar(dir) {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p));
  if (!busybox) throw new Error('busybox is not installed: apt-get install busybox-static');
  const root = path.join(dir, 'rootfs');
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  for (const d of ['etc', 'tmp', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync(busybox, path.join(root, 'bin', 'busybox'));
  for (const a of ['sh', 'true', 'sleep', 'httpd']) fs.symlinkSync('busybox', path.join(root, 'bin', a));
  fs.mkdirSync(path.join(root, 'www'));
  fs.writeFileSync(path.join(root, 'www', 'index.html'), 'bench\n');
  const tar = path.join(dir, 'rootfs.tar');
  execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
  return tar;
}

/** Resident set size (bytes) of a process, from /proc. */
function rss(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Pids whose command line contains `needle`, with their argv[0]. */
function processesWith(needle) {
  const found = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.includes(needle)) found.push({ pid: Number(p), argv0: cmd.split('\0')[0] });
  }
  return found;
}

const mib = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

/** Resolves once GET http://127.0.0.1:port/ answers. */
async function reachable(port) {
  for (;;) {
    const ok = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/index.html', timeout: 1000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function timeAsync(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}
const ms = (x) => `${x.toFixed(0)} ms`;

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-bench-run-'));
  const dockerd = await startDockerd();
  const env = { ...process.env, CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') };
  const cdk = (args) => execFileSync(CLI, ['runtime', ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const image = 'bench/busybox:run';
  // A default network of its own, apart from any other cdk-docker state root on this machine.
  fs.mkdirSync(env.CDK_DOCKER_ROOT, { recursive: true });
  fs.writeFileSync(path.join(env.CDK_DOCKER_ROOT, 'config.json'), JSON.stringify({ bip: '10.199.0.1/24' }));
  const cdkIds = [];
  const dockerIds = [];
  try {
    const tar = busyboxTar(work);
    cdk(['import', '-c', 'CMD ["sh"]', tar, image]);
    dockerd.docker(['import', '-c', 'CMD ["sh"]', tar, image]);

    // Warm caches on both sides.
    cdk(['run', '--rm', '--network', 'none', image, 'true']);
    dockerd.docker(['run', '--rm', '--network', 'none', image, 'true']);

    const fg = { cdk: [], docker: [] };
    for (let i = 0; i < RUNS; i++) {
      fg.cdk.push(timeMs(() => cdk(['run', '--rm', '--network', 'none', image, 'true'])));
      fg.docker.push(timeMs(() => dockerd.docker(['run', '--rm', '--network', 'none', image, 'true'])));
    }

    const bg = { cdk: 0, docker: 0 };
    bg.cdk = timeMs(() => {
      for (let i = 0; i < DETACHED; i++) cdkIds.push(cdk(['run', '-d', '--network', 'none', image, 'sleep', '100000']).trim());
    });
    bg.docker = timeMs(() => {
      for (let i = 0; i < DETACHED; i++) dockerIds.push(dockerd.docker(['run', '-d', '--network', 'none', image, 'sleep', '100000']).trim());
    });

    // Networked: run -d -p PORT:80 httpd until the host gets an answer.
    dockerd.docker(['network', 'create', 'benchnet']);
    const netRuns = { cdk: [], docker: [] };
    const httpd = ['httpd', '-f', '-p', '80', '-h', '/www'];
    for (let i = 0; i < RUNS; i++) {
      let port = await freePort();
      netRuns.cdk.push(await timeAsync(async () => {
        cdkIds.push(cdk(['run', '-d', '-p', `${port}:80`, image, ...httpd]).trim());
        await reachable(port);
      }));
      cdk(['rm', '-f', cdkIds.pop()]);
      port = await freePort();
      netRuns.docker.push(await timeAsync(async () => {
        dockerIds.push(dockerd.docker(['run', '-d', '--network', 'benchnet', '-p', `${port}:80`, image, ...httpd]).trim());
        await reachable(port);
      }));
      dockerd.docker(['rm', '-f', dockerIds.pop()]);
    }

    // What each running container keeps resident on the host.
    const cdkMonitors = cdkIds.flatMap((id) => processesWith(id).filter((p) => p.argv0.endsWith('conmon')));
    const dockerShims = dockerIds.flatMap((id) => processesWith(id).filter((p) => p.argv0.includes('containerd-shim')));
    const perCdk = cdkMonitors.reduce((a, p) => a + rss(p.pid), 0) / DETACHED;
    const perDocker = dockerShims.reduce((a, p) => a + rss(p.pid), 0) / DETACHED;
    const nodeLeft = cdkIds.flatMap((id) => processesWith(id).filter((p) => p.argv0.endsWith('node')));

    const fgCdk = median(fg.cdk);
    const fgDocker = median(fg.docker);
    const lines = [
      `bench/run — ${os.cpus().length} CPUs, Docker ${dockerd.version}, runc ${execFileSync('runc', ['--version'], { encoding: 'utf8' }).split('\n')[0].split(' ').pop()}`,
      '',
      `run --rm IMAGE true (median of ${RUNS})`,
      `  cdk-docker runtime run   ${ms(fgCdk)}   (min ${ms(Math.min(...fg.cdk))}, max ${ms(Math.max(...fg.cdk))})`,
      `  docker run               ${ms(fgDocker)}   (min ${ms(Math.min(...fg.docker))}, max ${ms(Math.max(...fg.docker))})`,
      `  ratio                    ${(fgDocker / fgCdk).toFixed(2)}× faster   (target ≥ ${TARGET}×: ${fgDocker / fgCdk >= TARGET ? 'met' : 'MISSED'})`,
      '',
      `${DETACHED} × run -d IMAGE sleep, in a row`,
      `  cdk-docker runtime run   ${ms(bg.cdk)}   (${ms(bg.cdk / DETACHED)} each)`,
      `  docker run               ${ms(bg.docker)}   (${ms(bg.docker / DETACHED)} each)`,
      `  ratio                    ${(bg.docker / bg.cdk).toFixed(2)}× faster   (target ≥ ${TARGET}×: ${bg.docker / bg.cdk >= TARGET ? 'met' : 'MISSED'})`,
      '',
      `run -d -p PORT:80 httpd until it answers on the host (median of ${RUNS})`,
      `  cdk-docker (default network)   ${ms(median(netRuns.cdk))}   (min ${ms(Math.min(...netRuns.cdk))}, max ${ms(Math.max(...netRuns.cdk))})`,
      `  docker (user bridge network)   ${ms(median(netRuns.docker))}   (min ${ms(Math.min(...netRuns.docker))}, max ${ms(Math.max(...netRuns.docker))})`,
      `  ratio                          ${(median(netRuns.docker) / median(netRuns.cdk)).toFixed(2)}× faster   (target ≥ 2×: ${median(netRuns.docker) / median(netRuns.cdk) >= 2 ? 'met' : 'MISSED'})`,
      '',
      `resident memory per running container (${DETACHED} running)`,
      `  cdk-docker (conmon)      ${mib(perCdk)}   (${cdkMonitors.length} monitors; Node processes left running: ${nodeLeft.length})`,
      `  docker (containerd-shim) ${mib(perDocker)}   (${dockerShims.length} shims; plus dockerd and containerd themselves)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (nodeLeft.length) process.exitCode = 1;
  } finally {
    if (cdkIds.length) {
      try {
        cdk(['rm', '-f', ...cdkIds]);
      } catch (e) {
        process.stderr.write(`cleanup: ${e.message}\n`);
      }
    }
    if (dockerIds.length) dockerd.docker(['rm', '-f', ...dockerIds]);
    // dockerd leaves a user network's bridge behind when it stops: remove the network first.
    try {
      dockerd.docker(['network', 'rm', 'benchnet']);
    } catch {
      // not created
    }
    await dockerd.stop();
    // Let the monitors' exit commands finish before the state goes.
    const deadline = Date.now() + 15_000;
    while (processesWith(work).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const m of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(work)).reverse()) {
      execFileSync('umount', ['-l', m]);
    }
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e.stack || e}\n`);
    process.exit(1);
  });
}
