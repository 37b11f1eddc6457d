import { ago } from '../../lib/cli/runtime/format';

/** `CREATED` as Docker prints it (docker/go-units HumanDuration). */
test.each([
  [0.5, 'Less than a second ago'],
  [1, '1 second ago'],
  [59, '59 seconds ago'],
  [60, 'About a minute ago'],
  [119, 'About a minute ago'],
  [120, '2 minutes ago'],
  [3599, '59 minutes ago'],
  [3600, 'About an hour ago'],
  [89 * 60, 'About an hour ago'],
  [90 * 60, '2 hours ago'],
  [47 * 3600, '47 hours ago'],
  [47.6 * 3600, '2 days ago'],
  [13 * 86400, '13 days ago'],
  [14 * 86400, '2 weeks ago'],
  [60 * 86400, '2 months ago'],
  [2 * 365 * 86400, '2 years ago'],
])('%d seconds old reads "%s"', (seconds, text) => {
  const now = Date.parse('2026-12-04T12:00:00Z');
  expect(ago(new Date(now - seconds * 1000).toISOString(), now)).toBe(text);
});
