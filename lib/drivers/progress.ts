/**
 * What both drivers need to report a build to an ImageProgress: the `Step N/M : …` lines of the
 * output Docker's classic builder writes (the built-in builder writes the same).
 */
import type { ImageProgress } from './types';

/** The longest unfinished line kept (a RUN's `\r` progress bar never ends one). */
const MAX_PARTIAL_LINE = 64 * 1024;

/**
 * A writer for a build's output, in chunks as they come, that gives each `Step N/M : …` line to
 * `progress`; nothing when there is no `progress`. Only the next step counts as one: a RUN that
 * prints `Step 9/9 : …` is not taken for a step.
 */
export function buildStepReporter(progress: ImageProgress | undefined): (text: string) => void {
  let partial = '';
  let step = 0;
  let steps: number | undefined;
  return (text) => {
    if (!progress) return;
    const lines = (partial + text).split('\n');
    partial = lines.pop()!.slice(-MAX_PARTIAL_LINE);
    for (const l of lines) {
      const m = /^Step (\d+)\/(\d+) : /.exec(l);
      if (!m || Number(m[1]) !== step + 1 || (steps !== undefined && Number(m[2]) !== steps)) continue;
      step++;
      steps = Number(m[2]);
      progress.line(l.trimEnd());
    }
  };
}
