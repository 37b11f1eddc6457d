import { IConstruct } from 'constructs';
import { InvalidArgumentError } from '../../core/errors';
import { isOwnLabel } from '../../core/labels';
import { suggestName } from '../../core/names';
import { Stack } from '../stack';
import { at } from './resource';

/** `<stack>-<path with "/" as "-">`, the default name of containers, networks and volumes. */
export function defaultName(c: IConstruct): string {
  const stack = Stack.of(c);
  return suggestName(`${stack.stackName}-${stack.relativePath(c).replace(/\//g, '-')}`);
}

/** Labels may not use the reserved prefix or contain "=" in keys. */
export function checkLabels(scope: IConstruct, labels: { readonly [k: string]: string } | undefined): void {
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (isOwnLabel(k)) {
      throw new InvalidArgumentError(at(scope, `label "${k}" uses the prefix "io.cdk-docker.", which cdk-docker reserves for its own labels; choose another key`));
    }
    if (k === '' || /[=\s]/.test(k)) throw new InvalidArgumentError(at(scope, `label key "${k}" must be non-empty without "=" or whitespace`));
    if (typeof v !== 'string') throw new InvalidArgumentError(at(scope, `label "${k}" must have a string value, got ${typeof v}`));
  }
}
