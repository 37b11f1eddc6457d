// One stack, one machine or a cluster, unchanged: `cdk-docker apply` runs it on the built-in
// engine (or a Docker Engine), `cdk-docker apply --engine swarm` on a Docker Swarm.
//
// `store` serves a greeting and reports healthy once it has it; three replicas of `web` start
// only when `store` is healthy; `front` starts once `web` is healthy and publishes port 8082,
// where /cgi-bin/hello asks `store` and one of the `web` replicas by name over the `backend`
// network and returns both answers.
//
// On one machine the replicas are three containers and `backend` a bridge; on a swarm each
// container is a service (its replicas spread over the nodes), `backend` an overlay, the names
// resolve to the services' virtual IPs and port 8082 answers on every node (the routing mesh).
import * as path from 'node:path';
import { App, Container, DependencyCondition, Image, Network, Restart, Stack } from 'cdk-docker';

const app = new App();
const stack = new Stack(app, 'scale-out');

// On a swarm every node needs the image: push it to a registry the nodes can pull from, or
// `docker load` examples/base/busybox.tar on each node (apply loads it on the manager).
const busybox = new Image(stack, 'busybox', { archive: path.join(__dirname, '..', 'base', 'busybox.tar'), tag: 'busybox:examples' });
const backend = new Network(stack, 'backend');

const store = new Container(stack, 'store', {
  image: busybox,
  command: ['sh', '-c', 'mkdir -p /www && echo "hello from the store" > /www/greeting && exec httpd -f -p 80 -h /www'],
  networks: [backend],
  restart: Restart.UNLESS_STOPPED,
  healthcheck: { test: 'test -f /www/greeting', interval: '1s', retries: 5 },
});

const web = new Container(stack, 'web', {
  image: busybox,
  replicas: 3,
  command: ['sh', '-c', 'echo "served by $(hostname)" > /tmp/index.html && exec httpd -f -p 80 -h /tmp'],
  networks: [backend],
  restart: Restart.UNLESS_STOPPED,
  healthcheck: { test: 'test -f /tmp/index.html', interval: '1s', retries: 5 },
  dependsOn: [{ container: store, condition: DependencyCondition.HEALTHY }],
});

// A CGI script for busybox httpd: both answers, one line each.
const hello = [
  '#!/bin/sh',
  "printf 'Content-Type: text/plain\\r\\n\\r\\n'",
  "printf 'GET /greeting HTTP/1.0\\r\\n\\r\\n' | nc store 80 | tail -n 1",
  "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc web 80 | tail -n 1",
].join('\n');

new Container(stack, 'front', {
  image: busybox,
  env: { HELLO_CGI: hello },
  command: ['sh', '-c', 'mkdir -p /www/cgi-bin && printf "%s\\n" "$HELLO_CGI" > /www/cgi-bin/hello && chmod +x /www/cgi-bin/hello && echo front > /www/index.html && exec httpd -f -p 80 -h /www'],
  networks: [backend],
  ports: ['8082:80'],
  restart: Restart.UNLESS_STOPPED,
  dependsOn: [{ container: web, condition: DependencyCondition.HEALTHY }],
});

app.synth();
