/**
 * Loaded with `node --require` into a child process that runs a TypeScript app (see ./ts-app):
 * installs ./ts-hooks for the project the app starts in. It sets nothing in the app's
 * environment: the project is the working directory, the output directory CDK_DOCKER_OUTDIR.
 */
import * as path from 'node:path';
import { installTsHooks } from './ts-hooks';

installTsHooks(process.cwd(), process.env.CDK_DOCKER_OUTDIR ?? path.join(process.cwd(), 'cdk.out'));
