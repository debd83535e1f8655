/**
 * A binary min-heap of (time, id) pairs in typed arrays: the event queue of the discrete-event simulators.
 * Stores integers ids rather than objects so millions of events cost no garbage.
 */
export class EventHeap {
  private keys: Float64Array;
  private ids: Int32Array;
  private n = 0;

  constructor(capacity = 1024) {
    this.keys = new Float64Array(capacity);
    this.ids = new Int32Array(capacity);
  }

  get size(): number {
    return this.n;
  }

  /** The smallest time in the heap (Infinity when empty). */
  peekTime(): number {
    return this.n > 0 ? this.keys[0]! : Infinity;
  }

  /** The id with the smallest time (undefined behaviour when empty). */
  peekId(): number {
    return this.ids[0]!;
  }

  push(time: number, id: number): void {
    if (this.n === this.keys.length) this.grow();
    const keys = this.keys;
    const ids = this.ids;
    let i = this.n++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pk = keys[parent]!;
      if (pk <= time) break;
      keys[i] = pk;
      ids[i] = ids[parent]!;
      i = parent;
    }
    keys[i] = time;
    ids[i] = id;
  }

  /** Removes the minimum; read it first with peekTime/peekId. */
  pop(): void {
    const n = --this.n;
    if (n === 0) return;
    const keys = this.keys;
    const ids = this.ids;
    const time = keys[n]!;
    const id = ids[n]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && keys[child + 1]! < keys[child]!) child++;
      if (keys[child]! >= time) break;
      keys[i] = keys[child]!;
      ids[i] = ids[child]!;
      i = child;
    }
    keys[i] = time;
    ids[i] = id;
  }

  private grow(): void {
    const keys = new Float64Array(this.keys.length * 2);
    keys.set(this.keys);
    const ids = new Int32Array(this.ids.length * 2);
    ids.set(this.ids);
    this.keys = keys;
    this.ids = ids;
  }
}
