// One synth of a stack of N containers, run in a fresh process by run.js.
// Prints JSON: construct and synth times (ms) and peak RSS (bytes).
'use strict';
const path = require('node:path');
const { App, Stack, Container, Network, Volume, Image, Restart } = require(path.join(__dirname, '../../dist/lib'));

const n = Number(process.argv[2]);
const outdir = process.argv[3];
const t0 = process.hrtime.bigint();
const app = new App({ outdir });
const stack = new Stack(app, `bench${n}`);
const nets = Array.from({ length: 4 }, (_, i) => new Network(stack, `net${i}`));
const image = new Image(stack, 'base', { ref: '127.0.0.1:5000/bench/base:1' });
let previous;
for (let i = 0; i < n; i++) {
  const vol = new Volume(stack, `data${i}`);
  const c = new Container(stack, `svc${i}`, {
    image: i % 2 ? image : 'busybox:1.36',
    command: ['httpd', '-f', '-p', '80'],
    env: { INDEX: String(i), MODE: 'bench', URL: `http://svc${i}:80/` },
    ports: [i < 20000 ? `127.0.0.1:${20000 + i}:80/tcp` : '80'],
    networks: [{ network: nets[i % nets.length], aliases: [`alias${i}`] }],
    mounts: [{ type: 'volume', source: vol, target: '/data' }, { type: 'tmpfs', target: '/tmp', size: '64m' }],
    restart: Restart.onFailure(3),
    healthcheck: { test: 'wget -q -O- http://127.0.0.1/ || exit 1', interval: '10s' },
    labels: { tier: i % 3 ? 'web' : 'worker' },
    memory: '128m',
    cpus: 0.5,
  });
  if (previous && i % 10) c.addDependency(previous);
  previous = c;
}
const t1 = process.hrtime.bigint();
app.synth();
const t2 = process.hrtime.bigint();
process.stdout.write(JSON.stringify({
  constructMs: Number(t1 - t0) / 1e6,
  synthMs: Number(t2 - t1) / 1e6,
  peakRssBytes: process.resourceUsage().maxRSS * 1024,
}));
