/** Go's fmt.Sprintf and fmt.Sprint over JSON-like values. */

import { formatNumber, formatV, goQuote, isMap, typeName } from './values';

interface Flags { minus: boolean; plus: boolean; sharp: boolean; space: boolean; zero: boolean; width?: number; prec?: number }

function pad(s: string, f: Flags, numeric = false): string {
  if (f.width === undefined || [...s].length >= f.width) return s;
  const fill = f.width - [...s].length;
  if (f.minus) return s + ' '.repeat(fill);
  if (f.zero) {
    const sign = numeric && /^[+\- ]/.test(s) ? s[0] : '';
    return sign + '0'.repeat(fill) + s.slice(sign.length);
  }
  return ' '.repeat(fill) + s;
}

function fmtInt(n: number, verb: string, f: Flags): string | undefined {
  const sign = n < 0 ? '-' : f.plus ? '+' : f.space ? ' ' : '';
  const a = Math.abs(n);
  switch (verb) {
    case 'v': case 'd': return sign + a.toFixed(0);
    case 'x': return sign + (f.sharp ? '0x' : '') + a.toString(16);
    case 'X': return sign + (f.sharp ? '0X' : '') + a.toString(16).toUpperCase();
    case 'o': return sign + (f.sharp ? '0' : '') + a.toString(8);
    case 'O': return `${sign}0o${a.toString(8)}`;
    case 'b': return sign + a.toString(2);
    case 'c': return String.fromCodePoint(n);
    case 'q': return `'${goQuote(String.fromCodePoint(n)).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
    case 'U': return `U+${n.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return undefined;
}

function fmtFloat(n: number, verb: string, f: Flags): string | undefined {
  const sign = n < 0 || Object.is(n, -0) ? '-' : f.plus ? '+' : f.space ? ' ' : '';
  const a = Math.abs(n);
  const expo = (s: string) => s.replace(/e([+-])(\d)$/, 'e$10$2');
  let s: string;
  switch (verb.toLowerCase()) {
    case 'v': s = formatNumber(a); break;
    case 'f': s = a.toFixed(f.prec ?? 6); break;
    case 'e': s = expo(a.toExponential(f.prec ?? 6)); break;
    case 'g': {
      if (f.prec === undefined) {
        s = formatNumber(a);
        break;
      }
      const p = Math.max(f.prec, 1);
      const exp = Number(a.toExponential(p - 1).split('e')[1]);
      s = exp < -4 || exp >= p ? expo(a.toExponential(p - 1).replace(/\.?0+e/, 'e')) : String(Number(a.toPrecision(p)));
      break;
    }
    default: return undefined;
  }
  return sign + (verb === 'E' || verb === 'G' ? s.toUpperCase() : s);
}

/** One operand of Sprintf; undefined for a verb that does not suit the value. */
function fmtArg(v: unknown, verb: string, f: Flags): string | undefined {
  if (verb === 'T') return pad(typeName(v), f);
  if (v === undefined || v === null) return verb === 'v' ? pad('<nil>', f) : undefined;
  if (typeof v === 'boolean') return verb === 'v' || verb === 't' ? pad(String(v), f) : undefined;
  if (typeof v === 'number') {
    const s = Number.isInteger(v) && !'eEfFgG'.includes(verb) ? fmtInt(v, verb, f) : fmtFloat(v, verb, f);
    return s === undefined ? undefined : pad(s, f, true);
  }
  if (typeof v === 'string') {
    const t = f.prec !== undefined ? [...v].slice(0, f.prec).join('') : v;
    if (verb === 'v' || verb === 's') return pad(t, f);
    if (verb === 'q') return pad(goQuote(t), f);
    if (verb === 'x' || verb === 'X') {
      const hex = Buffer.from(t, 'utf8').toString('hex');
      return pad(verb === 'X' ? hex.toUpperCase() : hex, f);
    }
    return undefined;
  }
  const item = (x: unknown) => fmtArg(x, verb, f) ?? badVerb(x, verb);
  if (Array.isArray(v)) return `[${v.map(item).join(' ')}]`;
  if (isMap(v)) return `map[${Object.keys(v).sort().map((k) => `${item(k)}:${item(v[k])}`).join(' ')}]`;
  return undefined;
}

const badVerb = (v: unknown, verb: string) => (v === undefined || v === null ? `%!${verb}(<nil>)` : `%!${verb}(${typeName(v)}=${formatV(v)})`);

/** fmt.Sprintf for the verbs %v %s %q %d %t %x %X %o %b %c %U %e %f %g (and %T), flags, width, precision. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let a = 0;
  for (let i = 0; i < format.length;) {
    if (format[i] !== '%') {
      out += format[i++];
      continue;
    }
    i++;
    const f: Flags = { minus: false, plus: false, sharp: false, space: false, zero: false };
    for (; i < format.length && '-+# 0'.includes(format[i]); i++) {
      const c = format[i];
      if (c === '-') f.minus = true; else if (c === '+') f.plus = true; else if (c === '#') f.sharp = true; else if (c === ' ') f.space = true; else f.zero = true;
    }
    const num = (): number | undefined => {
      if (format[i] === '*') {
        i++;
        const n = args[a++];
        return typeof n === 'number' && Number.isInteger(n) ? n : undefined;
      }
      const m = /^\d+/.exec(format.slice(i));
      if (!m) return undefined;
      i += m[0].length;
      return Number(m[0]);
    };
    f.width = num();
    if (f.width !== undefined && f.width < 0) [f.minus, f.width] = [true, -f.width];
    if (format[i] === '.') {
      i++;
      f.prec = num() ?? 0;
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (a >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const v = args[a++];
    out += fmtArg(v, verb, f) ?? badVerb(v, verb);
  }
  if (a < args.length) out += `%!(EXTRA ${args.slice(a).map((v) => (v === undefined || v === null ? '<nil>' : `${typeName(v)}=${formatV(v)}`)).join(', ')})`;
  return out;
}

/** fmt.Sprint: operands joined, with a space between two when neither is a string. */
export function sprint(args: unknown[]): string {
  return args.map((v, i) => (i > 0 && typeof v !== 'string' && typeof args[i - 1] !== 'string' ? ' ' : '') + formatV(v)).join('');
}
