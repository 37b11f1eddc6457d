import type * as TarStream from 'tar-stream';

/** tar-stream, loaded on first use: ~5 ms that a command reading or writing no archive (a diff, a no-op apply) should not pay. */
export const tarStream = (): typeof TarStream => require('tar-stream') as typeof TarStream;

/** A tar entry's header as tar-stream gives and takes it. */
export type TarHeader = TarStream.Header;
