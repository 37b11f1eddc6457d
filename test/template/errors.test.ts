import { compileTemplate } from '../../lib/template';
import { failure } from './fixture';

describe('errors say where the template is wrong', () => {
  test.each([
    ['{{foo .Name}}', 'template: :1: function "foo" not defined'],
    ['x\n{{upper .Os | bar}}', 'template: :2: function "bar" not defined'],
    ['{{toString}}', 'template: :1: function "toString" not defined'], // not an Object.prototype member either
    ['{{.Name | constructor}}', 'template: :1: function "constructor" not defined'],
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
