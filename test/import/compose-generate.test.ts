import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateStack } from '../../lib/import/compose/generate';
import { loadCompose } from '../../lib/import/compose/load';
import { tempDir } from '../helpers/cli';

describe('code generation', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('cdkim-gen-');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const generate = (yaml: string, env: Record<string, string> = {}) => {
    fs.writeFileSync(path.join(dir, 'compose.yaml'), yaml);
    const project = loadCompose({ cwd: dir, env });
    return generateStack(project, { outDir: dir, stackName: 'demo', env });
  };
  /** The text of the Container statement of `service`. */
  const containerOf = (ts: string, service: string) => {
    const start = ts.indexOf(`new Container(this, '${service}'`);
    return ts.slice(start, ts.indexOf('\n    });', start) + 8);
  };

  test('the gaps props: secrets at compose\'s path, configs, expose, hosts, DNS, limits, devices, namespaces', () => {
    fs.writeFileSync(path.join(dir, 'pw.txt'), 'x');
    const g = generate(`services:
  app:
    image: busybox
    secrets: [db-password, { source: token, target: /etc/token, mode: 0400 }]
    configs: [{ source: conf, target: /etc/app.conf }]
    expose: ["8080", 9090/udp]
    extra_hosts: ["db.local:10.0.0.2", "gw=host-gateway"]
    dns: 1.1.1.1
    dns_search: [example.com]
    dns_opt: [ndots:2]
    sysctls: { net.core.somaxconn: 1024 }
    ulimits: { nofile: { soft: 1024, hard: 2048 }, nproc: 512 }
    shm_size: 64m
    devices: ["/dev/null:/dev/fake:r"]
    pid: host
    ipc: private
    tmpfs: ["/run:size=64m,mode=1777"]
secrets:
  db-password: { file: ./pw.txt }
  token: { environment: TOKEN }
configs:
  conf: { content: "a=1" }
`);
    expect(g.notImported).toEqual([]);
    expect(containerOf(g.mainTs, 'app')).toBe(`new Container(this, 'app', {
      image: 'busybox',
      secrets: [
        { secret: dbPassword, target: 'db-password' },
        { secret: token, target: '/etc/token', mode: 0o400 },
      ],
      configs: [{ config: conf, target: '/etc/app.conf' }],
      expose: [8080, '9090/udp'],
      networks: [defaultNetwork],
      extraHosts: { 'db.local': '10.0.0.2', gw: 'host-gateway' },
      dns: ['1.1.1.1'],
      dnsSearch: ['example.com'],
      dnsOptions: ['ndots:2'],
      mounts: [{ type: 'tmpfs', target: '/run', size: '64m', mode: 0o1777 }],
      shmSize: '64m',
      ulimits: { nofile: { soft: 1024, hard: 2048 }, nproc: 512 },
      sysctls: { 'net.core.somaxconn': '1024' },
      devices: ['/dev/null:/dev/fake:r'],
      pid: 'host',
      ipc: 'private',
    });`);
    expect(g.mainTs).toContain("const dbPassword = Secret.fromFile('./pw.txt');");
    expect(g.mainTs).toContain("const token = Secret.fromEnv('TOKEN');");
    expect(g.mainTs).toContain("const conf = Config.fromString('a=1');");
  });

  test('references between services come first: network_mode service:, volumes_from, depends_on conditions', () => {
    const g = generate(`services:
  web:
    image: busybox
    network_mode: service:vpn
    volumes_from: [data:ro, container:legacy]
    depends_on:
      vpn: { condition: service_healthy }
      data: { condition: service_completed_successfully }
  vpn:
    image: busybox
    healthcheck: { test: "true", interval: 1s }
  data:
    image: busybox
    volumes: [/data]
`);
    expect(g.notImported).toEqual([]);
    const order = ['vpn', 'data', 'web'].map((s) => g.mainTs.indexOf(`new Container(this, '${s}'`));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(containerOf(g.mainTs, 'web')).toBe(`new Container(this, 'web', {
      image: 'busybox',
      networkMode: vpn,
      volumesFrom: [{ container: data, readOnly: true }, Container.fromName(this, 'legacy-container', 'legacy')],
      dependsOn: [{ container: vpn, condition: 'healthy' }, { container: data, condition: 'completed' }],
    });`);
    expect(g.mainTs).toContain("// the anonymous volume of data at /data, removed with the stack\n    const dataData = new Volume(this, 'data-data', { removalPolicy: 'destroy' });");
  });

  test('long-syntax ports and volumes, restart policies, develop.watch', () => {
    fs.mkdirSync(path.join(dir, 'src'));
    const g = generate(`services:
  app:
    build: .
    ports:
      - { target: 80, published: "8080", host_ip: 127.0.0.1, protocol: tcp }
    volumes:
      - { type: bind, source: ./src, target: /src, read_only: true }
      - { type: tmpfs, target: /cache, tmpfs: { size: 1024 } }
    deploy:
      restart_policy: { condition: on-failure, max_attempts: 4 }
      resources: { limits: { pids: 100 } }
    develop:
      watch:
        - { path: ./src, action: sync, target: /src, ignore: [node_modules/] }
        - { path: ., action: rebuild }
`);
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\n');
    expect(g.notImported).toEqual([]);
    expect(containerOf(g.mainTs, 'app')).toBe(`new Container(this, 'app', {
      image: appImage,
      ports: [{ containerPort: 80, hostPort: 8080, hostIp: '127.0.0.1', protocol: 'tcp' }],
      networks: [defaultNetwork],
      mounts: [
        { type: 'bind', source: './src', target: '/src', readOnly: true },
        { type: 'tmpfs', target: '/cache', size: '1024b' },
      ],
      restart: Restart.onFailure(4),
      pidsLimit: 100,
      develop: {
        watch: [
          { path: './src', action: 'sync', target: '/src', ignore: ['node_modules/'] },
          { path: '.', action: 'rebuild' },
        ],
      },
    });`);
  });

  test('keys without a construct field are listed, with a reason, at their service', () => {
    const g = generate('services:\n  app:\n    image: busybox\n    domainname: example.com\n    healthcheck: { disable: true }\n    ipc: service:other\n  other: { image: busybox }\n');
    expect(g.notImported).toEqual([
      { service: 'app', key: 'domainname', why: 'no ContainerProps field for the domain name yet' },
      { service: 'app', key: 'healthcheck.disable', why: "no prop turns off the image's HEALTHCHECK yet" },
      { service: 'app', key: 'ipc', why: 'ipc "service:other": only host, private, shareable' },
    ]);
    expect(g.mainTs).toContain("    // not imported: domainname — no ContainerProps field for the domain name yet\n");
  });

  test('tty, stdin_open, logging, platform, runtime, string commands and depends_on restart are imported', () => {
    const g = generate(`services:
  app:
    image: busybox
    tty: true
    stdin_open: false
    logging: { driver: json-file, options: { max-size: 10m, max-file: 3 } }
    platform: linux/amd64
    runtime: runc
    entrypoint: /bin/sh -c
    command: 'echo "hello world" && sleep 1'
    depends_on:
      db: { condition: service_started, restart: true }
      cache: { condition: service_healthy }
  db: { image: busybox, logging: { driver: none } }
  cache: { image: busybox, healthcheck: { test: "true" } }
`);
    expect(g.notImported).toEqual([]);
    const app = containerOf(g.mainTs, 'app');
    expect(app).toContain('tty: true,');
    expect(app).not.toContain('stdinOpen');
    expect(app).toContain("logging: { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },");
    expect(app).toContain("platform: 'linux/amd64',");
    expect(app).toContain("runtime: 'runc',");
    // The string as written: the construct splits it as Compose does.
    expect(app).toContain("entrypoint: '/bin/sh -c',");
    expect(app).toContain(`command: 'echo "hello world" && sleep 1',`);
    expect(app).toMatch(/dependsOn: \[\{ container: db, restart: true \}, \{ container: cache, condition: 'healthy' \}\]/);
    expect(g.mainTs).toContain("logging: { driver: 'none' } });");
  });

  test('environment entries without a value come from the environment at import, or are left out as Compose leaves them', () => {
    const g = generate('services:\n  app:\n    image: busybox\n    environment: [FROM_HOST, NOT_SET, "A=1"]\n', { FROM_HOST: 'h' });
    expect(g.mainTs).toContain("env: { FROM_HOST: 'h', A: '1' },");
    expect(g.notes).toEqual(['service "app": environment NOT_SET has no value and is unset here: left out, as Compose leaves it out']);
  });
});

describe('hostile compose files', () => {
  test('text from the file never leaves a comment or a string of the generated code', () => {
    const dir = tempDir('cdkim-hostile-');
    try {
      const evil = 'x\u2028process.exit(7)//';
      fs.writeFileSync(
        path.join(dir, 'compose.yaml'),
        [
          `# header ${evil}`,
          'services:',
          `  # before ${evil}`,
          '  app:',
          `    image: "busybox'); process.exit(8); ('"`,
          `    volumes: ["/data\\n process.exit(9)//:/data:zz"]`,
          `    tmpfs: ["/run:mode=1777);process.exit(10"]`,
          `    labels: { "a'b": "c\\u2028d" }`,
          '',
        ].join('\n'),
      );
      const project = loadCompose({ cwd: dir, env: {} });
      const g = generateStack(project, { outDir: dir, stackName: 'demo', env: {} });
      // Every line of code is one the generator wrote: no statement starts with the file's text.
      for (const line of g.mainTs.split(/\r\n|[\n\r\u2028\u2029]/)) expect(line.trim()).not.toMatch(/^process\.exit/);
      expect(g.mainTs).not.toMatch(/0o1777\);process/);
      expect(g.mainTs).toContain("image: 'busybox\\'); process.exit(8); (\\''");
      expect(g.mainTs).toContain("labels: { \"a'b\": 'c\\u2028d' }".replace('"a\'b"', "'a\\'b'"));
      expect(g.notImported.map((n) => n.key)).toEqual(['volumes /data mode "zz"', 'tmpfs /run mode']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('top-level keys without a construct (models) are reported, not dropped', () => {
  const dir = tempDir('cdkim-top-');
  try {
    fs.writeFileSync(path.join(dir, 'compose.yaml'), 'models:\n  llm: { model: ai/smollm2 }\nservices:\n  app: { image: busybox }\n');
    const g = generateStack(loadCompose({ cwd: dir, env: {} }), { outDir: dir, stackName: 'demo', env: {} });
    expect(g.notImported).toEqual([{ service: '', key: 'models', why: 'Compose models have no construct' }]);
    expect(g.mainTs).toContain('    // not imported: models — Compose models have no construct\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
