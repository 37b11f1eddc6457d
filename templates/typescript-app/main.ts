// {{name}}: a web server with a cache behind it, on a private network.
// `npx cdk-docker synth` writes the plan to cdk.out/; `npx cdk-docker ls` lists what it declares.
import { App, Container, Network, Restart, Stack, Volume } from 'cdk-docker';

const app = new App();
const stack = new Stack(app, '{{name}}');

const backend = new Network(stack, 'backend');
const cacheData = new Volume(stack, 'cache-data');

const cache = new Container(stack, 'cache', {
  image: 'redis:7-alpine',
  networks: [backend],
  mounts: [{ type: 'volume', source: cacheData, target: '/data' }],
  healthcheck: { test: ['CMD', 'redis-cli', 'ping'], interval: '5s', retries: 5 },
  restart: Restart.UNLESS_STOPPED,
});

new Container(stack, 'web', {
  image: 'nginx:1.27-alpine',
  ports: ['127.0.0.1:8080:80'],
  networks: [backend],
  dependsOn: [{ container: cache, condition: 'healthy' }],
  restart: Restart.UNLESS_STOPPED,
  memory: '256m',
});

app.synth();
