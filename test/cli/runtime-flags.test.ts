import { buildProgram } from '../../lib/cli/main';
import { FlagError, normalizeRuntimeArgs } from '../../lib/cli/runtime/flags';

/** The runtime command line as commander will read it. */
const norm = (line: string[]) => normalizeRuntimeArgs(buildProgram(), ['runtime', ...line]).slice(1);
const error = (line: string[]): FlagError => {
  try {
    norm(line);
  } catch (e) {
    if (e instanceof FlagError) return e;
    throw e;
  }
  throw new Error(`no error for ${line.join(' ')}`);
};

describe('runtime flags as Docker (pflag) reads them', () => {
  test('every spelling of a value flag gives the same value', () => {
    for (const spelling of [['-t=name'], ['-tname'], ['-t', 'name'], ['--tag=name'], ['--tag', 'name']]) {
      expect(norm(['build', ...spelling, '.'])).toEqual(['build', '--tag=name', '--', '.']);
    }
  });

  test('-e=K=V is the value K=V, not =K=V', () => {
    expect(norm(['run', '-e=FOO=bar', 'busybox'])).toEqual(['run', '--env=FOO=bar', '--', 'busybox']);
  });

  test('bool groups, and a group ending in a value flag', () => {
    expect(norm(['run', '-itd', 'busybox'])).toEqual(['run', '--interactive', '--tty', '--detach', '--', 'busybox']);
    expect(norm(['run', '-dit', 'busybox'])).toEqual(['run', '--detach', '--interactive', '--tty', '--', 'busybox']);
    expect(norm(['run', '-dp', '8080:80', 'busybox'])).toEqual(['run', '--publish=8080:80', '--detach', '--', 'busybox']);
    expect(norm(['run', '-dp8080:80', 'busybox'])).toEqual(['run', '--publish=8080:80', '--detach', '--', 'busybox']);
  });

  test('bools take =true/=false, and the last one wins', () => {
    expect(norm(['run', '--rm=false', '-d=true', 'busybox'])).toEqual(['run', '--detach', '--', 'busybox']);
    expect(norm(['run', '--rm', '--rm=0', 'busybox'])).toEqual(['run', '--', 'busybox']);
    expect(norm(['ps', '--no-trunc=false'])).toEqual(['ps']);
    expect(norm(['ps', '--no-trunc=true', '-a'])).toEqual(['ps', '--no-trunc', '--all']);
    expect(error(['run', '--rm=maybe', 'busybox']).message).toBe('invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
  });

  test('flags after the image are the container\'s', () => {
    expect(norm(['run', '-d', '--net=app', '--name', 'zz', 'busybox', 'httpd', '-f', '-h', '/etc'])).toEqual(['run', '--network=app', '--name=zz', '--detach', '--', 'busybox', 'httpd', '-f', '-h', '/etc']);
    expect(norm(['create', 'busybox', '--foo', '--'])).toEqual(['create', '--', 'busybox', '--foo', '--']);
    expect(norm(['exec', '-it', 'c1', 'sh', '-c', 'ls -l'])).toEqual(['exec', '--interactive', '--tty', '--', 'c1', 'sh', '-c', 'ls -l']);
    expect(norm(['top', 'c1', '-o', 'pid'])).toEqual(['top', '--', 'c1', '-o', 'pid']);
    expect(norm(['run', '--', 'busybox', '--', 'echo'])).toEqual(['run', '--', 'busybox', '--', 'echo']);
  });

  test('other commands take flags anywhere, as Docker\'s', () => {
    expect(norm(['rm', 'c1', '-f', 'c2'])).toEqual(['rm', '--force', '--', 'c1', 'c2']);
    expect(norm(['network', 'create', 'app', '--subnet=10.9.0.0/24'])).toEqual(['network', 'create', '--subnet=10.9.0.0/24', '--', 'app']);
    expect(norm(['image', 'ls', '-aq'])).toEqual(['image', 'ls', '--all', '--quiet']);
    expect(norm(['commit', '-p=false', 'c1'])).toEqual(['commit', '--pause=false', '--', 'c1']);
    expect(norm(['commit', '-p', 'c1'])).toEqual(['commit', '--pause', '--', 'c1']);
  });

  test('--net is --network for run and create only', () => {
    expect(norm(['create', '--net', 'none', 'busybox'])).toEqual(['create', '--network=none', '--', 'busybox']);
    expect(error(['build', '--net=host', '.']).message).toBe('unknown flag: --net');
  });

  test('unknown and incomplete flags fail with pflag\'s messages', () => {
    expect(error(['run', '--foo', 'busybox']).message).toBe('unknown flag: --foo');
    expect(error(['run', '-z', 'busybox']).message).toBe("unknown shorthand flag: 'z' in -z");
    expect(error(['run', '-dz', 'busybox']).message).toBe("unknown shorthand flag: 'z' in -z");
    expect(error(['run', '-=x', 'busybox']).message).toBe("unknown shorthand flag: '=' in -=x");
    expect(error(['run', '---x', 'busybox']).message).toBe('bad flag syntax: ---x');
    expect(error(['run', '--name']).message).toBe('flag needs an argument: --name');
    expect(error(['run', '-de']).message).toBe("flag needs an argument: 'e' in -e");
    const e = error(['ps', '--foo']);
    expect(e.exitCode).toBe(125);
    expect(e.render()).toBe("unknown flag: --foo\nSee 'cdk-docker runtime ps --help'.\n");
  });

  test('--help and an undeclared -h ask for help', () => {
    expect(norm(['run', '--help'])).toEqual(['run', '--help']);
    expect(norm(['ps', '-ah'])).toEqual(['ps', '--help']);
    // run's -h is --hostname, as Docker's.
    expect(norm(['run', '-h', 'web', 'busybox'])).toEqual(['run', '--hostname=web', '--', 'busybox']);
  });

  test('command lines that name no runtime command are left to commander', () => {
    expect(normalizeRuntimeArgs(buildProgram(), ['synth', '-x'])).toEqual(['synth', '-x']);
    expect(normalizeRuntimeArgs(buildProgram(), ['runtime', 'network'])).toEqual(['runtime', 'network']);
    expect(normalizeRuntimeArgs(buildProgram(), ['runtime', '--help'])).toEqual(['runtime', '--help']);
  });
});
