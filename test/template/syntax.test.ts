import { compileTemplate } from '../../lib/template';
import { render } from './fixture';

describe('syntax', () => {
  test('literals: strings with escapes, raw strings, characters, numbers, booleans', () => {
    expect(render('{{"a\\tb\\u00e9\\x41\\101"}}|{{`raw\\n`}}|{{\'a\'}}|{{0x1F}}|{{1_000}}|{{-3}}|{{1.5}}|{{1e3}}|{{017}}|{{true}}')).toBe('a\tbéAA|raw\\n|97|31|1000|-3|1.5|1000|15|true');
  });

  test('trim markers remove the whitespace beside the action; {{-3}} is a number', () => {
    expect(render('a  \n {{- .Os -}} \n  b')).toBe('alinuxb');
    expect(render('{{-3}} {{3 -}}  x')).toBe('-3 3x');
    expect(render('{{range .RepoTags -}}\n  {{.}}\n{{- end}}')).toBe('nginx:1.25nginx:latest');
  });

  test('comments print nothing, with or without trim markers', () => {
    expect(render('a{{/* one */}}b {{- /* two\nlines */ -}} c')).toBe('abc');
  });

  test('variables: declared, assigned, scoped to their block', () => {
    expect(render('{{$x := .Os}}{{$x}} {{$x = "other"}}{{$x}}')).toBe('linux other');
    expect(render('{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}} {{$y := 1}}{{if true}}{{$y := 2}}{{$y}}{{end}}{{$y}}')).toBe('2 21');
    expect(render('{{$n := .NetworkSettings.Networks}}{{$n.front.IPAddress}} {{$.State.Status}}')).toBe('10.89.1.2 exited');
  });

  test('parenthesised pipelines as arguments, and spaces and newlines inside actions', () => {
    expect(render('{{printf "%s/%d" (upper .Os) (len .RepoTags)}}')).toBe('LINUX/2');
    expect(render('{{ if\n  eq .Os "linux" }}yes{{ end }}')).toBe('yes');
  });

  test('compiled once, run for each object', () => {
    const t = compileTemplate('{{.Name}}:{{len .Tags}}');
    expect([{ Name: 'a', Tags: [] }, { Name: 'b', Tags: [1, 2] }].map(t)).toEqual(['a:0', 'b:2']);
  });
});
