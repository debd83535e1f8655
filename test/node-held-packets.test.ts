/**
 * Bounded delays and a bounded delay stage on a real mix process (`loopix mix`): a sender cannot make a node
 * hold packets longer than the network's published per-hop bound, nor hold more of them than the configured
 * cap, and every packet refused either way is counted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { maxDelayUsFor } from '../src/max-delay.js';
import type { NodeSnapshot } from '../src/node/pipeline.js';
import { Command } from '../src/sphinx/types.js';
import { type TestnetFiles } from '../src/testnet/network.js';
import { NodeProcess } from '../src/testnet/processes.js';
import { native } from './helpers/backends.js';
import { LinkPeer } from './helpers/link-peer.js';
import { startLoneMix, type LoneMix } from './helpers/lone-mix.js';

const MU = 2; // 1/s: mean per-hop delay 500 ms, bound 6.9 s
const RATE = 2000; // packets/s
const SECONDS = 12; // ≥ bound + a margin, so the delay stage reaches its steady state and then its cap
const CAP = 1_000; // pipeline.maxHeldPackets: far below RATE × bound (13,800), so the cap is hit even when a busy host sheds most of the load
/**
 * RSS bound for the run: the process at rest plus CAP packets held at ≤ 4 kB each (1,314 bytes of packet,
 * its heap entry, allocator slack) plus 64 MB for the batch buffers, socket buffers and V8's heap growth
 * under load. Without the cap and the bound a sender holding packets for 72 minutes grows it without limit.
 */
const RSS_SLACK_MB = (CAP * 4096) / 2 ** 20 + 64;

describe('bounded per-hop delays and a held-packet cap (real mix process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loopix-held-'));
  let mix: NodeProcess | undefined;
  // The mix's neighbours speak the node link (helpers/lone-mix.ts): P1 sends (the layer before the mix).
  let sender: LinkPeer | undefined;
  let files: TestnetFiles;
  let lone: LoneMix | undefined;
  afterAll(async () => {
    await lone?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const stats = async (): Promise<NodeSnapshot> => (await mix!.nextStats(3000))!;

  it('publishes the bound in the topology, and drops a packet asking for more as excessive_delay', async () => {
    lone = await startLoneMix(dir, {
      epoch: 3,
      params: { mu: MU, lambdaM: 1e-4 },
      nodeConfig: {
        statsIntervalS: 0.25,
        log: { level: 'warn' },
        pipeline: { maxHeldPackets: CAP, workers: 1 },
        replay: { persist: false, maxRatePps: 4000, staticWindowS: 30 },
      },
    });
    ({ files, mix, sender } = lone);
    const maxUs = maxDelayUsFor(MU);
    expect(files.topology.maxDelayUs).toBe(maxUs);
    expect(maxUs).toBe(6_907_756);

    const over = packet(maxUs + 1);
    const at = packet(maxUs);
    sender.sendNow('mix-1.0', [over, at]);
    await vi.waitFor(async () => {
      const s = await stats();
      expect(s.dropped.excessive_delay).toBe(1);
      expect(s.gauges.scheduled_packets).toBe(1); // the one at the bound is held
    });
  });

  it(
    `keeps RSS bounded and counts every refused packet at ${RATE} packets/s of maximal delays for ${SECONDS} s`,
    { timeout: 90_000 },
    async () => {
      const maxUs = files.topology.maxDelayUs!;
      const total = RATE * SECONDS;
      const pool = Array.from({ length: total }, () => packet(maxUs));
      const before = await stats();
      const rss0 = before.gauges.rss_mb as number;
      let rssMax = rss0;
      mix!.onReport = (s) => {
        rssMax = Math.max(rssMax, s.gauges.rss_mb as number);
      };
      // Paced in 10-ms slices of RATE/100 packets.
      const t0 = performance.now();
      for (let slice = 0, sent = 0; sent < total; slice++) {
        const due = Math.min(total, Math.round((slice + 1) * (RATE / 100)));
        sender!.sendNow('mix-1.0', pool.slice(sent, due));
        sent = due;
        const wait = t0 + (slice + 1) * 10 - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      // Every packet is somewhere once the crypto queue is empty: forwarded, held, or refused and counted.
      const heldBefore = before.gauges.scheduled_packets as number;
      let s = before;
      const delta = (now: NodeSnapshot) => ({
        received: now.counters.received! - before.counters.received!,
        forwarded: now.counters.forwarded! - before.counters.forwarded!,
        held: now.gauges.scheduled_packets as number,
        heldFull: (now.dropped.held_full ?? 0) - (before.dropped.held_full ?? 0),
        drops: now.dropped_total - before.dropped_total,
      });
      await vi.waitFor(
        async () => {
          s = await stats();
          const d = delta(s);
          expect(d.received).toBeGreaterThanOrEqual(total * 0.99); // loopback may lose a little under load
          expect(d.forwarded + d.held + d.drops).toBe(d.received + heldBefore);
        },
        { timeout: 20_000, interval: 250 },
      );
      mix!.onReport = undefined;
      const d = delta(s);
      expect(d.held).toBeLessThanOrEqual(CAP);
      expect(d.heldFull, JSON.stringify({ d, dropped: s.dropped })).toBeGreaterThan(0);
      expect(rssMax - rss0).toBeLessThan(RSS_SLACK_MB);
    },
  );

  function packet(delayUs: number): Uint8Array {
    const mixNode = files.nodes.find((n) => n.role === 'mix')!;
    const provider = files.nodes.find((n) => n.name === 'provider-0')!;
    return native.createPacket(files.index.geometry, {
      epoch: files.topology.epoch & 0xffff,
      hops: [
        {
          publicKey: Buffer.from(mixNode.entry.publicKey, 'hex'),
          command: Command.RELAY,
          address: Buffer.from(provider.entry.id, 'hex'),
          delayUs,
        },
      ],
      content: new Uint8Array(1),
    });
  }
});
