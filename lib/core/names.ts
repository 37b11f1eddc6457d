import { InvalidArgumentError } from './errors';

/**
 * The one identifier validator: Docker's rule for container, volume and network names
 * (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`), which also makes every name safe as a path component.
 */
export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
export const NAME_MAX_LENGTH = 128;

/** Returns an error message for `name`, or undefined when it is valid. */
export function checkName(kind: string, name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return `${kind} name must not be empty`;
  if (name.length > NAME_MAX_LENGTH) {
    return `${kind} name "${name}" is ${name.length} characters long; the maximum is ${NAME_MAX_LENGTH}`;
  }
  if (!NAME_PATTERN.test(name)) {
    return `${kind} name "${name}" is not a valid Docker name: use at least two characters, starting with a letter or digit, then letters, digits, "_", "." or "-" (for example "${suggestName(name)}")`;
  }
  return undefined;
}

/** Throws InvalidArgumentError unless `name` is valid. */
export function validateName(kind: string, name: string): string {
  const problem = checkName(kind, name);
  if (problem) throw new InvalidArgumentError(problem);
  return name;
}

/** Turns any string into a valid name (used for defaults derived from construct paths). */
export function suggestName(input: string): string {
  let s = input.replace(/[^a-zA-Z0-9_.-]+/g, '-').replace(/^[^a-zA-Z0-9]+/, '');
  if (s.length === 0) s = 'x';
  if (s.length === 1) s = `${s}0`;
  return s.slice(0, NAME_MAX_LENGTH);
}
