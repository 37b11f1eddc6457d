#!/usr/bin/env node
// bench/apply: the same stack of 1 / 10 / 30 containers on one user network, as a cdk-docker
// app applied on the built-in runtime and as a docker-compose.yml brought up on a private
// dockerd, same run, same image (the offline archive examples/base/busybox.tar, `docker load`ed
// on Docker's side). For each size, RUNS times (alternating the two tools):
//   - cold `cdk-docker apply --auto-approve`   vs `docker-compose up -d`
//   - no-op `apply` (nothing changed)          vs no-op `up -d`
//   - `cdk-docker destroy --auto-approve`      vs `docker-compose down`
// and the medians, their ratios, the target (issue 6: at least 4× faster on cold apply and on
// no-op) and cdk-docker's peak memory: the max RSS of the apply process (GNU time %M; it also
// covers the synth child it waits for).
//
// Fairness: each container runs `sleep` with stop signal SIGKILL on both sides, so neither
// `destroy` nor `down` waits out a stop timeout (sleep as PID 1 ignores SIGTERM). Both sides
// create and use one user bridge network (`net`). The private dockerd runs as installed, with
// its bridge and iptables rules (DOCKER_NETWORKING=0: --bridge=none --iptables=false, where
// Docker does no iptables work while netavark does, in Docker's favour); bench/lib/services.js
// takes out what it added to iptables when it stops. cdk-docker's time includes synthesizing
// the app (a Node process running app.js) on every command; compose only parses YAML.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startDockerd, median } = require('../lib/services');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'cdk-docker');
const ARCHIVE = path.join(ROOT, 'examples', 'base', 'busybox.tar');
const RUNS = Number(process.env.RUNS || 3);
const SIZES = (process.env.SIZES || '1,10,30').split(',').map(Number);
const TARGET = 4;

function cdkApp(dir, n) {
  const lines = [
    `const cdk = require(${JSON.stringify(path.join(ROOT, 'dist', 'lib'))});`,
    'const app = new cdk.App();',
    `const stack = new cdk.Stack(app, 'bench${n}');`,
    `const img = new cdk.Image(stack, 'busybox', { archive: ${JSON.stringify(ARCHIVE)}, tag: 'busybox:examples' });`,
    "const net = new cdk.Network(stack, 'net');",
    `for (let i = 1; i <= ${n}; i++) new cdk.Container(stack, \`svc\${i}\`, { image: img, command: ['sleep', '100000'], networks: [net], stopSignal: 'SIGKILL' });`,
    'app.synth();',
  ];
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'app.js'), `${lines.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'cdk-docker.json'), JSON.stringify({ app: 'node app.js' }));
}

function composeFile(dir, n) {
  const services = [];
  for (let i = 1; i <= n; i++) services.push(`  svc${i}:\n    image: busybox:examples\n    command: [sleep, '100000']\n    stop_signal: SIGKILL\n    networks: [net]\n`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'docker-compose.yml'), `version: '2.4'\nservices:\n${services.join('')}networks:\n  net:\n    driver: bridge\n`);
}

/** Runs a command; returns its wall time (ms) and max RSS (KiB, from GNU time). */
function measure(cmd, args, opts) {
  const rssFile = path.join(opts.cwd, '.maxrss');
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...args], { ...opts, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return { ms, rssKiB: Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop()), stdout: r.stdout };
}

const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const pad = (s, n) => String(s).padEnd(n);

async function main() {
  execFileSync('bash', [path.join(ROOT, 'examples', 'base', 'make-busybox-archive.sh')], { stdio: 'inherit' });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-bench-apply-'));
  const root = path.join(work, 'root');
  fs.mkdirSync(root, { recursive: true });
  // Addresses of its own, apart from any other cdk-docker state root on this machine.
  fs.writeFileSync(path.join(root, 'config.json'), JSON.stringify({ bip: '10.196.0.1/24', 'default-address-pools': [{ base: '10.197.0.0/16', size: 24 }] }));
  const cdkEnv = { ...process.env, NO_COLOR: '1', CDK_DOCKER_ROOT: root, CDK_DOCKER_RUNROOT: path.join(work, 'run') };
  const dockerd = await startDockerd({ networking: process.env.DOCKER_NETWORKING !== '0' });
  const composeEnv = { ...process.env, DOCKER_HOST: dockerd.host, COMPOSE_INTERACTIVE_NO_CLI: '1' };
  const rows = [];
  try {
    dockerd.docker(['load', '-i', ARCHIVE]);
    const composeVersion = execFileSync('docker-compose', ['version', '--short'], { encoding: 'utf8' }).trim();
    for (const n of SIZES) {
      const cdkDir = path.join(work, `cdk-${n}`);
      const composeDir = path.join(work, `compose-${n}`);
      cdkApp(cdkDir, n);
      composeFile(composeDir, n);
      const cdk = (args) => measure(CLI, [...args], { cwd: cdkDir, env: cdkEnv });
      const compose = (args) => measure('docker-compose', ['-p', `bench${n}`, ...args], { cwd: composeDir, env: composeEnv });
      const m = { cdkCold: [], cdkNoop: [], cdkDestroy: [], composeCold: [], composeNoop: [], composeDown: [], rss: [] };
      for (let run = 0; run < RUNS; run++) {
        const cold = cdk(['apply', '--auto-approve']);
        if ((cold.stdout.match(/: created and started/g) ?? []).length !== n) throw new Error(`the cold apply did not start ${n} containers:\n${cold.stdout}`);
        const noop = cdk(['apply', '--auto-approve']);
        if (!noop.stdout.includes('No changes')) throw new Error(`the second apply was not a no-op:\n${noop.stdout}`);
        m.cdkCold.push(cold.ms);
        m.cdkNoop.push(noop.ms);
        m.rss.push(cold.rssKiB, noop.rssKiB);
        m.cdkDestroy.push(cdk(['destroy', '--auto-approve']).ms);

        m.composeCold.push(compose(['up', '-d']).ms);
        m.composeNoop.push(compose(['up', '-d']).ms);
        m.composeDown.push(compose(['down']).ms);
      }
      rows.push({ n, m });
    }
    const lines = [
      `bench/apply — ${os.cpus().length} CPUs, cdk-docker (built-in runtime) vs docker-compose ${composeVersion} on Docker ${dockerd.version} (${dockerd.networking ? 'bridge + iptables, as installed' : 'no iptables'}); median of ${RUNS} runs`,
      '',
      `${pad('containers', 11)}${pad('operation', 10)}${pad('cdk-docker', 12)}${pad('compose', 12)}${pad('ratio', 9)}target`,
    ];
    let missed = false;
    for (const { n, m } of rows) {
      for (const [op, a, b, target] of [
        ['cold', m.cdkCold, m.composeCold, true],
        ['no-op', m.cdkNoop, m.composeNoop, true],
        ['destroy', m.cdkDestroy, m.composeDown, false],
      ]) {
        const ratio = median(b) / median(a);
        if (target && ratio < TARGET) missed = true;
        lines.push(`${pad(n, 11)}${pad(op, 10)}${pad(fmt(median(a)), 12)}${pad(fmt(median(b)), 12)}${pad(`${ratio.toFixed(2)}×`, 9)}${target ? `≥ ${TARGET}×: ${ratio >= TARGET ? 'met' : 'MISSED'}` : '-'}`);
      }
      lines.push(`${pad(n, 11)}${pad('peak mem', 10)}${(Math.max(...m.rss) / 1024).toFixed(1)} MiB max RSS of cdk-docker apply`);
    }
    lines.push('', `target (≥ ${TARGET}× faster on cold apply and no-op): ${missed ? 'MISSED for some sizes' : 'met'}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const n of SIZES) {
      spawnSync(CLI, ['destroy', '--auto-approve'], { cwd: path.join(work, `cdk-${n}`), env: cdkEnv, stdio: 'ignore' });
    }
    await dockerd.stop();
    // Let the monitors' exit commands finish, then unmount what is left before the state goes.
    await new Promise((r) => setTimeout(r, 1000));
    for (const m of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((x) => x && x.startsWith(work)).reverse()) {
      try {
        execFileSync('umount', ['-l', m]);
      } catch {
        // gone
      }
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
