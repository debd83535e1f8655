/**
 * A crypto worker thread (piscina). It loads the Sphinx backend once (the native addon, or the TypeScript
 * twin when the main thread runs on it), reads the node's live epoch keys from the shared key table
 * (src/node/epoch-keys.ts) and for each task unwraps a whole batch in place with one unwrapBatch call per run
 * of packets of the same key epoch (one N-API call per batch outside the rotation grace window), then
 * transfers the packet buffer and the records back without copying.
 */
import { Piscina } from 'piscina';
import { getPriority, setPriority } from 'node:os';
import { workerData } from 'node:worker_threads';
import { makeGeometry } from '../geometry.js';
import { RECORD } from '../sphinx/records.js';
import { NO_KEY_REASON, prefixEpoch, SharedKeyTable } from './epoch-keys.js';
import { loadNativeBackend } from '../sphinx/native.js';
import { tsBackend } from '../sphinx/ts/index.js';
import { injectedSlowdown, stretch } from './bench-slowdown.js';

export interface WorkerInit {
  /** The node's SharedKeyTable buffer (live private keys by epoch). */
  readonly keyTable: SharedArrayBuffer;
  readonly geometry: { maxHops: number; addressBytes: number; contentBytes: number };
  /** The backend the main thread chose (and self-checked) through src/sphinx/loader.ts; workers use the same. */
  readonly backend: 'native' | 'ts';
  /** Nice increment for this thread (src/node/cryptoworker.ts WORKER_NICE); 0 leaves the priority alone. */
  readonly nice?: number;
}

export interface UnwrapTask {
  /** count · packetBytes bytes, transferred in. */
  readonly packets: ArrayBuffer;
  readonly count: number;
}

export interface UnwrapTaskResult {
  /** The same bytes, unwrapped in place, transferred back. */
  readonly packets: ArrayBuffer;
  /** count · recordBytes result records (docs/packet-format.md §9). */
  readonly records: ArrayBuffer;
  readonly processed: number;
}

const init = workerData as WorkerInit;
/** Benchmark-only injected slowdown (src/node/bench-slowdown.ts); 0 on every other node. */
const slowdown = injectedSlowdown();
const g = makeGeometry(init.geometry);
const keys = new SharedKeyTable(init.keyTable);
// Loaded once per thread; a native addon that fails to load here fails the pool's warm-up, i.e. start-up.
const backend = init.backend === 'ts' ? tsBackend : loadNativeBackend();
if (init.nice) {
  try {
    // pid 0 = the calling thread on Linux (nice is a per-thread attribute there); elsewhere it renices the
    // process, which a crypto worker should not do, so only on Linux.
    if (process.platform === 'linux') setPriority(0, Math.min(19, getPriority(0) + init.nice));
  } catch {
    // Not permitted or not supported: the worker runs at the main thread's priority.
  }
}

export default function unwrapTask(task: UnwrapTask): UnwrapTaskResult {
  const packets = new Uint8Array(task.packets, 0, task.count * g.packetBytes);
  const records = new Uint8Array(task.count * g.recordBytes);
  const N = g.packetBytes;
  const RB = g.recordBytes;
  let processed = 0;
  // Runs of packets with the same prefix epoch share one unwrapBatch call.
  for (let start = 0; start < task.count;) {
    const epoch16 = prefixEpoch(packets, start * N);
    let end = start + 1;
    while (end < task.count && prefixEpoch(packets, end * N) === epoch16) end++;
    const key = keys.lookup(epoch16);
    if (key) {
      const t0 = slowdown > 0 ? performance.now() : 0;
      processed += backend.unwrapBatch(
        g,
        key,
        packets.subarray(start * N, end * N),
        records.subarray(start * RB, end * RB),
      );
      if (slowdown > 0) stretch(performance.now() - t0, slowdown);
    } else {
      for (let i = start; i < end; i++) records[i * RB + RECORD.reason] = NO_KEY_REASON;
    }
    start = end;
  }
  // Between tasks piscina blocks this thread in Atomics.wait, where no timer runs: a key copy kept until the
  // next batch could outlive its retirement by any time. One 32-byte copy per key epoch per batch is free.
  keys.release();
  const value: UnwrapTaskResult = { packets: task.packets, records: records.buffer, processed };
  // A piscina "transferable": both buffers move back to the main thread instead of being copied.
  const movable = {
    get [Piscina.transferableSymbol]() {
      return [value.packets, value.records];
    },
    get [Piscina.valueSymbol]() {
      return value;
    },
  };
  return Piscina.move(movable as unknown as Parameters<typeof Piscina.move>[0]) as unknown as UnwrapTaskResult;
}
