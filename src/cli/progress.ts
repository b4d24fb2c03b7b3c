/**
 * One status line on a terminal (stderr), rewritten in place and throttled; lines printed through it appear above
 * the status line. Created only when stderr is a TTY, so logs and pipes never see carriage returns.
 */
const REDRAW_MS = 100;

export class StatusLine {
  private text = '';
  private shown = false;
  private last = 0;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  set(text: string, force = false): void {
    this.text = text;
    const now = Date.now();
    if (!force && now - this.last < REDRAW_MS) return;
    this.last = now;
    this.draw();
  }

  /** Prints a whole line above the status line. */
  print(line: string): void {
    this.erase();
    this.stream.write(`${line}\n`);
    if (this.text) this.draw();
  }

  clear(): void {
    this.erase();
    this.text = '';
  }

  private draw(): void {
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    const text = this.text.length > width ? `${this.text.slice(0, width - 1)}…` : this.text;
    this.stream.write(`\r${text}\x1b[K`);
    this.shown = true;
  }

  private erase(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
