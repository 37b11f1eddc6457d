/**
 * Build step (`npm run build`): writes the plan validator as standalone code,
 * `dist/lib/plan/plan-validator.js`, stamped with the hash of the schema it checks, so that
 * `validatePlan` loads it instead of compiling the schema on every command.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import standaloneCode from 'ajv/dist/standalone';
import { _ } from 'ajv';
import { planAjv, planSchema, planSchemaHash, PRECOMPILED_FILE } from './validate';

/** The validator's source (CommonJS), exporting the validate function and `schemaHash`. */
export function precompiledValidatorSource(): string {
  const ajv = planAjv({ code: { source: true, formats: _`require("ajv-formats/dist/formats").fullFormats` } });
  const code = standaloneCode(ajv, ajv.compile(planSchema()));
  return `${code}\nmodule.exports.schemaHash = ${JSON.stringify(planSchemaHash())};\n`;
}

/** Writes the validator to `dir` (atomically); returns the file. */
export function writePrecompiledValidator(dir: string): string {
  const file = path.join(dir, PRECOMPILED_FILE);
  fs.writeFileSync(`${file}.tmp`, precompiledValidatorSource());
  fs.renameSync(`${file}.tmp`, file);
  return file;
}

if (require.main === module) writePrecompiledValidator(__dirname);
