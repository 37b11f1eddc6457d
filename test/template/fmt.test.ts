import { sprintf } from '../../lib/template';

describe('fmt.Sprintf', () => {
  test('printf verbs, flags, widths and Go\'s error notes', () => {
    expect(sprintf('%-6s|%6s|%06d|%+d|%x|%X|%#x|%o|%b|%c|%U|%t', ['ab', 'ab', 42, 5, 255, 255, 255, 8, 5, 65, 65, true])).toBe('ab    |    ab|000042|+5|ff|FF|0xff|10|101|A|U+0041|true');
    expect(sprintf('%e|%g|%.3g|%8.3f|%.2s|%q|%x|%5.1f%%|%T|%v', [1234.5678, 1234.5678, 1234.5678, 3.14159, 'abc', 'a"b\n', 'hi', 99.5, 'x', { b: 1, a: [2] }])).toBe(
      '1.234568e+03|1234.5678|1.23e+03|   3.142|ab|"a\\"b\\n"|6869| 99.5%|string|map[a:[2] b:1]',
    );
    expect(sprintf('%d|%s|%d|%!|%d', ['x', 5, 1.5])).toBe('%!d(string=x)|%!s(int=5)|%!d(float64=1.5)|%!!(MISSING)|%!d(MISSING)');
    expect(sprintf('%d', [1, 'two', null])).toBe('1%!(EXTRA string=two, <nil>)');
    expect(sprintf('%s %q', [['a', 'b'], ['a', 'b']])).toBe('[a b] ["a" "b"]');
  });
});
