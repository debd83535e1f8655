/**
 * The λP buffer (Loopix §3.2): what the payload stream sends instead of a drop cover packet, oldest first.
 * `flushed()` waits until it is empty.
 */
export class SendQueue<T> {
  private readonly items: T[] = [];
  private readonly flushWaiters: Array<() => void> = [];

  get length(): number {
    return this.items.length;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Puts an item back at the head (it could not be sent this time). */
  unshift(item: T): void {
    this.items.unshift(item);
  }

  shift(): T | undefined {
    const item = this.items.shift();
    if (item !== undefined && this.items.length === 0) this.notifyFlushed();
    return item;
  }

  /** Removes every item `drop` returns true for (e.g. the fragments of a message that was acknowledged). */
  remove(drop: (item: T) => boolean): number {
    let n = 0;
    for (let i = this.items.length - 1; i >= 0; i--) {
      if (drop(this.items[i]!)) {
        this.items.splice(i, 1);
        n++;
      }
    }
    if (n > 0 && this.items.length === 0) this.notifyFlushed();
    return n;
  }

  /** Resolves when the buffer is empty; rejects after `timeoutMs` with what is left. */
  flushed(timeoutMs?: number): Promise<void> {
    if (this.items.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const i = this.flushWaiters.indexOf(done);
          if (i >= 0) this.flushWaiters.splice(i, 1);
          reject(new Error(`send buffer not empty after ${timeoutMs} ms (${this.items.length} items left)`));
        }, timeoutMs);
      }
      this.flushWaiters.push(done);
    });
  }

  /** Ends every flushed() wait (the client stopped). */
  release(): void {
    this.notifyFlushed();
  }

  private notifyFlushed(): void {
    for (const w of this.flushWaiters.splice(0)) w();
  }
}
