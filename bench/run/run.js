#!/usr/bin/env node
// bench/run: starting containers with the built-in runtime (`cdk-docker runtime run`) and with
// Docker (a private dockerd), same image, same run. Reports medians and ratios of
//   - a foreground `run --rm IMAGE true` (RUNS times, alternating),
//   - 20 `run -d IMAGE sleep` in a row,
// and the resident memory each running container costs (cdk-docker: its conmon; Docker: its
// containerd-shim). Target (issue 4): at least 4× faster than Docker.
//
// Both sides run without a network (`--network none`; the built-in runtime's default until
// bridge networking lands), which spares Docker its veth set-up: the comparison is in Docker's
// favour.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startDockerd, median, timeMs } = require('../lib/services');

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
  for (const a of ['sh', 'true', 'sleep']) fs.symlinkSync('busybox', path.join(root, 'bin', a));
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
const ms = (x) => `${x.toFixed(0)} ms`;

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-bench-run-'));
  const dockerd = await startDockerd();
  const env = { ...process.env, CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') };
  const cdk = (args) => execFileSync(process.execPath, [CLI, 'runtime', ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const image = 'bench/busybox:run';
  const cdkIds = [];
  const dockerIds = [];
  try {
    const tar = busyboxTar(work);
    cdk(['import', '-c', 'CMD ["sh"]', tar, image]);
    dockerd.docker(['import', '-c', 'CMD ["sh"]', tar, image]);

    // Warm caches on both sides.
    cdk(['run', '--rm', image, 'true']);
    dockerd.docker(['run', '--rm', '--network', 'none', image, 'true']);

    const fg = { cdk: [], docker: [] };
    for (let i = 0; i < RUNS; i++) {
      fg.cdk.push(timeMs(() => cdk(['run', '--rm', image, 'true'])));
      fg.docker.push(timeMs(() => dockerd.docker(['run', '--rm', '--network', 'none', image, 'true'])));
    }

    const bg = { cdk: 0, docker: 0 };
    bg.cdk = timeMs(() => {
      for (let i = 0; i < DETACHED; i++) cdkIds.push(cdk(['run', '-d', image, 'sleep', '100000']).trim());
    });
    bg.docker = timeMs(() => {
      for (let i = 0; i < DETACHED; i++) dockerIds.push(dockerd.docker(['run', '-d', '--network', 'none', image, 'sleep', '100000']).trim());
    });

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
