import * as path from 'node:path';
import { Testing } from 'cdk-docker';
import { {{stackClass}} } from './main';

/** The plan with its host paths (build contexts, bind mounts, env and secret files) relative to this project. */
function portable(plan: unknown): unknown {
  const hostPathKeys = ['context', 'source', 'path', 'from', 'file'];
  return JSON.parse(JSON.stringify(plan), (key: string, value: unknown) =>
    hostPathKeys.includes(key) && typeof value === 'string' && path.isAbsolute(value) ? path.relative(__dirname, value) || '.' : value,
  );
}

test('the stack synthesizes to the plan in the snapshot', () => {
  const app = Testing.app({ baseDir: __dirname });
  const plan = Testing.synth(new {{stackClass}}(app, '{{name}}'));
  expect(portable(plan)).toMatchSnapshot();
});
