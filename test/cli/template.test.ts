import { renderTemplate } from '../../lib/cli/runtime/format';

/** The `--format` seam: the runtime commands render through lib/template (tested in test/template). */
test('runtime --format renders Go templates, a missing key as <no value>', () => {
  expect(renderTemplate('{{.Name}} {{.Nope}}', { Name: 'x' })).toBe('x <no value>');
});
