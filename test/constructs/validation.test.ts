/**
 * Every validation message the foundation issue lists, asserted exactly: each names the
 * construct path and says how to fix the problem. Local mistakes throw at once; problems that
 * span constructs are reported together at synth.
 */
import { Construct } from 'constructs';
import { Container, Image, Size, Stack, Testing, ValidationError } from '../../lib';
import { fixtureApp, invalidArgument, shop, synthProblems, thrown } from '../fixtures';

describe('validation messages', () => {
  test('a port out of range', () => {
    const stack = shop();
    expect(invalidArgument(() => new Container(stack, 'web', { image: 'nginx', ports: ['70000:80'] }))).toBe('[shop/web] "70000:80": hostPort 70000 is out of range 1-65535');
    expect(invalidArgument(() => new Container(stack, 'api', { image: 'nginx', ports: [{ containerPort: 0 }] }))).toBe('[shop/api] {"containerPort":0}: containerPort 0 is out of range 1-65535');
  });

  test('an unknown protocol, with the protocol it probably means', () => {
    const stack = shop();
    expect(invalidArgument(() => new Container(stack, 'b', { image: 'busybox', ports: ['8080:80/tpc'] }))).toBe('[shop/b] "8080:80/tpc": unknown protocol "tpc" — did you mean "tcp"?');
    expect(invalidArgument(() => new Container(stack, 'c', { image: 'busybox', ports: ['8080:80/icmp'] }))).toBe('[shop/c] "8080:80/icmp": unknown protocol "icmp" — use "tcp", "udp" or "sctp"');
  });

  test('two containers publishing the same host address and port', () => {
    const stack = shop();
    new Container(stack, 'a', { image: 'busybox', ports: ['8080:80'] });
    new Container(stack, 'b', { image: 'busybox', ports: ['127.0.0.1:8080:81'] });
    new Container(stack, 'c', { image: 'busybox', ports: ['127.0.0.1:9090:80/udp'] });
    new Container(stack, 'd', { image: 'busybox', ports: ['127.0.0.1:9090:80/udp'] });
    // Not clashes: another address, another protocol, a random host port.
    new Container(stack, 'e', { image: 'busybox', ports: ['127.0.0.2:9090:80', '127.0.0.1:9090:80/tcp', '80'] });
    expect(synthProblems(stack)).toEqual([
      '[shop/b] host port 127.0.0.1:8080/tcp is already published by shop/a (0.0.0.0:8080); choose another hostPort or hostIp',
      '[shop/d] host port 127.0.0.1:9090/udp is already published by shop/c (127.0.0.1:9090); choose another hostPort or hostIp',
    ]);
  });

  test('host ports clash across stacks too: they share one engine', () => {
    const app = fixtureApp();
    const one = new Stack(app, 'one');
    const two = new Stack(app, 'two');
    new Container(one, 'web', { image: 'nginx', ports: ['80:80'] });
    new Container(two, 'web', { image: 'nginx', ports: ['80:80'] });
    expect(synthProblems(two)).toEqual(['[two/web] host port 0.0.0.0:80/tcp is already published by one/web (0.0.0.0:80); choose another hostPort or hostIp']);
  });

  test('two containers with the same name', () => {
    const stack = shop();
    new Container(stack, 'a', { image: 'busybox' });
    new Container(stack, 'b', { image: 'busybox', name: 'shop-a' });
    expect(synthProblems(stack)).toEqual(['[shop/b] container name "shop-a" is already used by shop/a; give one of them another name']);
  });

  test('a dependsOn cycle, printed', () => {
    const stack = shop();
    const a = new Container(stack, 'a', { image: 'busybox' });
    const b = new Container(stack, 'b', { image: 'busybox', dependsOn: [a] });
    const c = new Container(stack, 'c', { image: 'busybox', dependsOn: [b] });
    a.addDependency(c);
    new Container(stack, 'd', { image: 'busybox', dependsOn: [a] });
    expect(synthProblems(stack)).toEqual(['[shop/a] dependsOn cycle: shop/a → shop/c → shop/b → shop/a; remove one of these dependencies']);
  });

  test('a cycle through volumesFrom is a cycle too', () => {
    const stack = shop();
    const a = new Container(stack, 'a', { image: 'busybox' });
    const b = new Container(stack, 'b', { image: 'busybox', volumesFrom: [a] });
    a.addDependency(b);
    expect(synthProblems(stack)).toEqual(['[shop/a] dependsOn cycle: shop/a → shop/b → shop/a; remove one of these dependencies']);
  });

  test('the condition "healthy" on a container without a healthcheck', () => {
    const stack = shop();
    const db = new Container(stack, 'db', { image: 'postgres:16' });
    new Container(stack, 'api', { image: 'busybox', dependsOn: [{ container: db, condition: 'healthy' }] });
    expect(synthProblems(stack)).toEqual([
      '[shop/api] dependsOn shop/db with condition "healthy", but shop/db has no healthcheck; add a healthcheck to it or use condition "started"',
    ]);
  });

  test('an image with two sources', () => {
    expect(invalidArgument(() => new Image(shop(), 'img', { ref: 'nginx', archive: 'image.tar' }))).toBe(
      '[shop/img] an Image needs exactly one source — ref, build or archive — but got ref and archive; split it into one Image per source',
    );
  });

  test('a name that is not a valid Docker name', () => {
    const stack = shop();
    expect(invalidArgument(() => new Container(stack, 'web', { image: 'nginx', name: 'my web!' }))).toBe(
      '[shop/web] container name "my web!" is not a valid Docker name: use at least two characters, starting with a letter or digit, then letters, digits, "_", "." or "-" (for example "my-web-")',
    );
    expect(invalidArgument(() => new Container(stack, 'long', { image: 'nginx', name: 'x'.repeat(129) }))).toBe(
      `[shop/long] container name "${'x'.repeat(129)}" is 129 characters long; the maximum is 128`,
    );
    expect(invalidArgument(() => new Stack(fixtureApp(), 'my stack'))).toBe(
      '[my stack] stack name "my stack" is not a valid Docker name: use at least two characters, starting with a letter or digit, then letters, digits, "_", "." or "-" (for example "my-stack"); set stackName to a valid name',
    );
  });

  test('a construct id that cannot be part of a resource path', () => {
    const stack = shop();
    expect(invalidArgument(() => new Container(new Construct(stack, 'Front End'), 'web', { image: 'nginx' }))).toBe(
      '[shop/Front End/web] construct id "Front End" cannot be part of a resource path; use letters, digits, "_", "." or "-" (for example "Front-End")',
    );
    expect(invalidArgument(() => new Container(stack, 'web #1', { image: 'nginx' }))).toBe(
      '[shop/web #1] construct id "web #1" cannot be part of a resource path; use letters, digits, "_", "." or "-" (for example "web-1")',
    );
    // The stack's own id is not part of the path.
    const c = new Container(new Stack(fixtureApp(), 'My Shop', { stackName: 'my-shop' }), 'web', { image: 'nginx' });
    expect(c.containerName).toBe('my-shop-web');
  });

  test('a default name derived from the path is always a valid Docker name', () => {
    const stack = new Stack(fixtureApp(), 'shop');
    const c = new Container(new Construct(stack, '_internal'), 'web.server', { image: 'nginx' });
    expect(c.containerName).toBe('shop-_internal-web.server');
    expect(Testing.synth(stack).stack).toBe('shop');
  });

  test('memory below 6 MiB', () => {
    const stack = shop();
    expect(invalidArgument(() => new Container(stack, 'a', { image: 'nginx', memory: '4m' }))).toBe(
      '[shop/a] memory "4m" (4194304 bytes) is below Docker\'s minimum of 6 MiB; use at least "6m"',
    );
    expect(invalidArgument(() => new Container(stack, 'b', { image: 'nginx', memory: Size.kibibytes(6143) }))).toBe(
      '[shop/b] memory 6143k (6290432 bytes) is below Docker\'s minimum of 6 MiB; use at least "6m"',
    );
  });

  test('problems found at synth are all reported at once, each on its own line, and nothing is rendered', () => {
    const stack = shop();
    const db = new Container(stack, 'db', { image: 'postgres:16' });
    new Container(stack, 'a', { image: 'busybox', ports: ['80:80'], dependsOn: [{ container: db, condition: 'healthy' }] });
    new Container(stack, 'b', { image: 'busybox', ports: ['80:80'], name: 'shop-a' });
    const e = thrown(() => Testing.synth(stack));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.message).toBe(
      'Validation failed with the following errors:\n' +
        '  [shop/a] dependsOn shop/db with condition "healthy", but shop/db has no healthcheck; add a healthcheck to it or use condition "started"\n' +
        '  [shop/b] container name "shop-a" is already used by shop/a; give one of them another name\n' +
        '  [shop/b] host port 0.0.0.0:80/tcp is already published by shop/a (0.0.0.0:80); choose another hostPort or hostIp',
    );
  });
});
