import { renderTemplate } from '../../lib/cli/runtime/format';
import { compileTemplate, sprintf } from '../../lib/cli/runtime/template';
import { InvalidArgumentError } from '../../lib/core/errors';

/**
 * `--format` templates against the strings Go's text/template (with Docker's functions)
 * prints for the same data decoded from JSON. Where the data's Go type matters, the comment
 * says which one Docker's typed structs give.
 */
const container = {
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
const render = (t: string, data: unknown = container) => compileTemplate(t)(data);
const failure = (t: string, data: unknown = container): string => {
  try {
    render(t, data);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return (e as Error).message;
  }
  throw new Error(`${t} rendered`);
};

describe('fields and printing', () => {
  test('fields read map keys, chained', () => {
    expect(render('{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{.State.Running}}')).toBe('/shop-web-1 exited 137 false');
  });

  test('a missing key and a null value print <no value>; nil inside fmt prints <nil>', () => {
    expect(render('{{.Nope}} {{.Nope.Deeper}} {{.State.Health}} {{.State.Health.Status}}')).toBe('<no value> <no value> <no value> <no value>');
    expect(render('{{print .Nope}} {{printf "%v|%s" .State.Health .Nope}} {{json .Nope}}')).toBe('<nil> <nil>|%!s(<nil>) null');
  });

  test('maps print with sorted keys, slices space-separated, nested values in the same form', () => {
    expect(render('{{.Config.Labels}}')).toBe('map[app:shop com.example.tier:web]');
    expect(render('{{.RepoTags}} {{.Mounts}} {{.Config.Cmd}}')).toBe('[nginx:1.25 nginx:latest] [] [nginx -g daemon off;]');
    expect(render('{{.NetworkSettings.Ports}}')).toBe('map[443/tcp:<nil> 80/tcp:[map[HostIp:0.0.0.0 HostPort:8080]]]');
    expect(render('{{.}}', { b: [1, true, null], a: {} })).toBe('map[a:map[] b:[1 true <nil>]]');
  });

  test('integral numbers print as ints, others as Go prints a float64', () => {
    // Docker's Size is an int64: 1000000, where a float64 would print 1e+06.
    expect(render('{{.Size}} {{.Ratio}} {{.F}} {{.G}}', { ...container, F: 2.5, G: 1234567.5 })).toBe('1000000 1e-05 2.5 1.2345675e+06');
  });

  test('dot and $ are the object; $ stays the root inside range and with', () => {
    expect(render('{{.}}', 'x')).toBe('x');
    expect(render('{{range .RepoTags}}{{$.Os}}:{{.}} {{end}}{{with .State}}{{$.Name}}{{end}}')).toBe('linux:nginx:1.25 linux:nginx:latest /shop-web-1');
  });
});

describe('range', () => {
  test('over a slice: dot is the element, or $i, $e := index and element', () => {
    expect(render('{{range .RepoTags}}[{{.}}]{{end}}')).toBe('[nginx:1.25][nginx:latest]');
    expect(render('{{range $i, $t := .RepoTags}}{{if $i}},{{end}}{{$i}}={{$t}}{{end}}')).toBe('0=nginx:1.25,1=nginx:latest');
    expect(render('{{range $t := .RepoTags}}{{$t}} {{end}}')).toBe('nginx:1.25 nginx:latest ');
  });

  test('over a map: keys in sorted order', () => {
    expect(render('{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}')).toBe('10.89.0.2 10.89.1.2 ');
    expect(render('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}')).toBe('app=shop com.example.tier=web ');
  });

  test('over nothing runs {{else}} (or nothing); over an int counts', () => {
    expect(render('{{range .Mounts}}m{{else}}no mounts{{end}}|{{range .Nope}}x{{end}}|{{range .Config.Env}}x{{else}}none{{end}}')).toBe('no mounts||none');
    expect(render('{{range 3}}{{.}}{{end}}')).toBe('012');
  });

  test('break and continue', () => {
    const data = { L: ['a', 'b', 'c'] };
    expect(render('{{range .L}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}', data)).toBe('a');
    expect(render('{{range .L}}{{if eq . "b"}}{{continue}}{{end}}{{.}}{{end}}', data)).toBe('ac');
  });
});

describe('index, slice, len', () => {
  test('index of maps and slices, nested, and in a parenthesised chain', () => {
    expect(render('{{index .Config.Labels "com.example.tier"}} {{index .RepoTags 1}}')).toBe('web nginx:latest');
    expect(render('{{(index .NetworkSettings.Ports "80/tcp")}}')).toBe('[map[HostIp:0.0.0.0 HostPort:8080]]');
    expect(render('{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}} {{index .NetworkSettings.Ports "80/tcp" 0 "HostIp"}}')).toBe('8080 0.0.0.0');
  });

  test('index of a missing key is the zero value: "" in a map of strings (Docker\'s map[string]string)', () => {
    expect(render('[{{index .Config.Labels "nope"}}] [{{index .NetworkSettings.Ports "22/tcp"}}]')).toBe('[] [<no value>]');
  });

  test('index of a string is a byte; slice of strings and slices', () => {
    expect(render('{{index "abc" 1}} {{slice "abcdef" 1 3}} {{slice .RepoTags 1}} {{slice "abc"}}')).toBe('98 bc [nginx:latest] abc');
  });

  test('len of slices, maps and strings (bytes); a null slice has none', () => {
    expect(render('{{len .Mounts}} {{len .RepoTags}} {{len .Config.Labels}} {{len "héllo"}} {{len .Config.Env}}')).toBe('0 2 2 6 0');
  });
});

describe('conditions', () => {
  test('if, else, else if, and Go truthiness', () => {
    expect(render('{{if .State.Running}}up{{else}}down{{end}}')).toBe('down');
    expect(render('{{if eq .State.Status "running"}}R{{else if eq .State.Status "exited"}}E{{else}}?{{end}}')).toBe('E');
    const falsy = ['0', '""', '.Mounts', '.Empty', '.Nope', '.State.Health', 'false', '0.0'];
    expect(falsy.map((x) => render(`{{if ${x}}}T{{else}}F{{end}}`, { ...container, Empty: {} })).join('')).toBe('FFFFFFFF');
    const truthy = ['1', '"0"', '.RepoTags', '.Config.Labels', 'true', '-1', '" "'];
    expect(truthy.map((x) => render(`{{if ${x}}}T{{else}}F{{end}}`)).join('')).toBe('TTTTTTT');
  });

  test('with sets dot, runs else when empty, and else with chains', () => {
    expect(render('{{with .State}}{{.Status}}{{end}} {{with .State.Health}}{{.Status}}{{else}}no healthcheck{{end}}')).toBe('exited no healthcheck');
    expect(render('{{with .Nope}}a{{else with .Os}}{{.}}{{end}}')).toBe('linux');
    expect(render('{{with $s := .State.Status}}{{$s}}{{.}}{{end}}')).toBe('exitedexited');
  });

  test('and/or return an operand and short-circuit; not', () => {
    expect(render('{{and 1 0 2}} {{and 1 2}} {{or 0 "" "x"}} {{or 0 ""}} {{not .Mounts}} {{not 1}}')).toBe('0 2 x  true false');
    // The second operand would fail; short-circuit never evaluates it.
    expect(render('{{or .Os (index .Nope 0)}} {{and .Nope (index .Nope 0)}}')).toBe('linux <no value>');
  });

  test('comparisons of numbers, strings and booleans', () => {
    expect(render('{{eq .State.ExitCode 137}} {{eq .State.Status "running" "exited"}} {{ne 1 2}} {{eq true true}}')).toBe('true true true true');
    expect(render('{{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 2 3}} {{lt "a" "b"}} {{gt 1.5 1}}')).toBe('true true false false true true');
    // A missing value equals only another missing one (Go's eq of nil against a value is false).
    expect(render('{{eq .Nope .Nope}} {{eq .Nope "x"}}')).toBe('true false');
  });
});

describe('functions', () => {
  test('Docker\'s json keeps a struct\'s field order, sorts a map\'s keys (Go), and does not escape HTML', () => {
    expect(render('{{json .Config}}')).toBe('{"Labels":{"app":"shop","com.example.tier":"web"},"Cmd":["nginx","-g","daemon off;"],"Env":null}');
    expect(render('{{json .}}', { m: { b: 1, a: { z: 1, Y: 2 } }, Z: 1, A: 2 })).toBe('{"A":2,"Z":1,"m":{"a":{"Y":2,"z":1},"b":1}}');
    expect(render('{{json .}}', { Name: 'x', Id: 'y' })).toBe('{"Name":"x","Id":"y"}'); // Go field names: a struct
    // A map field whose keys look like Go field names is still a map.
    expect(render('{{json .}}', { Config: { Labels: { Zeta: '1', Alpha: '2' }, Cmd: null } })).toBe('{"Config":{"Labels":{"Alpha":"2","Zeta":"1"},"Cmd":null}}');
    expect(render('{{json .}}', { a: '<&>' })).toBe('{"a":"<&>"}');
    expect(render('{{json .RepoTags}} {{.RepoTags | json}} {{json 1}} {{json "s"}}')).toBe('["nginx:1.25","nginx:latest"] ["nginx:1.25","nginx:latest"] 1 "s"');
  });

  test('Docker\'s join, split, upper, lower, title, pad, truncate', () => {
    expect(render('{{join .Config.Cmd " "}}|{{join .Mounts ","}}')).toBe('nginx -g daemon off;|');
    expect(render('{{split .Name "-"}} {{split "a,b,,c" ","}} {{split "ab" ""}} {{len (split .Name "-")}}')).toBe('[/shop web 1] [a b  c] [a b] 3');
    expect(render('{{upper .Os}} {{lower "MiXeD"}} {{title "hello wide-world foo_bar"}}')).toBe('LINUX mixed Hello Wide-World Foo_bar');
    expect(render('[{{pad .Os 1 2}}][{{pad "" 1 2}}] {{truncate .Id 12}} {{truncate "ab" 12}}')).toBe('[ linux  ][] 0123456789ab ab');
  });

  test('pipelines pass the value as the last argument', () => {
    expect(render('{{.Name | printf "%s!"}} {{.Os | upper | printf "%s-%s" "os"}} {{.Os | len}}')).toBe('/shop-web-1! os-LINUX 5');
  });

  test('print, println and printf as fmt', () => {
    expect(render('{{print 1 2 "a" 3 "b" "c"}}')).toBe('1 2a3bc');
    expect(render('{{println .Id}}x{{println "a" 1 .Nope}}')).toBe('0123456789abcdef\nxa 1 <nil>\n');
    expect(render('{{printf "%s:%d" .Os .State.ExitCode}}')).toBe('linux:137');
  });

  test('printf verbs, flags, widths and Go\'s error notes', () => {
    expect(sprintf('%-6s|%6s|%06d|%+d|%x|%X|%#x|%o|%b|%c|%U|%t', ['ab', 'ab', 42, 5, 255, 255, 255, 8, 5, 65, 65, true])).toBe('ab    |    ab|000042|+5|ff|FF|0xff|10|101|A|U+0041|true');
    expect(sprintf('%e|%g|%.3g|%8.3f|%.2s|%q|%x|%5.1f%%|%T|%v', [1234.5678, 1234.5678, 1234.5678, 3.14159, 'abc', 'a"b\n', 'hi', 99.5, 'x', { b: 1, a: [2] }])).toBe(
      '1.234568e+03|1234.5678|1.23e+03|   3.142|ab|"a\\"b\\n"|6869| 99.5%|string|map[a:[2] b:1]',
    );
    expect(sprintf('%d|%s|%d|%!|%d', ['x', 5, 1.5])).toBe('%!d(string=x)|%!s(int=5)|%!d(float64=1.5)|%!!(MISSING)|%!d(MISSING)');
    expect(sprintf('%d', [1, 'two', null])).toBe('1%!(EXTRA string=two, <nil>)');
    expect(sprintf('%s %q', [['a', 'b'], ['a', 'b']])).toBe('[a b] ["a" "b"]');
  });

  test('html, js and urlquery escape as Go', () => {
    expect(render(`{{html "<a href='x'>&\\""}}`)).toBe('&lt;a href=&#39;x&#39;&gt;&amp;&#34;');
    expect(render(`{{js "it's <b>=\\\\"}}`)).toBe("it\\'s \\u003Cb\\u003E\\u003D\\\\");
    expect(render('{{urlquery "a b&c=d/é~"}}')).toBe('a+b%26c%3Dd%2F%C3%A9~');
  });
});

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
    expect(renderTemplate('{{.Name}} {{.Nope}}', { Name: 'x' })).toBe('x <no value>');
  });
});

describe('errors say where the template is wrong', () => {
  test.each([
    ['{{foo .Name}}', 'template: :1: function "foo" not defined'],
    ['x\n{{upper .Os | bar}}', 'template: :2: function "bar" not defined'],
    ['{{.Name', 'template: :1: unclosed action'],
    ['{{if .Name}}x', 'template: :1: unexpected EOF'],
    ['{{end}}', 'template: :1: unexpected {{end}}'],
    ['{{else}}', 'template: :1: unexpected {{else}}'],
    ['{{$x}}', 'template: :1: undefined variable "$x"'],
    ['{{if true}}{{$x := 1}}{{end}}{{$x}}', 'template: :1: undefined variable "$x"'],
    ['{{(.Name}}', 'template: :1: unclosed left paren'],
    ['{{.Name)}}', 'template: :1: unexpected right paren'],
    ['{{"abc}}', 'template: :1: unterminated quoted string'],
    ['{{/* x }}', 'template: :1: unclosed comment'],
    ['{{/* x */ .Name}}', 'template: :1: comment ends before closing delimiter'],
    ['{{.Name @}}', "template: :1: unrecognized character in action: U+0040 '@'"],
    ['{{3x}}', 'template: :1: bad number syntax: "3x"'],
    ['{{break}}', 'template: :1: {{break}} outside {{range}}'],
    ['{{.Name | 3}}', 'template: :1: non executable command in pipeline stage 2'],
    ['{{}}', 'template: :1: missing value for command'],
    ['{{if}}{{end}}', 'template: :1: missing value for if'],
    ['{{printf "%s""x"}}', 'template: :1: unexpected "\\"x\\"" in operand'], // Go quotes the token's text
    ['{{define "x"}}{{end}}', 'template: :1: {{define}} is not supported in --format templates'],
  ])('parsing %j', (t, message) => {
    expect(failure(t)).toBe(`template parsing error: ${message}`);
  });

  test.each([
    ['{{.Name.Foo}}', ':1:2: executing "" at <.Name.Foo>: can\'t evaluate field Foo in type string'],
    ['x\n  {{.State.ExitCode.Foo}}', ':2:4: executing "" at <.State.ExitCode.Foo>: can\'t evaluate field Foo in type int'],
    ['{{range .RepoTags}}{{.Tag}}{{end}}', ':1:21: executing "" at <.Tag>: can\'t evaluate field Tag in type string'],
    ['{{index .RepoTags 5}}', ':1:2: executing "" at <index .RepoTags 5>: error calling index: index out of range: 5'],
    ['{{(index (index .NetworkSettings.Ports "81/tcp") 0).HostPort}}', ':1:3: executing "" at <index (index .Networ...>: error calling index: index of untyped nil'],
    ['{{index .Config.Labels 1}}', ':1:2: executing "" at <index .Config.Labels...>: error calling index: value has type int; should be string'],
    ['{{upper .State.ExitCode}}', ':1:2: executing "" at <upper .State.ExitCod...>: wrong type for value; expected string; got int'],
    ['{{len 3}}', ':1:2: executing "" at <len 3>: error calling len: len of type int'],
    ['{{join .Config.Cmd}}', ':1:2: executing "" at <join .Config.Cmd>: wrong number of args for join: want 2 got 1'],
    ['{{index}}', ':1:2: executing "" at <index>: wrong number of args for index: want at least 1 got 0'],
    ['{{range .Name}}{{.}}{{end}}', ':1:8: executing "" at <{{range .Name}}{{.}}...>: range can\'t iterate over /shop-web-1'],
    ['{{eq .Name 1}}', ':1:2: executing "" at <eq .Name 1>: error calling eq: incompatible types for comparison'],
    ['{{lt true false}}', ':1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison'],
    ['{{.Name 1}}', ':1:2: executing "" at <.Name>: Name is not a method but has arguments'],
    ['{{1 2}}', ':1:2: executing "" at <1>: can\'t give argument to non-function 1'],
    ['{{nil}}', ':1:2: executing "" at <nil>: nil is not a command'],
  ])('executing %j', (t, message) => {
    expect(failure(t)).toBe(`template parsing error: template: ${message}`);
  });

  test('a failure on a later object fails the whole render', () => {
    const t = compileTemplate('{{.A.B}}');
    expect(t({ A: { B: 1 } })).toBe('1');
    expect(() => t({ A: 'x' })).toThrow('can\'t evaluate field B in type string');
  });
});
