/**
 * Collects accepted packets into batches for the crypto stage: one worker task and one N-API call per batch
 * instead of per packet. A batch is dispatched when it holds `batchSize` packets or its first packet has
 * waited `batchWaitMs` (0: at the end of the current event-loop turn, so a burst of datagrams read in one
 * turn still shares a batch).
 *
 * Each batch owns a fresh ArrayBuffer (packets are copied in, so the caller's datagram buffer is free
 * immediately), because the buffer is transferred to a worker and the unwrapped packets are later held by
 * the scheduler as views into it.
 */
import type { Geometry } from '../geometry.js';

export interface Batch {
  /** count · packetBytes bytes (trimmed to the packets present), transferable. */
  readonly buffer: ArrayBuffer;
  readonly count: number;
  /** Arrival time (performance.now(), ms) of each packet. */
  readonly arrivals: Float64Array;
  /** When the batch was complete and handed on (performance.now(), ms): its wait for a worker starts here. */
  readonly readyAt: number;
}

export class Batcher {
  private buffer: Uint8Array;
  private arrivals: Float64Array;
  private count = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  constructor(
    private readonly g: Geometry,
    private readonly batchSize: number,
    private readonly batchWaitMs: number,
    private readonly onBatch: (batch: Batch) => void,
  ) {
    this.buffer = new Uint8Array(batchSize * g.packetBytes);
    this.arrivals = new Float64Array(batchSize);
  }

  /** Packets in the batch being filled. */
  get pending(): number {
    return this.count;
  }

  /** Copies `packet` (exactly packetBytes long) into the current batch. */
  add(packet: Uint8Array, arrivalMs: number): void {
    this.buffer.set(packet, this.count * this.g.packetBytes);
    this.arrivals[this.count] = arrivalMs;
    this.count++;
    if (this.count >= this.batchSize) {
      this.flush();
    } else if (this.timer === undefined) {
      this.timer = this.batchWaitMs > 0 ? setTimeout(() => this.flush(), this.batchWaitMs) : setImmediate(() => this.flush());
    }
  }

  /** Dispatches the current batch now (if any). */
  flush(): void {
    this.clearTimer();
    if (this.count === 0) return;
    const n = this.count;
    const N = this.g.packetBytes;
    const full = n === this.batchSize;
    const buffer = full ? this.buffer.buffer : this.buffer.buffer.slice(0, n * N);
    const arrivals = full ? this.arrivals : this.arrivals.slice(0, n);
    if (full) {
      this.buffer = new Uint8Array(this.batchSize * N);
      this.arrivals = new Float64Array(this.batchSize);
    }
    this.count = 0;
    this.onBatch({ buffer: buffer as ArrayBuffer, count: n, arrivals, readyAt: performance.now() });
  }

  /** Stops the timer and returns how many packets were discarded. */
  close(): number {
    this.clearTimer();
    const n = this.count;
    this.count = 0;
    return n;
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer as NodeJS.Timeout);
    clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = undefined;
  }
}
