#!/usr/bin/env node
// bench/start: the CLI's own start — `cdk-docker --version`, `cdk-docker synth --help` and
// `cdk-docker runtime --help` — against `node -e 0` on the same Node, taking turns, RUNS times
// each. Target (issue 17): `--version` within 20 ms of `node -e 0` (medians). The cdk-docker
// side goes through bin/cdk-docker as users run it (the shell shim, then Node).
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { median } = require('../lib/services');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'cdk-docker');
const RUNS = Number(process.env.RUNS || 30);
const TARGET_MS = 20;

function time(cmd, args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const cases = [
  ['node -e 0', process.execPath, ['-e', '0']],
  ['cdk-docker --version', CLI, ['--version']],
  ['cdk-docker synth --help', CLI, ['synth', '--help']],
  ['cdk-docker runtime --help', CLI, ['runtime', '--help']],
];
const times = cases.map(() => []);
for (let i = 0; i < RUNS; i++) cases.forEach(([, cmd, args], k) => times[k].push(time(cmd, args)));
const base = median(times[0]);
const lines = [`bench/start — ${require('node:os').cpus().length} CPUs, Node ${process.version}; median (min) of ${RUNS} runs, taking turns`, ''];
cases.forEach(([name], k) => {
  const m = median(times[k]);
  lines.push(`${name.padEnd(28)}${`${m.toFixed(1)} ms`.padEnd(10)}(${Math.min(...times[k]).toFixed(1)} ms)${k ? `   +${(m - base).toFixed(1)} ms over node -e 0` : ''}`);
});
const over = median(times[1]) - base;
lines.push('', `--version within ${TARGET_MS} ms of node -e 0: ${over <= TARGET_MS ? 'met' : 'MISSED'} (+${over.toFixed(1)} ms)`);
process.stdout.write(`${lines.join('\n')}\n`);
