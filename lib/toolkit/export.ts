import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../core/errors';
import { exportCompose as composeOf } from '../import/export/compose';

export interface ExportComposeOptions {
  /** The stack to export. @default the app's only stack */
  readonly stack?: string;
  /** `-o`: the compose file to write. @default - standard output */
  readonly file?: string;
  /** `-a`: the command that runs the app. @default "app" in cdk-docker.json */
  readonly app?: string;
  /** Where the plans go. @default "output" in cdk-docker.json, else cdk.out */
  readonly plans?: string;
  /** @default process.cwd() */
  readonly dir?: string;
  /** Where the YAML goes when there is no file. @default process.stdout */
  readonly out?: NodeJS.WritableStream;
}

/**
 * `cdk-docker export compose`: synthesizes the app and writes the stack's plan as a compose file
 * (see lib/import/export/compose); returns the warnings (what compose cannot say the same way).
 */
export async function exportCompose(opts: ExportComposeOptions = {}): Promise<{ file?: string; warnings: string[] }> {
  const { synthesize } = await import('./synth');
  const dir = path.resolve(opts.dir ?? process.cwd());
  const { plans } = await synthesize({ dir, app: opts.app, outdir: opts.plans, stacks: opts.stack !== undefined ? [opts.stack] : [] });
  const chosen = opts.stack !== undefined ? plans.filter((p) => p.stack === opts.stack) : plans;
  if (chosen.length === 0) throw new InvalidArgumentError(`the app has no stack ${opts.stack}; its stacks: ${plans.map((p) => p.stack).join(', ') || 'none'}`);
  if (chosen.length > 1) throw new InvalidArgumentError(`the app has ${chosen.length} stacks (${chosen.map((p) => p.stack).join(', ')}); name the one to export`);
  const file = opts.file !== undefined ? path.resolve(dir, opts.file) : undefined;
  const { text, warnings } = composeOf(chosen[0], file !== undefined ? path.dirname(file) : dir);
  if (file !== undefined) {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } else (opts.out ?? process.stdout).write(text);
  return { ...(file !== undefined ? { file } : {}), warnings };
}
