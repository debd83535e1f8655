/** Waiting for things that arrive by event (datagrams at a test socket): woken on each arrival, no polling. */
export class Arrivals {
  private waiters: (() => void)[] = [];

  /** Call on every arrival. */
  notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `count()` reaches `n`; rejects after `timeoutMs` with `failure()` as the message. */
  async until(count: () => number, n: number, timeoutMs: number, failure: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (count() < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(failure());
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
