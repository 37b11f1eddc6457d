import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, cdkDocker, tempDir } from '../helpers/cli';

const NPM_TIMEOUT = 300_000;

const COMPOSE = `# The shop: a web front, its API and a database.
name: shop

services:
  # The front, built here.
  web:
    build:
      context: ./web
      dockerfile: Dockerfile.prod
      args:
        VERSION: "\${VERSION:-1.0}"
      target: runtime
    image: shop/web:latest
    ports:
      - "127.0.0.1:\${WEB_PORT:-8080}:80"
    depends_on:
      api:
        condition: service_healthy
    restart: unless-stopped
    labels:
      team: front

  api:
    image: busybox:1.36 # pinned
    command: httpd -f -p 8000
    working_dir: /srv
    env_file: api.env
    environment:
      DB_HOST: db
      LOG_LEVEL: \${LOG_LEVEL:-info}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://localhost:8000/"]
      interval: 5s
      retries: 5
    networks:
      - back
      - default
    deploy:
      replicas: 2
      resources:
        limits:
          cpus: "0.5"
          memory: 256M

  db:
    image: busybox:1.36
    user: "999:999"
    volumes:
      - db-data:/var/lib/db
      - ./init:/docker-entrypoint-initdb.d:ro
    networks:
      back:
        aliases: [database]
    restart: on-failure:3
    stop_grace_period: 1m

networks:
  back:
    internal: true

volumes:
  db-data:
`;

describe('cdk-docker import compose', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('cdkim-cli-');
    fs.writeFileSync(path.join(dir, 'compose.yaml'), COMPOSE);
    fs.writeFileSync(path.join(dir, 'api.env'), 'API_KEY=dev\n');
    fs.mkdirSync(path.join(dir, 'web'));
    fs.writeFileSync(path.join(dir, 'web', 'Dockerfile.prod'), 'FROM busybox:1.36 AS runtime\n');
    fs.mkdirSync(path.join(dir, 'init'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('writes the project: one construct per service, in file order, comments carried over; twice gives the same bytes', () => {
    const r = cdkDocker(['import', 'compose', '-o', 'app'], dir, { WEB_PORT: '', LOG_LEVEL: '' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Wrote main.ts, cdk-docker.json, package.json, tsconfig.json, jest.config.js, main.test.ts, .gitignore to ${path.join(dir, 'app')} (stack "shop")\nNext: npm install, then npx cdk-docker diff\n`);
    const main = fs.readFileSync(path.join(dir, 'app', 'main.ts'), 'utf8');
    expect(main).toBe(`// Imported from compose.yaml by \`cdk-docker import compose\`.
// The shop: a web front, its API and a database.
import { App, Container, Image, Network, Restart, Stack, Volume } from 'cdk-docker';

/** The services of the compose project "shop". */
export class ShopStack extends Stack {
  constructor(scope: App, id: string) {
    super(scope, id);

    const back = new Network(this, 'back', { name: 'shop_back', internal: true });

    const defaultNetwork = new Network(this, 'default', { name: 'shop_default' });

    const dbData = new Volume(this, 'db-data', { name: 'shop_db-data' });

    const api = new Container(this, 'api', {
      // pinned
      image: 'busybox:1.36',
      command: 'httpd -f -p 8000',
      workingDir: '/srv',
      env: { DB_HOST: 'db', LOG_LEVEL: 'info' },
      envFiles: ['../api.env'],
      networks: [back, defaultNetwork],
      healthcheck: { test: ['CMD', 'wget', '-q', '-O-', 'http://localhost:8000/'], interval: '5s', retries: 5 },
      replicas: 2,
      memory: '256M',
      cpus: 0.5,
    });

    const webImage = new Image(this, 'web-image', {
      build: {
        context: '../web',
        dockerfile: 'Dockerfile.prod',
        buildArgs: { VERSION: '1.0' },
        target: 'runtime',
      },
      tag: 'shop/web:latest',
    });
    // The front, built here.
    new Container(this, 'web', {
      image: webImage,
      ports: ['127.0.0.1:8080:80'],
      networks: [defaultNetwork],
      dependsOn: [{ container: api, condition: 'healthy' }],
      restart: 'unless-stopped',
      labels: { team: 'front' },
    });

    new Container(this, 'db', {
      image: 'busybox:1.36',
      user: '999:999',
      networks: [{ network: back, aliases: ['database'] }],
      mounts: [
        { type: 'volume', source: dbData, target: '/var/lib/db' },
        { type: 'bind', source: '../init', target: '/docker-entrypoint-initdb.d', readOnly: true },
      ],
      restart: Restart.onFailure(3),
      stopTimeout: '1m',
    });
  }
}

// \`cdk-docker synth\` (and diff, apply) run this file; tests import the class instead.
if (require.main === module) {
  const app = new App();
  new ShopStack(app, 'shop');
  app.synth();
}
`);
    const again = cdkDocker(['import', 'compose', '-o', 'app'], dir, { WEB_PORT: '', LOG_LEVEL: '' });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`Wrote main.ts to ${path.join(dir, 'app')} (stack "shop")\n`);
    expect(fs.readFileSync(path.join(dir, 'app', 'main.ts'), 'utf8')).toBe(main);
  });

  test('-f merges, --env-file and --profile apply, --stack names the stack', () => {
    fs.writeFileSync(path.join(dir, 'override.yaml'), 'services:\n  debug:\n    image: busybox\n    profiles: [debug]\n  api:\n    environment:\n      LOG_LEVEL: "${LEVEL}"\n');
    fs.writeFileSync(path.join(dir, 'vars.env'), 'LEVEL=trace\n');
    const r = cdkDocker(['import', 'compose', '-f', 'compose.yaml', '-f', 'override.yaml', '--env-file', 'vars.env', '--profile', 'debug', '--stack', 'shop-dev', '-o', 'dev'], dir);
    expect(r.code).toBe(0);
    const main = fs.readFileSync(path.join(dir, 'dev', 'main.ts'), 'utf8');
    expect(main).toContain("env: { DB_HOST: 'db', LOG_LEVEL: 'trace' },");
    expect(main).toContain("new Container(this, 'debug', { image: 'busybox', networks: [defaultNetwork] });");
    expect(main).toContain("new ShopDevStack(app, 'shop-dev');");
  });

  test('keys the constructs cannot express are comments at their service, warnings, and exit 3', () => {
    fs.writeFileSync(path.join(dir, 'compose.yaml'), 'services:\n  app:\n    image: busybox\n    domainname: example.com\n    group_add:\n      - mail\n');
    const r = cdkDocker(['import', 'compose', '-o', 'app'], dir);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe([
      'Warning: not imported: service "app": domainname — no ContainerProps field for the domain name yet',
      'Warning: not imported: service "app": group_add — no ContainerProps field for supplementary groups yet',
      '',
    ].join('\n'));
    expect(r.stdout).toContain('Not equivalent: 2 keys not imported (see the warnings and the "not imported" comments in main.ts)\n');
    expect(fs.readFileSync(path.join(dir, 'app', 'main.ts'), 'utf8')).toContain([
      '    // not imported: domainname — no ContainerProps field for the domain name yet',
      '    // not imported: group_add — no ContainerProps field for supplementary groups yet',
      "    new Container(this, 'app', { image: 'busybox', networks: [defaultNetwork] });",
    ].join('\n'));
  });

  test('a bad file is one line naming file, service and key; nothing is written', () => {
    fs.writeFileSync(path.join(dir, 'compose.yaml'), 'services:\n  web:\n    image: nginx\n    ports: 80\n');
    const r = cdkDocker(['import', 'compose', '-o', 'app'], dir);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'Error: compose.yaml: service "web": "ports" must be an array\n' });
    expect(fs.existsSync(path.join(dir, 'app'))).toBe(false);
    fs.mkdirSync(path.join(dir, 'mine'));
    fs.writeFileSync(path.join(dir, 'mine', 'main.ts'), '// my own stack\n');
    fs.writeFileSync(path.join(dir, 'compose.yaml'), 'services:\n  web:\n    image: nginx\n');
    const mine = cdkDocker(['import', 'compose', '-o', 'mine'], dir);
    expect(mine.stderr).toBe(`Error: ${path.join(dir, 'mine', 'main.ts')} exists and was not written by \`cdk-docker import compose\`; import into another directory (-o) or move it away\n`);
    expect(fs.readdirSync(path.join(dir, 'mine'))).toEqual(['main.ts']);
    const missing = cdkDocker(['import', 'compose', '-f', 'nope.yaml'], dir);
    expect(missing.stderr).toBe('Error: compose file nope.yaml does not exist; check the path\n');
  });

  test(
    'the generated project installs, type-checks, and its npm test snapshots the plan',
    () => {
      const r = cdkDocker(['import', 'compose', '-o', 'app'], dir, { WEB_PORT: '', LOG_LEVEL: '' });
      expect(r.code).toBe(0);
      const app = path.join(dir, 'app');
      expect(JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8')).dependencies['cdk-docker']).toBe(`file:${ROOT}`);
      execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: app, stdio: 'pipe' });
      execFileSync('npx', ['tsc', '--noEmit'], { cwd: app, stdio: 'pipe' });
      const test = spawnSync('npm', ['test', '--', '--ci=false'], { cwd: app, encoding: 'utf8' });
      expect(test.status).toBe(0);
      expect(test.stderr).toContain('1 snapshot written');
      const snapshot = fs.readFileSync(path.join(app, '__snapshots__', 'main.test.ts.snap'), 'utf8');
      expect(snapshot).toContain('"source": "../init"');
      expect(snapshot).not.toContain(dir);
      // The second run compares with the snapshot and passes.
      const again = spawnSync('npm', ['test'], { cwd: app, encoding: 'utf8' });
      expect(again.status).toBe(0);
      expect(again.stderr).toContain('1 passed');
    },
    NPM_TIMEOUT,
  );
});
