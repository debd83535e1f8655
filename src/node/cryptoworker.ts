/**
 * The crypto stage: a piscina pool of worker threads (src/node/worker.ts), each unwrapping whole batches with
 * the native addon. The main thread keeps its own queue of batches and dispatches at most `maxInFlight` at
 * once (2 per worker: one running, one ready), so the processing queue stays visible to the AQM instead of
 * disappearing into piscina's internal queue.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Geometry } from '../geometry.js';
import type { UnwrapTask, UnwrapTaskResult, WorkerInit } from './worker.js';

/**
 * The compiled worker: next to this module when running from dist/, else (vitest runs the TypeScript
 * sources) the copy tsc emitted to <repo>/dist/src/node/worker.js.
 */
export function workerFile(): string {
  const sibling = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(sibling)) return sibling;
  const compiled = fileURLToPath(new URL('../../dist/src/node/worker.js', import.meta.url));
  if (existsSync(compiled)) return compiled;
  throw new Error(`crypto worker not found at ${sibling} or ${compiled}; run \`npm run build:ts\``);
}

/** Default worker count: one per core beyond the main thread, at least 1. */
export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism() - 1);
}

export interface CryptoPoolOptions {
  readonly geometry: Geometry;
  readonly privateKey: Uint8Array;
  readonly workers?: number;
  /** Which Sphinx implementation the workers load (the one the main thread self-checked). */
  readonly backend: 'native' | 'ts';
}

export interface UnwrappedBatch {
  /** count · packetBytes bytes, each packet unwrapped in place. */
  readonly packets: Uint8Array;
  /** count · recordBytes records. */
  readonly records: Uint8Array;
}

export class CryptoPool {
  readonly workers: number;
  /** Batches the pool should hold at once (running + ready). */
  readonly maxInFlight: number;
  private inFlightBatches = 0;
  private inFlightPacketCount = 0;
  private readonly pool: Piscina;
  private readonly g: Geometry;

  constructor(o: CryptoPoolOptions) {
    this.g = o.geometry;
    this.workers = o.workers ?? defaultWorkerCount();
    this.maxInFlight = 2 * this.workers;
    const workerData: WorkerInit = {
      privateKey: Uint8Array.from(o.privateKey),
      geometry: { maxHops: o.geometry.maxHops, addressBytes: o.geometry.addressBytes, contentBytes: o.geometry.contentBytes },
      backend: o.backend,
    };
    this.pool = new Piscina({
      filename: workerFile(),
      minThreads: this.workers,
      maxThreads: this.workers,
      idleTimeout: 2 ** 31 - 1,
      workerData,
      // A worker's batch queue holds at most what we dispatch; a full pool queue is a bug, not load.
      maxQueue: 'auto',
    });
  }

  get inFlight(): number {
    return this.inFlightBatches;
  }

  get inFlightPackets(): number {
    return this.inFlightPacketCount;
  }

  /** Whether another batch may be dispatched now. */
  get ready(): boolean {
    return this.inFlightBatches < this.maxInFlight;
  }

  /**
   * Runs one task per worker (an all-zero packet: an `invalid` result), so each has loaded the backend
   * before traffic arrives; rejects when a worker cannot load it.
   */
  async warmUp(): Promise<void> {
    await Promise.all(Array.from({ length: this.workers }, () => this.unwrap(new ArrayBuffer(this.g.packetBytes), 1)));
  }

  /** Unwraps `count` packets in `buffer` (transferred: unusable by the caller afterwards). */
  async unwrap(buffer: ArrayBuffer, count: number): Promise<UnwrappedBatch> {
    this.inFlightBatches++;
    this.inFlightPacketCount += count;
    try {
      const task: UnwrapTask = { packets: buffer, count };
      const r = (await this.pool.run(task, { transferList: [buffer] })) as UnwrapTaskResult;
      return { packets: new Uint8Array(r.packets, 0, count * this.g.packetBytes), records: new Uint8Array(r.records) };
    } finally {
      this.inFlightBatches--;
      this.inFlightPacketCount -= count;
    }
  }

  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}
