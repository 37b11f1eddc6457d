// {{name}}: a web server with a cache behind it, on a private network.
// `npx cdk-docker synth` writes the plan to cdk.out/; `npx cdk-docker ls` lists what it declares;
// `npm test` checks the plan against the snapshot in __snapshots__/.
import { App, Container, Network, Restart, Stack, Volume } from 'cdk-docker';

/** The stack: one class, so that main.test.ts can synthesize it without running the app. */
export class {{stackClass}} extends Stack {
  constructor(scope: App, id: string) {
    super(scope, id);

    const backend = new Network(this, 'backend');
    const cacheData = new Volume(this, 'cache-data');

    const cache = new Container(this, 'cache', {
      image: 'redis:7-alpine',
      networks: [backend],
      mounts: [{ type: 'volume', source: cacheData, target: '/data' }],
      healthcheck: { test: ['CMD', 'redis-cli', 'ping'], interval: '5s', retries: 5 },
      restart: Restart.UNLESS_STOPPED,
    });

    new Container(this, 'web', {
      image: 'nginx:1.27-alpine',
      ports: ['127.0.0.1:8080:80'],
      networks: [backend],
      dependsOn: [{ container: cache, condition: 'healthy' }],
      restart: Restart.UNLESS_STOPPED,
      memory: '256m',
    });
  }
}

// `cdk-docker synth` (and diff, apply) run this file; tests import the class instead.
if (require.main === module) {
  const app = new App();
  new {{stackClass}}(app, '{{name}}');
  app.synth();
}
