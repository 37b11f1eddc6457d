import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * What the constructs of this copy of cdk-docker can express, read from their own declarations
 * (the `.d.ts` of an installed package, the `.ts` of a checkout), so that the importer writes a
 * prop only where the library it generates for has it and reports the rest as not imported.
 */
export interface Features {
  /** Names of ContainerProps fields. */
  readonly container: ReadonlySet<string>;
  /** Names of PortOptions fields. */
  readonly port: ReadonlySet<string>;
  /** Names of NetworkProps fields. */
  readonly network: ReadonlySet<string>;
  /** Names of DeployOptions fields (empty without lib/constructs/deploy). */
  readonly deploy: ReadonlySet<string>;
  /** Whether the Config construct exists. */
  readonly config: boolean;
  /** Whether networkMode accepts a container. */
  readonly networkModeContainer: boolean;
  /** Whether command and entrypoint accept a string (split as Compose splits it). */
  readonly commandString: boolean;
  /** Whether a dependsOn entry takes `restart`. */
  readonly dependsOnRestart: boolean;
}

let cached: Features | undefined;

export function features(): Features {
  if (cached) return cached;
  const constructs = path.join(__dirname, '..', '..', 'constructs');
  const read = (name: string): string => {
    for (const ext of ['.d.ts', '.ts']) {
      const f = path.join(constructs, name + ext);
      if (fs.existsSync(f)) return fs.readFileSync(f, 'utf8');
    }
    return '';
  };
  const fields = (text: string, iface: string): Set<string> => {
    const start = text.search(new RegExp(`export interface ${iface}\\b[^{]*\\{`));
    if (start < 0) return new Set();
    let depth = 0;
    let i = text.indexOf('{', start);
    const begin = i;
    for (; i < text.length; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}' && --depth === 0) break;
    }
    const body = text.slice(begin + 1, i);
    // Only fields at the interface's own level: drop nested braces first.
    let flat = body;
    for (let prev = ''; prev !== flat; ) {
      prev = flat;
      flat = flat.replace(/\{[^{}]*\}/g, '');
    }
    return new Set([...flat.matchAll(/readonly\s+([A-Za-z_$][A-Za-z0-9_$]*)\??\s*:/g)].map((m) => m[1]));
  };
  const container = read('container');
  const containerFields = fields(container, 'ContainerProps');
  const networkModeLine = /readonly networkMode\?:([^;]*);/.exec(container)?.[1] ?? '';
  cached = {
    container: containerFields,
    port: fields(read(path.join('private', 'ports')), 'PortOptions'),
    network: fields(read('network'), 'NetworkProps'),
    deploy: fields(read('deploy'), 'DeployOptions'),
    config: /export declare class Config\b|export class Config\b/.test(read('config')),
    networkModeContainer: networkModeLine.includes('IContainer'),
    commandString: /\|\s*string\b/.test(/readonly command\?:([^;]*);/.exec(container)?.[1] ?? ''),
    dependsOnRestart: fields(container, 'ContainerDependencyOptions').has('restart'),
  };
  return cached;
}
