/**
 * A node's Prometheus metrics and health: prom-client holds the counters (the JSON snapshot reads the same
 * values), names follow the conventions, the live mixing health tells a Poisson mix from one that is not,
 * and a real `loopix mix` process serves /metrics and /healthz that promtool accepts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NodeMetrics, type CounterName } from '../src/node/metrics.js';
import { MixingHealth } from '../src/ops/mixing-health.js';
import { isLoopback } from '../src/ops/http.js';
import { freeTcpPort } from '../src/testnet/network.js';
import { Command } from '../src/sphinx/types.js';
import { native } from './helpers/backends.js';
import { buildPacket, LinkPeer, makeNetwork, type TestNetwork } from './node-fixture.js';
import { exitCodeAfterSigterm } from './helpers/child-exit.js';

const BIN = fileURLToPath(new URL('../bin/loopix.js', import.meta.url));
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

/** The value of `name{labels}` in a text exposition (labels as a substring match), or undefined. */
export function sample(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('NodeMetrics on prom-client', () => {
  it('snapshot() reports exactly what the prom-client registry exports', async () => {
    const m = new NodeMetrics('ab'.repeat(16), 'mix');
    m.count('forwarded', 5);
    m.count('received');
    m.count('ws_auth_ok', 2);
    m.drop('replay', 3);
    m.drop('bad_size');
    m.countLink('out', 'mix-2.0', 4);
    m.gauge('aqm_queue_delay_ms', () => 12);
    m.gauge('loop_alarm', () => true);
    const s = m.snapshot();
    expect(s.counters).toMatchObject({ forwarded: 5, received: 1, ws_auth_ok: 2, delivered: 0 });
    expect(s.dropped).toEqual({ replay: 3, bad_size: 1 });
    expect(s.dropped_total).toBe(4);
    expect(m.link('out', 'mix-2.0')).toBe(4);
    const json = await m.registry.getMetricsAsJSON();
    const value = (name: string, label?: [string, string]) =>
      json
        .find((x) => x.name === name)!
        .values.find((v) => !label || (v.labels as Record<string, string>)[label[0]] === label[1])!.value;
    expect(value('loopix_packets_forwarded_total')).toBe(s.counters.forwarded);
    expect(value('loopix_ws_auth_ok_total')).toBe(2);
    expect(value('loopix_packets_dropped_total', ['reason', 'replay'])).toBe(3);
    expect(value('loopix_link_packets_total', ['peer', 'mix-2.0'])).toBe(4);
    expect(value('loopix_aqm_queue_delay_seconds')).toBeCloseTo(0.012, 9);
    expect(value('loopix_loop_alarm')).toBe(1);
  });

  it('never throws on the packet path: bad increments are ignored, a failing gauge is left out', async () => {
    const m = new NodeMetrics('ab'.repeat(16), 'mix');
    expect(() => m.count('forwarded', Number.NaN)).not.toThrow();
    expect(() => m.count('forwarded', -1)).not.toThrow();
    expect(() => m.drop('replay', Infinity)).not.toThrow();
    m.gauge('queue_packets', () => {
      throw new Error('broken');
    });
    expect(m.counter('forwarded')).toBe(0);
    expect(m.snapshot().gauges.queue_packets).toBeNull();
    const text = await m.registry.metrics();
    expect(sample(text, 'loopix_queue_packets')).toBeNaN();
  });

  it('every exported name has the loopix_ prefix, counters end in _total, units are base units', async () => {
    const m = new NodeMetrics('ab'.repeat(16), 'provider');
    for (const g of ['aqm_queue_delay_ms', 'replay_filter_mb', 'scheduled_packets', 'ws_connections', 'some_new_gauge'])
      m.gauge(g, () => 1);
    m.count('ws_connections');
    m.count('some_new_counter' as CounterName); // a name missing from the table still exports
    m.drop('aqm');
    m.latency.record(3);
    for (const metric of await m.registry.getMetricsAsJSON()) {
      expect(metric.name).toMatch(/^loopix_[a-z0-9_]+$/);
      if (String(metric.type) === 'counter') expect(metric.name).toMatch(/_total$/);
      else expect(metric.name).not.toMatch(/_total$/);
      expect(metric.name).not.toMatch(/_(ms|mb|milliseconds)$/);
    }
  });
});

describe('live mixing health', () => {
  /** A simulated M/M/∞ pool with Poisson input λ and Exp(µ) delays, sampled as the probe does. */
  function simulate(
    health: MixingHealth,
    o: { lambda: number; mu: number; seconds: number; t0: number; batch?: number },
  ) {
    const exp = (rate: number) => -Math.log(1 - Math.random()) / rate;
    const arrivals: number[] = [];
    for (let t = 0; t < o.seconds; t += exp(o.lambda)) arrivals.push(t);
    // A threshold mix (o.batch) holds packets until `batch` have arrived, then flushes them all at once.
    const b = o.batch;
    const departures = arrivals
      .map((a, i) => (b ? (arrivals[Math.floor(i / b) * b + b - 1] ?? Infinity) : a + exp(o.mu)))
      .sort((x, y) => x - y);
    for (const a of arrivals) health.entered(o.t0 + a * 1000);
    for (const d of departures) if (d < o.seconds) health.departed(o.t0 + d * 1000);
    for (let t = exp(10); t < o.seconds; t += exp(10)) {
      const n = arrivals.filter((a) => a <= t).length - departures.filter((d) => d <= t).length;
      health.pool(o.t0 + t * 1000, n);
    }
  }

  /** A layer-1 mix's health (µ = 2/s, 3 layers) over the 120 s window that ends at t0 + 120 s. */
  const layerOneHealth = (t0: number) =>
    new MixingHealth({
      role: 'mix',
      layer: 1,
      mu: 2,
      layers: 3,
      windowS: 120,
      now: () => t0 + 120_000,
      startedMs: t0,
    });

  it('a Poisson mix passes: pool mean near λ/µ and p-values above 0.01', async () => {
    const t0 = 1_000_000;
    const health = layerOneHealth(t0);
    simulate(health, { lambda: 20, mu: 2, seconds: 120, t0 });
    const registry = new Registry();
    health.register(registry);
    const text = await registry.metrics();
    expect(sample(text, 'loopix_mixing_input_rate_per_second')).toBeCloseTo(20, -0.5);
    expect(sample(text, 'loopix_mixing_pool_expected_packets')).toBeGreaterThan(8);
    expect(
      Math.abs(sample(text, 'loopix_mixing_pool_mean_packets')! - sample(text, 'loopix_mixing_pool_expected_packets')!),
    ).toBeLessThan(2);
    expect(sample(text, 'loopix_mixing_check_p_value', 'check="output_exponential"')).toBeGreaterThan(0.001);
    expect(sample(text, 'loopix_mixing_window_seconds')).toBeCloseTo(120, 0);
  });

  it('a threshold mix (flushes every 20 packets) fails the pool and output checks (p-values near 0)', async () => {
    const t0 = 1_000_000;
    const health = layerOneHealth(t0);
    // Its pool cycles through 0..19 and its output comes in bursts: neither is what an Exp(µ) mix produces.
    simulate(health, { lambda: 20, mu: 2, seconds: 120, t0, batch: 20 });
    const registry = new Registry();
    health.register(registry);
    const text = await registry.metrics();
    expect(sample(text, 'loopix_mixing_check_p_value', 'check="pool_poisson"')).toBeLessThan(0.01);
    expect(sample(text, 'loopix_mixing_check_p_value', 'check="output_exponential"')).toBeLessThan(0.01);
  });

  it('only loopback addresses count as local', () => {
    expect(['127.0.0.1', '127.3.4.5', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::', '128.0.0.1'].some(isLoopback)).toBe(false);
  });
});

describe('loopix mix with ops.listen (child process)', () => {
  let net: TestNetwork;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    net = await makeNetwork(native, { layers: 3, perLayer: 1 });
  });
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    net?.cleanup();
  });

  it('serves /metrics (accepted by promtool) and /healthz, counting forwards, drops by reason and links', async () => {
    const port = await freeTcpPort();
    const sink = await LinkPeer.bind(net, 'mix-2.0', native.x25519);
    const provider = await LinkPeer.bind(net, 'provider-0', native.x25519);
    const config = net.writeConfig('mix-1.0', { ops: { listen: { host: '127.0.0.1', port } }, params: { lambdaM: 2 } });
    child = spawn(process.execPath, [BIN, 'mix', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = `http://127.0.0.1:${port}`;
    try {
      const health = await vi.waitFor(
        async () => {
          if (child!.exitCode !== null) throw new Error(`node exited: ${stderr}`);
          const r = await fetch(`${url}/healthz`);
          return { status: r.status, body: (await r.json()) as { status: string; checks: Record<string, unknown> } };
        },
        { timeout: 45_000, interval: 100 },
      );
      expect(health.status).toBe(200);
      expect(health.body).toEqual({ status: 'ready', checks: { keys: true, topology: true, workers: true } });

      const n = net.nodes;
      const path = () =>
        buildPacket(native, net, [
          { node: n['mix-1.0']!.entry, command: Command.RELAY, delayUs: 1000 },
          { node: n['mix-2.0']!.entry, command: Command.RELAY },
          { node: n['mix-3.0']!.entry, command: Command.RELAY },
          { node: n['provider-0']!.entry, command: Command.DROP },
        ]);
      const replayed = path();
      await provider.send('mix-1.0', [path(), replayed, replayed]);
      await provider.sendRaw(n['mix-1.0']!.entry.udp.port, [new Uint8Array(10)]);
      await sink.waitFor(2, 5000);
      const text = await vi.waitFor(
        async () => {
          const body = await (await fetch(`${url}/metrics`)).text();
          if (!(sample(body, 'loopix_packets_forwarded_total')! >= 2)) throw new Error('not forwarded yet');
          return body;
        },
        { timeout: 10_000, interval: 100 },
      );
      expect(sample(text, 'loopix_packets_dropped_total', 'reason="replay"')).toBe(1);
      expect(sample(text, 'loopix_packets_dropped_total', 'reason="bad_size"')).toBe(1);
      expect(sample(text, 'loopix_packets_received_total')).toBe(4);
      // Every datagram came from provider-0's address; the forwards went to mix-2.0.
      expect(sample(text, 'loopix_link_packets_total', 'direction="in",peer="provider-0"')).toBe(4);
      expect(sample(text, 'loopix_link_packets_total', 'direction="out",peer="mix-2.0"')).toBeGreaterThanOrEqual(2);
      for (const name of [
        'loopix_held_packets',
        'loopix_aqm_drop_probability_ratio',
        'loopix_processing_overhead_seconds_bucket',
        'loopix_key_epoch',
        'loopix_replay_filter_tags',
        'loopix_crypto_workers',
        'loopix_node_info',
        'loopix_mixing_window_seconds',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_seconds',
      ]) {
        expect(sample(text, name), name).toBeDefined();
      }
      expect(text).toContain(`node_id="${n['mix-1.0']!.entry.id}"`);
      expect((await fetch(`${url}/nothing`)).status).toBe(404);
      expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).toBe(405);
      if (hasPromtool) {
        const file = join(net.dir, 'exposition.txt');
        writeFileSync(file, text);
        const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
        expect(r.stdout + r.stderr).toBe('');
        expect(r.status).toBe(0);
      }
      expect(await exitCodeAfterSigterm(child)).toBe(0);
    } finally {
      await sink.close();
      await provider.close();
    }
  }, 120_000);

  it('refuses to serve metrics on a non-loopback address unless ops.allowRemote is set', () => {
    const config = net.writeConfig('mix-1.0', { ops: { listen: { host: '0.0.0.0', port: 0 } } });
    const r = spawnSync(process.execPath, [BIN, 'mix', '--config', config], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('ERR_LOOPIX_OPS_REMOTE_BIND');
  });
});
