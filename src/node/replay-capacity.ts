/**
 * How big a replay filter must be so that nothing can fill it before its key retires (docs/operations.md
 * "Replay filter sizing"). A node cannot record replay tags faster than it unwraps packets, and every tag
 * needs one unwrap; so with R = the node's maximum unwrap rate (packets/s) and W = how long a key lives
 * (epoch length + grace window, or `replay.staticWindowS` when keys do not rotate),
 *
 *     capacity = R × (W + REPLAY_BURST_S)       tags, at 28.8 bits (3.6 bytes) each for p = 10⁻⁶
 *
 * and the filter admits at most R × (time since the key's epoch began + REPLAY_BURST_S) tags (src/node/replay.ts
 * "budget"), so even a node that is faster than R, or a flood from every neighbour at once, cannot fill it
 * early: packets over the budget are dropped (`replay_budget`), never the key and never the filter's memory.
 *
 * R is `replay.maxRatePps` when configured; otherwise ("auto") it is measured once on this host — the
 * native batch unwrap on one core for MEASURE_MS, × the crypto workers, × AUTO_HEADROOM — and kept in the
 * state directory (`replay-rate.json`), so a restart sizes the filter the same (a snapshot of another size
 * is refused rather than adopted). `loopix bench relay` measures the whole node, which is bounded by the
 * same per-core unwrap rate × workers, so the auto value is above it by the headroom.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Geometry } from '../geometry.js';
import { Command, type SphinxBackend } from '../sphinx/types.js';

/** Seconds of maximum-rate traffic the budget allows ahead of the clock (start-up bursts, a backlog). */
export const REPLAY_BURST_S = 60;
/** Auto rate = measured single-core unwrap rate × workers × this. */
export const AUTO_HEADROOM = 1.5;
const MEASURE_MS = 150;
const RATE_FILE = 'replay-rate.json';

/** Tags one epoch's filter must hold at `ratePps` for a key that lives `windowS` seconds. */
export function replayCapacityFor(ratePps: number, windowS: number): number {
  return Math.max(1024, Math.ceil(ratePps * (windowS + REPLAY_BURST_S)));
}

/** Packets/s one core unwraps with `backend` (native batch unwrap of 64 packets, measured for ~150 ms). */
export function measureUnwrapRate(backend: SphinxBackend, g: Geometry, ms = MEASURE_MS): number {
  const sk = new Uint8Array(32).fill(7);
  const pk = backend.x25519Base(sk);
  const packet = backend.createPacket(g, {
    epoch: 1,
    hops: [
      { publicKey: pk, command: Command.RELAY, address: new Uint8Array(g.addressBytes).fill(1), delayUs: 0 },
      { publicKey: pk, command: Command.DROP, address: new Uint8Array(g.addressBytes), delayUs: 0 },
    ],
    content: new Uint8Array(1),
  });
  const n = 64;
  const batch = new Uint8Array(n * g.packetBytes);
  const records = new Uint8Array(n * g.recordBytes);
  let done = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < n; i++) batch.set(packet, i * g.packetBytes);
    backend.unwrapBatch(g, sk, batch, records);
    done += n;
    now = performance.now();
  }
  return (done * 1000) / (now - start);
}

export interface MaxRate {
  readonly ratePps: number;
  readonly source: 'config' | 'stored' | 'measured';
}

/** The rate R the filters are sized for (see the module comment). */
export function resolveMaxRate(o: {
  readonly configured: number | 'auto';
  readonly backend: SphinxBackend;
  readonly geometry: Geometry;
  readonly workers: number | undefined;
  readonly stateDir: string | undefined;
}): MaxRate {
  if (o.configured !== 'auto') return { ratePps: o.configured, source: 'config' };
  const file = o.stateDir ? join(o.stateDir, RATE_FILE) : undefined;
  if (file && existsSync(file)) {
    try {
      const stored = JSON.parse(readFileSync(file, 'utf8')) as { ratePps?: unknown };
      if (typeof stored.ratePps === 'number' && stored.ratePps > 0 && Number.isFinite(stored.ratePps))
        return { ratePps: stored.ratePps, source: 'stored' };
    } catch {
      // unreadable: measure again and rewrite it
    }
  }
  const workers = o.workers ?? availableParallelism();
  const ratePps = Math.ceil(measureUnwrapRate(o.backend, o.geometry) * workers * AUTO_HEADROOM);
  if (file) {
    try {
      mkdirSync(o.stateDir!, { recursive: true, mode: 0o700 });
      writeFileSync(
        file,
        `${JSON.stringify({ ratePps, measuredAt: new Date().toISOString(), workers, headroom: AUTO_HEADROOM })}\n`,
        { mode: 0o600 },
      );
    } catch {
      // not persisted: the next start measures again (and refuses a snapshot of another size, loudly)
    }
  }
  return { ratePps, source: 'measured' };
}
