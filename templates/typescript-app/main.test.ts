import { Testing } from 'cdk-docker';
import { {{stackClass}} } from './main';

test('the stack synthesizes to the plan in the snapshot', () => {
  const app = Testing.app({ baseDir: __dirname });
  const plan = Testing.synth(new {{stackClass}}(app, '{{name}}'));
  // Paths in the plan are absolute: the snapshot keeps them relative to this project.
  expect(JSON.parse(JSON.stringify(plan).split(__dirname).join('<project>'))).toMatchSnapshot();
});
