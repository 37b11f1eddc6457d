#!/usr/bin/env node
// bench/synth: synth time and peak memory for stacks of 100 / 1,000 / 5,000 containers.
// Each run is a fresh `node` process (as `cdk-docker synth` runs an app); medians of RUNS runs.
// Target (issue 2): 1,000 containers in under 1 s and under 200 MB.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const SIZES = (process.env.SIZES || '100,1000,5000').split(',').map(Number);
const RUNS = Number(process.env.RUNS || 5);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const rows = [];
for (const n of SIZES) {
  const samples = [];
  for (let r = 0; r < RUNS; r++) {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-bench-'));
    const start = process.hrtime.bigint();
    const out = execFileSync(process.execPath, [path.join(__dirname, 'app.js'), String(n), outdir], { encoding: 'utf8' });
    const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
    samples.push({ ...JSON.parse(out), wallMs, planBytes: fs.statSync(path.join(outdir, `bench${n}.plan.json`)).size });
    fs.rmSync(outdir, { recursive: true, force: true });
  }
  const m = (k) => median(samples.map((s) => s[k]));
  rows.push({ n, construct: m('constructMs'), synth: m('synthMs'), wall: m('wallMs'), rss: m('peakRssBytes') / 2 ** 20, plan: m('planBytes') / 2 ** 20 });
}

const fmt = (x, d = 0) => x.toFixed(d).padStart(9);
console.log(`bench/synth — medians of ${RUNS} runs, node ${process.version}, ${os.cpus().length} cores`);
console.log('containers  construct ms   synth ms  process ms  peak RSS MB  plan MB');
for (const r of rows) {
  console.log(`${String(r.n).padStart(10)}  ${fmt(r.construct)}  ${fmt(r.synth)}  ${fmt(r.wall)}  ${fmt(r.rss, 1)}    ${fmt(r.plan, 2)}`);
}
const k = rows.find((r) => r.n === 1000);
if (k) {
  const okTime = k.wall < 1000;
  const okMem = k.rss < 200;
  console.log(`target 1,000 containers: process ${k.wall.toFixed(0)} ms (< 1000: ${okTime ? 'met' : 'MISSED'}), peak ${k.rss.toFixed(1)} MB (< 200: ${okMem ? 'met' : 'MISSED'})`);
  if (process.env.BENCH_STRICT && !(okTime && okMem)) process.exitCode = 1;
}
