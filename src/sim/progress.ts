/**
 * A one-line progress bar on stderr for long sweeps: `label [#####-----] 52% 26/50 eta 12s`. Drawn only when
 * stderr is a terminal, so logs, pipes and CI output stay clean; redrawn at most 10 times a second.
 */
export class Progress {
  private done = 0;
  private lastDraw = 0;
  private readonly started = Date.now();
  private readonly enabled: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = Boolean(stream.isTTY) && total > 0;
  }

  tick(n = 1): void {
    this.done += n;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && this.done < this.total) return;
    this.lastDraw = now;
    const frac = Math.min(1, this.done / this.total);
    const width = 30;
    const filled = Math.round(frac * width);
    const elapsed = (now - this.started) / 1000;
    const eta = frac > 0 ? Math.round((elapsed * (1 - frac)) / frac) : NaN;
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    this.stream.write(
      `\r${this.label} [${bar}] ${Math.round(frac * 100)}% ${this.done}/${this.total} eta ${Number.isFinite(eta) ? `${eta}s` : '?'}\x1b[K`,
    );
  }

  finish(): void {
    if (this.enabled) this.stream.write('\r\x1b[K');
  }
}
