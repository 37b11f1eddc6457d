import { compileTemplate } from '../../lib/template';
import { InvalidArgumentError } from '../../lib/core/errors';

/**
 * The data of the template tests: `--format` templates against the strings Go's text/template (with Docker's functions)
 * prints for the same data decoded from JSON. Where the data's Go type matters, the comment
 * says which one Docker's typed structs give.
 */
export const container = {
  Id: '0123456789abcdef',
  Name: '/shop-web-1',
  Os: 'linux',
  RepoTags: ['nginx:1.25', 'nginx:latest'],
  Mounts: [] as unknown[],
  Size: 1000000,
  Ratio: 0.00001,
  State: { Status: 'exited', Running: false, ExitCode: 137, Health: null as unknown },
  Config: {
    Labels: { 'com.example.tier': 'web', app: 'shop' } as Record<string, string>,
    Cmd: ['nginx', '-g', 'daemon off;'],
    Env: null as unknown,
  },
  NetworkSettings: {
    Networks: { front: { IPAddress: '10.89.1.2' }, back: { IPAddress: '10.89.0.2' } },
    Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null as unknown },
  },
};
export const render = (t: string, data: unknown = container) => compileTemplate(t)(data);
export const failure = (t: string, data: unknown = container): string => {
  try {
    render(t, data);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return (e as Error).message;
  }
  throw new Error(`${t} rendered`);
};
