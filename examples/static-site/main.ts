// A static website served by busybox httpd from a bind-mounted directory, published on
// 127.0.0.1:8080 (the first example of the Docker books, as a stack). The image is loaded from
// an archive made offline (../base/make-busybox-archive.sh), so no registry is needed.
import * as path from 'node:path';
import { App, Container, Image, Restart, Stack } from 'cdk-docker';

const app = new App();
const stack = new Stack(app, 'static-site');

const busybox = new Image(stack, 'busybox', { archive: path.join(__dirname, '..', 'base', 'busybox.tar'), tag: 'busybox:examples' });

new Container(stack, 'web', {
  image: busybox,
  command: ['httpd', '-f', '-v', '-p', '80', '-h', '/www'],
  ports: ['127.0.0.1:8080:80'],
  mounts: [{ type: 'bind', source: path.join(__dirname, 'site'), target: '/www', readOnly: true }],
  restart: Restart.UNLESS_STOPPED,
  healthcheck: { test: 'wget -q -O /dev/null http://127.0.0.1/ || exit 1', interval: '5s', retries: 3 },
});

app.synth();
