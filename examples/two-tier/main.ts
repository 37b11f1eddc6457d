// A two-tier app on a user network: `db` keeps its data in a named volume and reports healthy
// once the data is there; `app` starts only when `db` is healthy, reads from it by name over
// the network and serves the result on 127.0.0.1:8081.
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

new Container(stack, 'app', {
  image: busybox,
  command: ['sh', '-c', 'mkdir -p /www && while true; do wget -q -O /www/index.html http://db/greeting; sleep 2; done & exec httpd -f -p 80 -h /www'],
  networks: [backend],
  ports: ['127.0.0.1:8081:80'],
  restart: Restart.UNLESS_STOPPED,
  dependsOn: [{ container: db, condition: DependencyCondition.HEALTHY }],
});

app.synth();
