const SECRET_SYMBOL = Symbol.for('cdk-docker.Secret');

/**
 * A value that must never appear in clear in a plan, a diff, a log or a label. The plan holds
 * where to read it at apply time and an HMAC to detect changes.
 */
export class Secret {
  /** Read from the environment variable `name` (at synth for the HMAC, at apply for the value). */
  public static fromEnv(name: string): Secret {
    return new Secret('env', name);
  }

  /** Read from the file at `path` (relative to the app's directory). Trailing newlines are kept. */
  public static fromFile(path: string): Secret {
    return new Secret('file', path);
  }

  /** True when `x` is a Secret, even from another copy of this library. */
  public static isSecret(x: unknown): x is Secret {
    return x !== null && typeof x === 'object' && SECRET_SYMBOL in x;
  }

  private constructor(
    /** Where the value comes from. */
    public readonly source: 'env' | 'file',
    /** The environment variable name or the file path. */
    public readonly from: string,
  ) {
    Object.defineProperty(this, SECRET_SYMBOL, { value: true });
  }

  /**
   * The secret's name, the file name it gets under /run/secrets when mounted without a target:
   * the file's base name (`Secret.fromFile`), or the variable's name (`Secret.fromEnv`).
   */
  public get name(): string {
    if (this.source === 'env') return this.from;
    const parts = this.from.split(/[\\/]/).filter((x) => x !== '');
    return parts[parts.length - 1] ?? this.from;
  }

  public toString(): string {
    return this.source === 'env' ? `Secret.fromEnv(${this.from})` : `Secret.fromFile(${this.from})`;
  }

  public toJSON(): string {
    return this.toString();
  }
}
