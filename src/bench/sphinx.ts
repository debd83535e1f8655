/**
 * `loopix bench sphinx`: what one core does with the Sphinx format (benchmark.js, median of its samples).
 *
 *   unwrap_per_s        native, one packet per call (a fresh copy of a pre-built packet each time: unwrap
 *                       works in place), the relay's per-packet cost
 *   unwrap_batch_per_s  native, `batch` packets per N-API call, as a worker does it
 *   create_per_s        native, a full default path (6 hops), fresh randomness each packet
 *   ts_unwrap_per_s, ts_create_per_s   the same on the TypeScript twin
 *
 * Targets (issue 2), against OpenSSL's X25519 rate measured right before: unwrap ≥ 0.9 × openssl/2 (an
 * unwrap is two scalar multiplications and little else); create ≥ openssl/9 (one fixed-base and one
 * variable-base multiplication per hop).
 */
import { createRequire } from 'node:module';
import type Benchmark from 'benchmark';
import { DEFAULT_GEOMETRY as g } from '../geometry.js';
import { loadNativeBackend } from '../sphinx/native.js';
import { tsBackend } from '../sphinx/ts/index.js';
import { Command, type HopSpec, type SphinxBackend } from '../sphinx/types.js';
import { measureOpensslX25519 } from './openssl-baseline.js';
import { nativeLinkCipher } from '../node/link/index.js';
import { linkPair } from './link.js';

export interface SphinxBenchOptions {
  /** Seconds benchmark.js spends per measurement (its maxTime). */
  readonly seconds: number;
  /** Packets per unwrapBatch call. */
  readonly batch: number;
  /** Seconds for the openssl baseline; 0 skips it. */
  readonly opensslSeconds: number;
  readonly log: (line: string) => void;
}

export interface SphinxBenchResult {
  readonly unwrap_per_s: number;
  readonly unwrap_batch_per_s: number;
  readonly create_per_s: number;
  readonly ts_unwrap_per_s: number;
  readonly ts_create_per_s: number;
  readonly packet_bytes: number;
  readonly payload_bytes: number;
  readonly content_bytes: number;
  readonly hops: number;
  readonly batch: number;
  readonly x25519_impl: string;
  readonly openssl_x25519_per_s: number | null;
  readonly openssl_version: string | null;
  /** unwrap_per_s ÷ (0.9 × openssl/2); ≥ 1 meets the target. */
  readonly unwrap_vs_target: number | null;
  /** create_per_s ÷ (openssl/9); ≥ 1 meets the target. */
  readonly create_vs_target: number | null;
  /**
   * Node ↔ node link layer (src/node/link): one packet sealed by the sender's LinkLayer and opened by the
   * receiver's (AES-128-GCM both ways, header, replay window, source lookup), per second; and the same AEAD
   * work in batches of `batch` through the cipher alone.
   */
  readonly link_seal_open_per_s: number;
  readonly link_seal_open_batch_per_s: number;
  /** The link's share of a relay hop's crypto: (1/link_seal_open_per_s) ÷ (1/unwrap_per_s + 1/link_seal_open_per_s). */
  readonly link_cost_fraction: number;
}

const POOL = 64;

function defaultPath(b: SphinxBackend, keys: Uint8Array[]): HopSpec[] {
  const commands = [Command.RELAY, Command.RELAY, Command.RELAY, Command.RELAY, Command.DELIVER, Command.FINAL];
  return keys.map((k, i) => ({
    publicKey: b.x25519Base(k),
    command: commands[i]!,
    address: new Uint8Array(g.addressBytes).fill(i + 1),
    delayUs: 0,
  }));
}

/** Median operations per second of a finished benchmark.js run (its samples are seconds per operation). */
function medianHz(bench: Benchmark): number {
  const sample = [...(bench.stats.sample as number[])].sort((a, b) => a - b);
  const mid = sample.length >> 1;
  const median = sample.length % 2 ? sample[mid]! : (sample[mid - 1]! + sample[mid]!) / 2;
  return 1 / median;
}

function measure(name: string, seconds: number, fn: () => void, log: (l: string) => void, opsPerCall = 1): number {
  // `benchmark` is an optionalDependency (a node's install may omit it): loaded only when a benchmark runs.
  const BenchmarkCtor = createRequire(import.meta.url)('benchmark') as typeof Benchmark;
  const bench = new BenchmarkCtor(name, fn, { maxTime: seconds, minSamples: 10 });
  bench.run({ async: false });
  if (bench.error) throw bench.error;
  const hz = medianHz(bench) * opsPerCall;
  log(
    `${name.padEnd(22)} ${Math.round(hz).toLocaleString('en-US').padStart(10)} /s  (±${bench.stats.rme.toFixed(1)} %, ${bench.stats.sample.length} samples)`,
  );
  return hz;
}

export function runSphinxBench(opts: SphinxBenchOptions): SphinxBenchResult {
  const baseline =
    opts.opensslSeconds > 0 ? measureOpensslX25519(opts.opensslSeconds) : { x25519PerS: null, version: null };
  if (baseline.x25519PerS)
    opts.log(
      `openssl speed ecdhx25519 ${Math.round(baseline.x25519PerS).toLocaleString('en-US').padStart(7)} /s  (${baseline.version})`,
    );
  const native = loadNativeBackend();
  const results: Record<string, number> = {};
  const keys = Array.from({ length: g.maxHops }, () => crypto.getRandomValues(new Uint8Array(32)));

  for (const b of [native, tsBackend]) {
    const prefix = b.name === 'native' ? '' : 'ts_';
    const path = defaultPath(b, keys);
    const content = new Uint8Array(g.contentBytes).fill(0x5a);
    const pool = Array.from({ length: POOL }, () => b.createPacket(g, { epoch: 1, hops: path, content }));
    const work = new Uint8Array(g.packetBytes);
    let i = 0;
    const hopKey = keys[0]!;
    results[`${prefix}unwrap_per_s`] = measure(
      `${b.name} unwrap`,
      opts.seconds,
      () => {
        work.set(pool[i++ % POOL]!);
        if (b.unwrap(g, hopKey, work).kind !== 'relay') throw new Error('benchmark packet did not unwrap');
      },
      opts.log,
    );
    results[`${prefix}create_per_s`] = measure(
      `${b.name} create (6 hops)`,
      opts.seconds,
      () => {
        b.createPacket(g, { epoch: 1, hops: path, content });
      },
      opts.log,
    );
    if (b.name === 'native') {
      const batch = new Uint8Array(opts.batch * g.packetBytes);
      const source = new Uint8Array(opts.batch * g.packetBytes);
      for (let k = 0; k < opts.batch; k++) source.set(pool[k % POOL]!, k * g.packetBytes);
      const records = new Uint8Array(opts.batch * g.recordBytes);
      results.unwrap_batch_per_s = measure(
        `native unwrap x${opts.batch}`,
        opts.seconds,
        () => {
          batch.set(source);
          b.unwrapBatch(g, hopKey, batch, records);
        },
        opts.log,
        opts.batch,
      );
    }
  }
  {
    const { sender, receiver, to, from } = linkPair(native);
    const packet = crypto.getRandomValues(new Uint8Array(g.packetBytes));
    results.link_seal_open_per_s = measure(
      'native link seal+open',
      opts.seconds,
      () => {
        const d = sender.seal(packet, to.udp);
        if (typeof d === 'string' || typeof receiver.open(d, from.udp.host, from.udp.port) === 'string')
          throw new Error('benchmark datagram did not open');
      },
      opts.log,
    );
    const cipher = nativeLinkCipher();
    const D = g.datagramBytes;
    const keys = crypto.getRandomValues(new Uint8Array(16 * opts.batch));
    const datagrams = new Uint8Array(opts.batch * D);
    const ok = new Uint8Array(opts.batch);
    results.link_seal_open_batch_per_s = measure(
      `native link x${opts.batch}`,
      opts.seconds,
      () => {
        cipher.sealBatch(keys, datagrams, g.packetBytes, opts.batch);
        cipher.openBatch(keys, datagrams, g.packetBytes, opts.batch, ok);
        if (ok[0] !== 1) throw new Error('benchmark batch did not open');
      },
      opts.log,
      opts.batch,
    );
  }
  const x = baseline.x25519PerS;
  const round = (v: number | undefined) => Math.round(v ?? 0);
  return {
    unwrap_per_s: round(results.unwrap_per_s),
    unwrap_batch_per_s: round(results.unwrap_batch_per_s),
    create_per_s: round(results.create_per_s),
    ts_unwrap_per_s: round(results.ts_unwrap_per_s),
    ts_create_per_s: round(results.ts_create_per_s),
    packet_bytes: g.packetBytes,
    payload_bytes: g.payloadBytes,
    content_bytes: g.contentBytes,
    hops: g.maxHops,
    batch: opts.batch,
    x25519_impl: (native as SphinxBackend & { x25519Impl?: string }).x25519Impl ?? 'unknown',
    openssl_x25519_per_s: x === null ? null : Math.round(x),
    openssl_version: baseline.version,
    unwrap_vs_target: x ? Number((round(results.unwrap_per_s) / ((0.9 * x) / 2)).toFixed(3)) : null,
    create_vs_target: x ? Number((round(results.create_per_s) / (x / 9)).toFixed(3)) : null,
    link_seal_open_per_s: round(results.link_seal_open_per_s),
    link_seal_open_batch_per_s: round(results.link_seal_open_batch_per_s),
    link_cost_fraction: Number(
      (1 / results.link_seal_open_per_s / (1 / results.unwrap_per_s! + 1 / results.link_seal_open_per_s)).toFixed(4),
    ),
  };
}
