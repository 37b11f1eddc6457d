export * from './constructs';
export * as plan from './plan';
export { CdkDockerError, InvalidArgumentError, NotFoundError, ConflictError, PlanValidationError, ValidationError } from './core/errors';
