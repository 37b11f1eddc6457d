// A two-tier app on a user network: `db` keeps its data in a named volume and reports healthy
// once the data is there; `app`, an image built from app/Dockerfile, starts only when `db` is
// healthy, reads from it by name over the network and serves the result on 127.0.0.1:8081.
import * as path from 'node:path';
import { App, Container, DependencyCondition, Image, Network, Restart, Stack, Volume } from 'cdk-docker';

const app = new App();
const stack = new Stack(app, 'two-tier');

const busybox = new Image(stack, 'busybox', { archive: path.join(__dirname, '..', 'base', 'busybox.tar'), tag: 'busybox:examples' });
const backend = new Network(stack, 'backend');
const data = new Volume(stack, 'data');

const db = new Container(stack, 'db', {
  image: busybox,
  command: ['sh', '-c', 'mkdir -p /data && [ -f /data/greeting ] || echo "hello from the db volume" > /data/greeting; exec httpd -f -p 80 -h /data'],
  mounts: [{ type: 'volume', source: data, target: '/data' }],
  networks: [backend],
  restart: Restart.UNLESS_STOPPED,
  healthcheck: { test: 'test -f /data/greeting', interval: '1s', retries: 5 },
});

// Built FROM busybox:examples, the Image above: apply loads that one first.
const frontend = new Image(stack, 'frontend', { build: { context: 'app' }, tag: 'two-tier-app:latest' });

new Container(stack, 'app', {
  image: frontend,
  networks: [backend],
  ports: ['127.0.0.1:8081:80'],
  restart: Restart.UNLESS_STOPPED,
  dependsOn: [{ container: db, condition: DependencyCondition.HEALTHY }],
});

app.synth();
