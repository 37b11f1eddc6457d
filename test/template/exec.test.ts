import { container, render } from './fixture';

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
