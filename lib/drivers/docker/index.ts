/**
 * The Docker Engine: its API client (./client), endpoint resolution (./endpoint), registry
 * credentials (./auth), stream formats (./stream) and errors (./errors).
 */
export * from './auth';
export * from './client';
export * from './endpoint';
export * from './errors';
export * from './stream';
