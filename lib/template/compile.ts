/**
 * `compileTemplate`: Go's text/template with Docker's functions, over JSON-like data.
 *
 * The data is JSON-like (objects, arrays, strings, numbers, booleans, null), as the raw JSON
 * Docker falls back to. Objects are Go maps: `.Key` reads a key, a missing key is
 * `<no value>`, maps print as `map[k:v]` with sorted keys and `range` visits keys in order.
 * Where the Docker CLI's typed structs would print differently the typed behaviour is kept,
 * because that is what users of Docker see:
 * - integral numbers are ints (`1000000`, not float64's `1e+06`);
 * - a field of `null` is `<no value>` (a nil map), and `len null` is 0;
 * - `index` of a missing key in a map of strings is `""` (the zero of `map[string]string`).
 */

import { InvalidArgumentError } from '../core/errors';
import { BUILTINS } from './builtins';
import { DOCKER_FUNCS } from './docker';
import { ExecError, Executor } from './exec';
import type { Fn } from './function';
import { lex } from './lexer';
import { Parser } from './parser';

/** The functions of a `--format` template: Go's builtins and Docker's additions. */
const FUNCS: Readonly<Record<string, Fn>> = { ...BUILTINS, ...DOCKER_FUNCS };

/**
 * Parses a Go template once; the returned function renders it for one object. Both throw
 * InvalidArgumentError (`template parsing error: template: :1: …`) for a bad template.
 */
export function compileTemplate(template: string): (data: unknown) => string {
  const nodes = new Parser(template, lex(template), FUNCS).parse();
  return (data) => {
    try {
      return new Executor(template, FUNCS, data).run(nodes, data);
    } catch (e) {
      if (e instanceof ExecError) throw new InvalidArgumentError(`template parsing error: ${e.message}`);
      throw e;
    }
  };
}
