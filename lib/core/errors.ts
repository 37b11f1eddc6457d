/**
 * Typed errors. Callers test the class (or `code`), never the message text.
 */
export class CdkDockerError extends Error {
  public readonly code: string = 'ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input from the user: a prop, a flag, a file. The message names the thing and the fix. */
export class InvalidArgumentError extends CdkDockerError {
  public override readonly code = 'INVALID_ARGUMENT';
}

/** Something named does not exist. */
export class NotFoundError extends CdkDockerError {
  public override readonly code = 'NOT_FOUND';
}

/** The request conflicts with existing state (a name in use, a lock held). */
export class ConflictError extends CdkDockerError {
  public override readonly code = 'CONFLICT';
}

/** A plan file does not match the schema. `problems` lists `path: expectation` lines. */
export class PlanValidationError extends CdkDockerError {
  public override readonly code = 'INVALID_PLAN';
  constructor(public readonly source: string, public readonly problems: string[]) {
    super(`${source} is not a valid cdk-docker plan:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Validation errors gathered from the construct tree at synth, one line per problem. */
export class ValidationError extends CdkDockerError {
  public override readonly code = 'VALIDATION';
  constructor(public readonly problems: string[]) {
    super(`Validation failed with the following errors:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}
