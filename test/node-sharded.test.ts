/**
 * The sharded packet path (pipeline.mode "sharded": every worker owns a SO_REUSEPORT socket and receives,
 * unwraps, replay-checks, holds and sends by itself) on real node processes: a mix forwards with the
 * sender's delays and drops replays and over-long delays; a whole testnet of sharded nodes delivers messages
 * and brings own loops back.
 */
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { NodeSnapshot } from '../src/node/pipeline.js';
import { Command } from '../src/sphinx/types.js';
import { type TestnetFiles } from '../src/testnet/network.js';
import { NodeProcess } from '../src/testnet/processes.js';
import { native } from './helpers/backends.js';
import { LinkPeer } from './helpers/link-peer.js';
import { startLoneMix, type LoneMix } from './helpers/lone-mix.js';

const WAIT = { timeout: 10_000, interval: 100 };

describe.runIf(process.platform === 'linux')('sharded packet path: one mix process with two workers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loopix-sharded-'));
  let mix: NodeProcess | undefined;
  // The mix's neighbours speak the node link: P1 sends (the layer before the mix), P0 receives.
  let sink: LinkPeer | undefined;
  let sender: LinkPeer | undefined;
  let files: TestnetFiles;
  let received: { packet: Buffer; at: number }[] = [];
  let lone: LoneMix | undefined;
  afterAll(async () => {
    await lone?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const stats = async (): Promise<NodeSnapshot> => (await mix!.nextStats(3000))!;
  const mixNode = () => files.nodes.find((n) => n.role === 'mix')!;
  const provider = () => files.nodes.find((n) => n.name === 'provider-0')!;
  const packet = (delayUs: number) =>
    native.createPacket(files.index.geometry, {
      epoch: files.topology.epoch & 0xffff,
      hops: [
        {
          publicKey: Buffer.from(mixNode().entry.publicKey, 'hex'),
          command: Command.RELAY,
          address: Buffer.from(provider().entry.id, 'hex'),
          delayUs,
        },
      ],
      content: new Uint8Array(1),
    });
  const send = (p: Uint8Array) => sender!.sendNow('mix-1.0', [p]);

  it('starts two workers on one SO_REUSEPORT port and forwards packets after their delays', async () => {
    lone = await startLoneMix(dir, {
      epoch: 5,
      params: { lambdaM: 1e-4 },
      metrics: true,
      // A high hard queueing bound: this test is about forwarding, replays and bounds, not about shedding on a
      // host shared with other work (where a worker can lose the CPU for longer than the 60-ms default).
      nodeConfig: {
        statsIntervalS: 0.25,
        log: { level: 'warn' },
        pipeline: { mode: 'sharded', workers: 2, aqm: { maxQueueDelayMs: 5000 } },
        // Persisted (the default) and never snapshotted during the test: a restart restores from the log alone.
        // A given rate: a filter of a few MB, not one sized by measuring this host (≈ 200 MB, seconds to stop).
        replay: { snapshotIntervalS: 3600, maxRatePps: 1000 },
      },
    });
    ({ files, mix, sink, sender } = lone);
    received = sink.received;
    const s0 = await stats();
    expect(s0.gauges.workers).toBe(2);
    expect(s0.gauges.reuseport_spread).toBe(true);
    const sentAt = performance.now();
    for (let i = 0; i < 40; i++) send(packet(i % 2 ? 0 : 1_500_000));
    await vi
      .waitFor(() => expect(received).toHaveLength(40), { timeout: 10_000 })
      .catch(async (err) => {
        throw new Error(
          `${(err as Error).message}; node drops ${JSON.stringify((await stats()).dropped)}; unopened at the sink ${JSON.stringify(sink!.unopened.map((u) => u.reason))}`,
        );
      });
    // Twenty waited ≥ 1.5 s in the delay stage; twenty left at once.
    expect(received.filter((r) => r.at - sentAt >= 1495)).toHaveLength(20);
    await vi.waitFor(async () => {
      const s = await stats();
      expect(s.counters.forwarded).toBe(40);
      expect(s.latency_overhead.count).toBe(40);
    }, WAIT);
  });

  it('drops a replayed packet even when the copies reach different workers', async () => {
    const p = packet(0);
    const before = received.length;
    for (let i = 0; i < 20; i++) send(p); // spread at random over both sockets
    await vi.waitFor(async () => {
      const s = await stats();
      expect(s.dropped.replay).toBe(19);
    }, WAIT);
    expect(received.length - before).toBe(1);
  });

  it('drops a packet asking for more than the published per-hop delay as excessive_delay', async () => {
    send(packet(files.topology.maxDelayUs! + 1));
    await vi.waitFor(async () => expect((await stats()).dropped.excessive_delay).toBe(1), WAIT);
  });

  it('drops a datagram from an unknown address, and one under an unknown epoch', async () => {
    const stranger = dgram.createSocket('udp4');
    await new Promise<void>((r) =>
      stranger.send(new Uint8Array(100), mixNode().entry.udp.port, '127.0.0.1', () => r()),
    );
    stranger.close();
    const other = native.createPacket(files.index.geometry, {
      epoch: (files.topology.epoch + 9) & 0xffff,
      hops: [
        {
          publicKey: Buffer.from(mixNode().entry.publicKey, 'hex'),
          command: Command.RELAY,
          address: Buffer.from(provider().entry.id, 'hex'),
          delayUs: 0,
        },
      ],
      content: new Uint8Array(1),
    });
    send(other);
    await vi.waitFor(async () => {
      const s = await stats();
      expect((s.dropped.bad_size ?? 0) + (s.dropped.link_unauthenticated ?? 0)).toBe(1);
      expect(s.dropped.wrong_epoch).toBe(1);
    }, WAIT);
  });

  it('serves /metrics and /healthz like a pool node, with the sharded gauges and its running workers', async () => {
    const base = `http://${mixNode().metrics!}`;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const h = (await health.json()) as { status: string; checks: Record<string, unknown> };
    expect(h.status).toBe('ready');
    expect(h.checks.workers).toBe(true);
    const text = await (await fetch(`${base}/metrics`)).text();
    const value = (name: string) =>
      Number(
        /^(\S+)(?:\{[^}]*\})? (\S+)$/m.exec(
          text
            .split('\n')
            .filter((l) => l.startsWith(name))
            .join('\n'),
        )?.[2],
      );
    expect(value('loopix_pipeline_mode')).toBe(2);
    expect(value('loopix_crypto_workers')).toBe(2);
    // Counters the workers report reach the main thread's registry.
    expect(text).toMatch(/^loopix_packets_forwarded_total\{[^}]*\} [1-9]/m);
    expect(text).toMatch(/^loopix_packets_dropped_total\{reason="excessive_delay"[^}]*\} [1-9]/m);
  });

  it('still drops a replay after SIGKILL and restart: the workers’ fresh tags reached the log first', async () => {
    const p = packet(0);
    const before = received.length;
    send(p);
    await vi.waitFor(() => expect(received.length).toBe(before + 1), WAIT);
    await mix!.kill(); // no clean shutdown, no final snapshot
    mix!.start();
    await mix!.ready;
    for (let i = 0; i < 10; i++) send(p); // spread over both workers of the new process
    send(packet(0)); // a fresh packet still goes through
    await vi.waitFor(async () => {
      const s = await stats();
      expect(s.dropped.replay).toBe(10);
      expect(s.counters.forwarded).toBe(1);
    }, WAIT);
    expect(received.length).toBe(before + 2);
  });

  it('reports the main thread CPU time, and stops cleanly on SIGTERM', async () => {
    const s = await stats();
    expect(typeof s.gauges.main_thread_cpu_us).toBe('number');
    expect(await mix!.stop()).toBe(0);
  });
});
