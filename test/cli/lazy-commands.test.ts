import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { COMMAND_FILES, buildProgram } from '../../lib/cli/main';
import { RUNTIME_COMMAND_FILES } from '../../lib/cli/runtime';
import { ROOT, cdkDocker } from '../helpers/cli';

const names = (args?: string[]) => buildProgram(args).commands.map((c) => c.name());

describe('each command loads only its own file', () => {
  test('the table names every command of the full program, in help order', () => {
    expect(COMMAND_FILES.flatMap((f) => f.names)).toEqual(names());
    expect(names()).toEqual(['synth', 'ls', 'graph', 'diff', 'apply', 'destroy', 'drift', 'ps', 'logs', 'exec', 'watch', 'init', 'import', 'export', 'doctor', 'runtime']);
  });

  test('a command registers its file; --version none; help, no command and unknown commands all', () => {
    expect(names(['apply', '--auto-approve'])).toEqual(['diff', 'apply', 'destroy']);
    expect(names(['runtime', 'ps'])).toEqual(['runtime']);
    expect(names(['--version'])).toEqual([]);
    expect(names(['-V'])).toEqual([]);
    for (const args of [[], ['--help'], ['help'], ['aply']]) expect(names(args)).toHaveLength(16);
  });

  test('the runtime CLI registers only the file of the subcommand run', () => {
    const runtimeNames = (args?: string[]) => buildProgram(args).commands.find((c) => c.name() === 'runtime')!.commands.map((c) => c.name());
    expect(RUNTIME_COMMAND_FILES.flatMap((f) => f.names)).toEqual(runtimeNames());
    expect(runtimeNames(['runtime', 'run', '--rm', 'busybox'])).toEqual(RUNTIME_COMMAND_FILES.find((f) => f.names.includes('run'))!.names);
    expect(runtimeNames(['runtime', 'build', '.'])).toEqual(['build']);
    for (const args of [['runtime'], ['runtime', '--help'], ['runtime', 'help', 'run'], ['runtime', 'container', 'ls']]) expect(runtimeNames(args)).toEqual(runtimeNames());
  });

  test('the built CLI does not load the runtime CLI for a stack command', () => {
    const loaded = (args: string[]) =>
      JSON.parse(
        execFileSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(ROOT, 'dist', 'lib', 'cli', 'main.js'))}).buildProgram(${JSON.stringify(args)}); console.log(JSON.stringify(Object.keys(require.cache).map((f) => f.slice(${ROOT.length + 1}))))`], { encoding: 'utf8' }),
      ) as string[];
    expect(loaded(['synth'])).toContain('dist/lib/cli/synth.js');
    expect(loaded(['synth'])).not.toContain('dist/lib/cli/runtime/index.js');
    expect(loaded(['runtime'])).toContain('dist/lib/cli/runtime/index.js');
    expect(loaded(['runtime', 'run'])).toContain('dist/lib/cli/runtime/containers.js');
    expect(loaded(['runtime', 'run'])).not.toContain('dist/lib/cli/runtime/images.js');
    expect(loaded(['--version']).filter((f) => f.startsWith('dist/lib/cli/'))).toEqual(['dist/lib/cli/main.js', 'dist/lib/cli/runtime/flags.js']);
  });

  test('the top-level help still lists every command', () => {
    const r = cdkDocker(['--help'], ROOT);
    expect(r.code).toBe(0);
    for (const name of names()) expect(r.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });
});
