import type { Driver } from './types';

/** The last `lines` lines of a container's output as text, each ending in a newline (for messages). */
export async function lastOutput(driver: Pick<Driver, 'logs'>, nameOrId: string, lines: number): Promise<string> {
  let out = '';
  await driver.logs(nameOrId, { tail: lines }, (l) => {
    out += l.text.endsWith('\n') ? l.text : `${l.text}\n`;
  });
  return out;
}
