import { humanSize } from '../util/units';
/**
 * Pull/push progress: on a TTY one live line per layer (`<id>: Downloading 1.2MB/3.4MB`),
 * redrawn in place; otherwise plain lines for each status change, which read well in CI logs.
 */
/** What a pull reports to: a display (Progress) or any sink of the same three calls (the built-in driver's). */
export type ProgressSink = Pick<Progress, 'line' | 'layer' | 'bytes'>;

export class Progress {
  /** Prints nothing. */
  public static silent(): Progress {
    return new Progress(undefined, false);
  }

  /** Writes to `out`, live when it is a TTY. */
  public static to(out: NodeJS.WriteStream): Progress {
    return new Progress(out, Boolean(out.isTTY));
  }

  private readonly rows: string[] = [];
  private readonly text = new Map<string, string>();
  private drawn = 0;
  private lastDraw = 0;

  private constructor(private readonly out: NodeJS.WritableStream | undefined, private readonly live: boolean) {}

  /** A line that is not about one layer; on a TTY the layers drawn so far stay as they are, above it. */
  public line(message: string): void {
    if (!this.out) return;
    if (this.live && this.rows.length > 0) {
      this.redraw(true);
      this.rows.length = 0;
      this.text.clear();
      this.drawn = 0;
    }
    this.out.write(`${message}\n`);
  }

  /** A layer's status changed; a `liveOnly` status (one that progress bars follow) is not logged as a line. */
  public layer(id: string, status: string, opts: { liveOnly?: boolean } = {}): void {
    if (!this.out) return;
    if (!this.live) {
      if (opts.liveOnly) return;
      this.out.write(`${id}: ${status}\n`);
      return;
    }
    if (!this.text.has(id)) this.rows.push(id);
    this.text.set(id, status);
    this.redraw(true);
  }

  /** Bytes moved for a layer (shown live only). */
  public bytes(id: string, done: number, total: number): void {
    if (!this.out || !this.live) return;
    if (!this.text.has(id)) this.rows.push(id);
    this.text.set(id, `Downloading ${humanSize(done)}/${humanSize(total)}`);
    this.redraw();
  }

  /** Redraws the layer rows in place (at most every 100 ms unless `force`). */
  private redraw(force = false): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const id of this.rows) s += `\x1b[2K${id}: ${this.text.get(id)}\n`;
    this.drawn = this.rows.length;
    this.out!.write(s);
  }
}
