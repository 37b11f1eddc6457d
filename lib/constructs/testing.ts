import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Plan } from '../plan/types';
import { validatePlan } from '../plan/validate';
import { App, AppProps } from './app';
import { Stack } from './stack';

/** Helpers for users' unit tests of their stacks. */
export class Testing {
  /**
   * An App whose outdir is a fresh temporary path (unless `props.outdir` is given), made only
   * when the app writes there (`app.synth()`): `Testing.synth` writes nothing, so leaves nothing.
   */
  public static app(props: AppProps = {}): App {
    return new App({ ...props, outdir: props.outdir ?? path.join(os.tmpdir(), `cdk-docker-test-${randomUUID()}`) });
  }

  /**
   * The validated plan of `stack`, without writing anything. Throws ValidationError (with
   * every problem of the app) as `synth` would.
   */
  public static synth(stack: Stack): Plan {
    const app = stack.node.root;
    if (!App.isApp(app)) throw new Error(`stack ${stack.node.path} is not in an App`);
    return validatePlan(app._render([stack])[stack.stackName], `plan of stack ${stack.stackName}`);
  }
}
