/**
 * The crypto stage: a piscina pool of worker threads (src/node/worker.ts), each unwrapping whole batches with
 * the native addon. The main thread keeps its own queue of batches and dispatches at most `maxInFlight` at
 * once (2 per worker: one running, one ready), so the processing queue stays visible to the AQM instead of
 * disappearing into piscina's internal queue.
 *
 * `concurrentTasksPerWorker: 2` lets piscina post the ready batch into the worker's own message queue right
 * away, so a worker that finishes a batch starts the next one without waiting for a round trip through the
 * main thread's event loop (with the default of 1 the second batch waits in piscina's queue on the main
 * thread, and the worker idles for that round trip after every batch).
 *
 * Worker threads run at a lower scheduling priority (`WORKER_NICE`, Linux: a per-thread nice value) than the
 * main thread, so when crypto saturates the cores the kernel still runs the main thread as soon as a datagram
 * arrives: sockets, the AQM and timers are never queued behind a 5 ms unwrap batch, and the node keeps
 * reading its socket under overload instead of letting the kernel's receive buffer grow into a hidden queue.
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

/**
 * Default worker count: one per core. The main thread needs a fraction of a core (sockets, AQM, timers) and
 * runs at a higher priority than the workers, so one worker per core keeps every core busy with crypto
 * under load; with one worker per core *beyond* the main thread, a 2-core host would unwrap on one core.
 */
export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Nice increment of the crypto worker threads relative to the main thread (0 disables; environment
 * LOOPIX_WORKER_NICE overrides). 10 gives the main thread ~10× the CPU weight of a worker under CFS.
 */
export const WORKER_NICE = 10;

function workerNice(): number {
  const env = process.env.LOOPIX_WORKER_NICE;
  const n = env === undefined || env === '' ? WORKER_NICE : Number(env);
  return Number.isInteger(n) && n >= 0 && n <= 19 ? n : WORKER_NICE;
}

export interface CryptoPoolOptions {
  readonly geometry: Geometry;
  /** The node's SharedKeyTable buffer: the workers read the live epoch keys from it. */
  readonly keyTable: SharedArrayBuffer;
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
      keyTable: o.keyTable,
      geometry: {
        maxHops: o.geometry.maxHops,
        addressBytes: o.geometry.addressBytes,
        contentBytes: o.geometry.contentBytes,
      },
      backend: o.backend,
      nice: workerNice(),
    };
    this.pool = new Piscina({
      filename: workerFile(),
      minThreads: this.workers,
      maxThreads: this.workers,
      idleTimeout: 2 ** 31 - 1,
      workerData,
      // A worker's batch queue holds at most what we dispatch; a full pool queue is a bug, not load.
      maxQueue: 'auto',
      concurrentTasksPerWorker: 2,
    });
  }

  get inFlight(): number {
    return this.inFlightBatches;
  }

  get inFlightPackets(): number {
    return this.inFlightPacketCount;
  }

  /** Workers without a batch (piscina hands a task to the least busy worker). */
  get idleWorkers(): number {
    return Math.max(0, this.workers - this.inFlightBatches);
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
