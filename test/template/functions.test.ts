import { render } from './fixture';

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

  test('html, js and urlquery escape as Go', () => {
    expect(render(`{{html "<a href='x'>&\\""}}`)).toBe('&lt;a href=&#39;x&#39;&gt;&amp;&#34;');
    expect(render(`{{js "it's <b>=\\\\"}}`)).toBe("it\\'s \\u003Cb\\u003E\\u003D\\\\");
    expect(render('{{urlquery "a b&c=d/é~"}}')).toBe('a+b%26c%3Dd%2F%C3%A9~');
  });
});
