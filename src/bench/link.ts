/**
 * `loopix bench link`: what the node ↔ node link layer costs per relayed packet, next to what the Sphinx unwrap
 * costs, measured in the same run on the same core so their ratio carries over between hosts.
 *
 * Every relayed packet is opened once on the link it arrived on and sealed once for the link it leaves on
 * (AnonPoP §4: every link between adjacent entities is authenticated and encrypted; docs/packet-format.md
 * "Link layer"). So a hop's link cost is one seal plus one open of a datagram of the default geometry
 * (geometry.datagramBytes), done the way the packet path does it: `batch` datagrams per call (the pipeline's
 * default batchSize), through `LinkLayer.sealBatch` / `openBatch` — AES-128-GCM in the addon plus the header,
 * per-link sequence counter and replay window in TypeScript. The AEAD alone (the addon's batch calls without
 * the LinkLayer around them) is reported too.
 *
 * Method: paired, alternating timed slices (as src/bench/addon-baseline.ts measures the X25519 baseline): each
 * pair runs one slice of link work and one slice of native `unwrapBatch` of `batch` packets, in alternating
 * order, so a change of CPU frequency or a noisy neighbour affects both sides of a pair alike; the ratio is
 * the median of the per-pair ratios, the µs figures the medians of the slices.
 *
 *   link_us_per_packet     seal + open of one datagram through LinkLayer, µs
 *   aead_us_per_packet     the same AEAD work through the cipher's batch calls alone, µs
 *   unwrap_us_per_packet   one native Sphinx unwrap (batched), µs (includes copying the packet into place, ~0.1 %)
 *   link_vs_unwrap         link_us_per_packet ÷ unwrap_us_per_packet, median of the pairs
 *   link_share             link ÷ (link + unwrap): the fraction of a crypto-bound relay's throughput the link
 *                          layer takes (the target is ≤ 0.05)
 */
import { randomFillSync } from 'node:crypto';
import { DEFAULT_GEOMETRY as g } from '../geometry.js';
import { PipelineSchema } from '../config/schema.js';
import { LINK_KEY_BYTES, LINK_OK, type LinkLayer, nativeLinkCipher } from '../node/link/index.js';
import { linkLayerChain } from '../node/link/layer-chain.js';
import { loadNativeBackend } from '../sphinx/native.js';
import { Command, type SphinxBackend } from '../sphinx/types.js';
import type { NodeEntry } from '../topology/types.js';
import { percentileOfSorted } from '../util/percentile.js';
import { sliceRate } from './addon-baseline.js';

/** A sender (provider, layer 0) and a receiver (mix, layer 1) link layer over an in-memory topology. */
export function linkPair(b: SphinxBackend): { sender: LinkLayer; receiver: LinkLayer; to: NodeEntry; from: NodeEntry } {
  const chain = linkLayerChain({
    geometry: g,
    epoch: 1,
    basePort: 1,
    mixes: 1,
    x25519Base: (sk) => b.x25519Base(sk),
    x25519: (x, y) => b.x25519(x, y),
  });
  return { sender: chain.layer(0), receiver: chain.layer(1), to: chain.nodes[1]!, from: chain.nodes[0]! };
}

export const LINK_BENCH_DEFAULTS = {
  /** Total seconds of timed slices (both sides together). */
  seconds: 10,
  /** Slice pairs. */
  pairs: 10,
  /** Datagrams / packets per call: the pipeline's default batchSize. */
  batch: PipelineSchema.parse({}).batchSize,
};

export interface LinkBenchOptions {
  readonly seconds: number;
  readonly pairs: number;
  readonly batch: number;
  readonly log: (line: string) => void;
}

export interface LinkBenchResult {
  readonly packet_bytes: number;
  readonly datagram_bytes: number;
  readonly batch: number;
  readonly pairs: number;
  readonly link_us_per_packet: number;
  readonly aead_us_per_packet: number;
  readonly unwrap_us_per_packet: number;
  readonly link_vs_unwrap: number;
  readonly link_share: number;
  readonly x25519_impl: string;
}

/** The three timed operations, each doing `batch` packets per call. */
export function linkBenchOps(batch: number): { link: () => void; aead: () => void; unwrap: () => void } {
  const b = loadNativeBackend();
  const { sender, receiver, to, from } = linkPair(b);
  const N = g.packetBytes;
  const D = g.datagramBytes;
  const packets = randomFillSync(new Uint8Array(batch * N));
  const datagrams = new Uint8Array(batch * D);
  const verdicts = new Uint8Array(batch);
  const toSlots = new Int32Array(batch).fill(sender.slotOfNode(to));
  const fromSlots = new Int32Array(batch).fill(receiver.slotOf(from.udp.host, from.udp.port));
  const link = () => {
    sender.sealBatch(packets, batch, toSlots, datagrams, verdicts);
    receiver.openBatch(datagrams, batch, fromSlots, verdicts);
    if (verdicts[batch - 1] !== LINK_OK) throw new Error('benchmark datagram did not open');
  };
  const cipher = nativeLinkCipher();
  const keys = randomFillSync(new Uint8Array(batch * LINK_KEY_BYTES));
  const aeadData = new Uint8Array(batch * D);
  const ok = new Uint8Array(batch);
  const aead = () => {
    cipher.sealBatch(keys, aeadData, N, batch);
    cipher.openBatch(keys, aeadData, N, batch, ok);
    if (ok[batch - 1] !== 1) throw new Error('benchmark datagram did not open');
  };
  // Packets whose first hop is ours and says relay: the unwrap a mix does for every packet.
  const hopKey = crypto.getRandomValues(new Uint8Array(g.privateKeyBytes));
  const path = Array.from({ length: g.maxHops }, (_, i) => ({
    publicKey: i === 0 ? b.x25519Base(hopKey) : b.x25519Base(crypto.getRandomValues(new Uint8Array(g.privateKeyBytes))),
    command: i === g.maxHops - 1 ? Command.FINAL : Command.RELAY,
    address: new Uint8Array(g.addressBytes).fill(i + 1),
    delayUs: 0,
  }));
  const source = new Uint8Array(batch * N);
  for (let k = 0; k < batch; k++)
    source.set(b.createPacket(g, { epoch: 1, hops: path, content: new Uint8Array(g.contentBytes) }), k * N);
  const work = new Uint8Array(batch * N);
  const records = new Uint8Array(batch * g.recordBytes);
  const unwrap = () => {
    work.set(source);
    if (b.unwrapBatch(g, hopKey, work, records) !== batch) throw new Error('benchmark packet did not unwrap');
  };
  return { link, aead, unwrap };
}

export function runLinkBench(o: LinkBenchOptions): LinkBenchResult {
  const ops = linkBenchOps(o.batch);
  for (let k = 0; k < 20; k++) for (const op of Object.values(ops)) op(); // warm-up
  const sliceMs = (o.seconds * 1000) / (3 * o.pairs);
  const us = { link: [] as number[], aead: [] as number[], unwrap: [] as number[] };
  const ratios: number[] = [];
  const usPerPacket = (op: () => void) => 1e6 / (sliceRate(op, sliceMs, 1) * o.batch);
  for (let p = 0; p < o.pairs; p++) {
    // Alternate which side goes first, so a drift within a pair does not favour one side.
    const order = p % 2 === 0 ? (['link', 'aead', 'unwrap'] as const) : (['unwrap', 'aead', 'link'] as const);
    const slice: Partial<Record<keyof typeof us, number>> = {};
    for (const name of order) slice[name] = usPerPacket(ops[name]);
    for (const name of order) us[name].push(slice[name]!);
    ratios.push(slice.link! / slice.unwrap!);
    o.log(
      `pair ${p + 1}/${o.pairs}: link ${slice.link!.toFixed(3)} µs, aead ${slice.aead!.toFixed(3)} µs, unwrap ${slice.unwrap!.toFixed(2)} µs per packet`,
    );
  }
  const median = (xs: number[]) =>
    percentileOfSorted(
      [...xs].sort((a, b) => a - b),
      0.5,
    )!;
  const ratio = median(ratios);
  const round = (v: number, digits: number) => Number(v.toFixed(digits));
  const r: LinkBenchResult = {
    packet_bytes: g.packetBytes,
    datagram_bytes: g.datagramBytes,
    batch: o.batch,
    pairs: o.pairs,
    link_us_per_packet: round(median(us.link), 3),
    aead_us_per_packet: round(median(us.aead), 3),
    unwrap_us_per_packet: round(median(us.unwrap), 2),
    link_vs_unwrap: round(ratio, 4),
    link_share: round(ratio / (1 + ratio), 4),
    x25519_impl: (loadNativeBackend() as SphinxBackend & { x25519Impl?: string }).x25519Impl ?? 'unknown',
  };
  o.log(
    `link: ${r.link_us_per_packet} µs/packet (AEAD alone ${r.aead_us_per_packet}), unwrap ${r.unwrap_us_per_packet} µs/packet: link = ${(r.link_share * 100).toFixed(2)} % of a crypto-bound hop`,
  );
  return r;
}
