import { InvalidArgumentError } from './errors';

/**
 * Splits a command string into words as Compose does for a string `command` or `entrypoint`
 * (POSIX shell words, Python's `shlex.split`): blanks separate words; single quotes keep
 * everything literally; double quotes keep everything but `\"`, `\\`, `\$`, `` \` `` and a
 * backslash-newline; a backslash outside quotes keeps the next character. No shell runs: no
 * expansion, no globbing, no operators. An unclosed quote throws, naming `what` and the text.
 */
export function shellSplit(s: string, what = 'command'): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "'") {
      const j = s.indexOf("'", i + 1);
      if (j < 0) throw new InvalidArgumentError(`${what} ${JSON.stringify(s)} has an unclosed single quote; close it`);
      cur += s.slice(i + 1, j);
      i = j;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && j + 1 < s.length && '"\\$`\n'.includes(s[j + 1])) {
          j++;
          if (s[j] !== '\n') cur += s[j];
        } else cur += s[j];
      }
      if (j >= s.length) throw new InvalidArgumentError(`${what} ${JSON.stringify(s)} has an unclosed double quote; close it`);
      i = j;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      i++;
      if (s[i] !== '\n') cur += s[i];
      inWord = true;
    } else if (c === '\\') {
      throw new InvalidArgumentError(`${what} ${JSON.stringify(s)} ends with a lone backslash; remove it or escape it as \\\\`);
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}
