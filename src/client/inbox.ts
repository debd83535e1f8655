/**
 * Received messages waiting for the application: a bounded FIFO that several async iterators share
 * (`LoopixClient.messages()`); stop() ends them all.
 */
export class Inbox<T> {
  private readonly queue: T[] = [];
  private readonly waiters: Array<(r: IteratorResult<T>) => void> = [];
  private closed = false;
  /** Items dropped because the application did not consume them. */
  dropped = 0;

  constructor(private readonly limit: number) {}

  get length(): number {
    return this.queue.length;
  }

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) return waiter({ done: false, value: item });
    this.queue.push(item);
    if (this.queue.length > this.limit) {
      this.queue.shift();
      this.dropped++;
    }
  }

  next(): Promise<IteratorResult<T>> {
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve({ done: false, value: m });
    if (this.closed) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  iterable(): AsyncIterable<T> {
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<T> => ({
        next: () => this.next(),
        return: async () => ({ done: true, value: undefined }),
      }),
    };
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w({ done: true, value: undefined });
  }
}
