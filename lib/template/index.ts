/**
 * Go's text/template as the Docker CLI's `--format` exposes it: the template language
 * (actions, pipelines, `if`/`with`/`range`/`else`, `break`/`continue`, variables, literals,
 * parenthesised pipelines, trim markers, comments), Go's built-in functions and the ones
 * Docker adds (`json`, `split`, `join`, `title`, `lower`, `upper`, `pad`, `truncate`).
 *
 * `compileTemplate` parses once; the function it returns executes per object. Both throw
 * InvalidArgumentError with Go's message behind Docker's `template parsing error: ` prefix.
 * Not supported: `define`/`template`/`block`, `call`, methods, complex numbers.
 * See README.md for what is implemented and why it is written here.
 */

export { compileTemplate } from './compile';
export { goJson } from './docker';
export { sprintf } from './fmt';
