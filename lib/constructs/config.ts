import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../core/errors';

const CONFIG_SYMBOL = Symbol.for('cdk-docker.Config');

/** The largest text `Config.fromString` takes (1 MiB), as the plan carries it. */
export const MAX_CONFIG_STRING_BYTES = 1024 * 1024;

/**
 * A configuration file's content, mounted read-only into containers (compose `configs:`): a
 * host file (`Config.fromFile`) or text (`Config.fromString`). Its content is hashed into the
 * spec, so changing it replaces the containers that mount it.
 *
 * @see https://docs.docker.com/reference/compose-file/configs/
 */
export class Config {
  /** The content of the file at `path` (relative to the app's directory), hashed at synth and read at apply. */
  public static fromFile(path: string): Config {
    if (typeof path !== 'string' || path === '' || path.includes('\0')) {
      throw new InvalidArgumentError(`Config.fromFile(${JSON.stringify(path)}): give the path of a file, relative to the app's directory`);
    }
    return new Config('file', path);
  }

  /** The text itself (at most 1 MiB, in UTF-8); it appears in the plan. Use a Secret for anything secret. */
  public static fromString(text: string): Config {
    if (typeof text !== 'string') throw new InvalidArgumentError(`Config.fromString() takes a string, got ${typeof text}; convert it with String() or JSON.stringify()`);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_CONFIG_STRING_BYTES) {
      throw new InvalidArgumentError(`Config.fromString(): the text is ${bytes} bytes, more than ${MAX_CONFIG_STRING_BYTES} (1 MiB); put it in a file and use Config.fromFile()`);
    }
    return new Config('string', text);
  }

  /** True when `x` is a Config, even from another copy of this library. */
  public static isConfig(x: unknown): x is Config {
    return x !== null && typeof x === 'object' && CONFIG_SYMBOL in x;
  }

  private constructor(
    /** Where the content comes from. */
    public readonly source: 'file' | 'string',
    /** The file path (`file`) or the text (`string`). */
    private readonly value: string,
  ) {
    Object.defineProperty(this, CONFIG_SYMBOL, { value: true });
  }

  /** The file path, for `Config.fromFile`. */
  public get path(): string | undefined {
    return this.source === 'file' ? this.value : undefined;
  }

  /** The text, for `Config.fromString`. */
  public get text(): string | undefined {
    return this.source === 'string' ? this.value : undefined;
  }

  /** `sha256:…` of the text (`Config.fromString` only: a file is hashed at synth, by the App). @internal */
  public _textHash(): string | undefined {
    return this.source === 'string' ? `sha256:${createHash('sha256').update(this.value, 'utf8').digest('hex')}` : undefined;
  }

  public toString(): string {
    return this.source === 'file' ? `Config.fromFile(${this.value})` : `Config.fromString(${Buffer.byteLength(this.value, 'utf8')} bytes)`;
  }

  public toJSON(): string {
    return this.toString();
  }
}
