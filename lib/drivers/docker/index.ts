/** The Docker Engine: its API client (./client), endpoint resolution (./endpoint), stream formats (./stream) and errors (./errors). */
export * from './client';
export * from './endpoint';
export * from './errors';
export * from './stream';
