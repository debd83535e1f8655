/**
 * Abuse limits of the provider's client front end (src/provider/limits.ts): per-client SUBMIT and PULL rate
 * limits and connections per remote address, against a real uWebSockets.js server on 127.0.0.1:0 with real
 * `ws` clients and a real SQLite inbox. The limits are scaled up (hundreds of frames per second) so that
 * each test takes well under a second of wall clock.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeConfigSchema, parseConfig } from '../src/config/schema.js';
import { makeGeometry } from '../src/geometry.js';
import { encode, ErrorCode } from '../src/protocol/frames.js';
import {
  ClientLimiter,
  MIN_SUBMIT_BURST,
  NO_LIMITS,
  resolveLimits,
  TokenBucket,
  type FrontEndLimits,
} from '../src/provider/limits.js';
import type { ClientFrontEnd } from '../src/provider/types.js';
import { keys, RawPeer, sleep, waitFor } from './hardening-helpers.js';
import { FrontEndRig } from './helpers/front-end.js';

const g = makeGeometry();
const K = 2;

describe('token bucket and limit sizing', () => {
  it('allows a burst, then the refill rate; a dropped frame costs a token, and a whole bucket of debt is "exceeded"', () => {
    const b = new TokenBucket(10, 4, 0); // 10/s, capacity 4
    expect([0, 0, 0, 0].map((t) => b.take(t))).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(b.take(0)).toBe('throttled'); // tokens -1
    expect(b.take(100)).toBe('throttled'); // +1 refilled, then -1 again: 0 → -1
    expect(b.tokens(100)).toBeCloseTo(-1);
    expect(b.take(100)).toBe('throttled'); // -2
    expect(b.take(100)).toBe('throttled'); // -3
    expect(b.take(100)).toBe('exceeded'); // -4 = -capacity
    // Back under the rate, the debt is paid off and frames pass again.
    expect(b.take(900)).toBe('ok'); // -4 + 8 = 4 → 3
    expect(b.full(10_000)).toBe(true);
  });

  it('sizes the SUBMIT bucket from λP + λL + λD and the PULL bucket from the pull schedule (config defaults)', () => {
    const config = parseConfig(
      NodeConfigSchema,
      {
        id: 'aa',
        keyFile: 'k',
        topologyFile: 't',
        authorityPublicKey: '00'.repeat(32),
        params: { lambdaP: 3, lambdaL: 1, lambdaD: 1, pullIntervalMs: 500 },
        provider: { dataDir: 'd' },
      },
      'test',
    );
    const limits = config.provider!.limits;
    expect(limits).toEqual({
      submitRateFactor: 2,
      submitBurstS: 10,
      pullRateFactor: 2,
      pullBurst: 4,
      maxConnectionsPerAddress: 64,
      handshakesPerMin: 120,
      handshakeBurst: 128,
    });
    expect(resolveLimits(limits, config.params)).toEqual({
      submitPerS: 10,
      submitBurst: 100,
      pullPerS: 4,
      pullBurst: 4,
      maxConnectionsPerAddress: 64,
      handshakesPerS: 2,
      handshakeBurst: 128,
    });
    // Slow networks still get a burst that Poisson fluctuation cannot exhaust; factor 0 disables a limit.
    expect(
      resolveLimits({ ...limits, submitBurstS: 1 }, { lambdaP: 0.1, lambdaL: 0.1, lambdaD: 0.1, pullIntervalMs: 1000 })
        .submitBurst,
    ).toBe(MIN_SUBMIT_BURST);
    expect(resolveLimits({ ...limits, submitRateFactor: 0, pullRateFactor: 0 }, config.params)).toMatchObject({
      submitPerS: 0,
      pullPerS: 0,
    });
  });

  it('forgets an idle client only once its buckets have refilled, so reconnecting never grants a fresh burst early', () => {
    let now = 0;
    const limiter = new ClientLimiter({ ...NO_LIMITS, submitPerS: 10, submitBurst: 5 }, () => now);
    const a = limiter.attach('a');
    for (let i = 0; i < 5; i++) a.submit!.take(now);
    limiter.release('a');
    expect(limiter.sweep()).toBe(0); // empty bucket: remembered
    expect(limiter.attach('a').submit!.take(now)).toBe('throttled');
    limiter.release('a');
    now = 2000;
    expect(limiter.sweep()).toBe(1);
    expect(limiter.size).toBe(0);
  });
});

describe('provider front end limits', () => {
  let rig: FrontEndRig;
  let peers: RawPeer[];

  const start = (limits: Partial<FrontEndLimits>): Promise<ClientFrontEnd> =>
    rig.start({ limits: { ...NO_LIMITS, ...limits } });
  const connect = (): RawPeer => {
    const p = new RawPeer(`ws://127.0.0.1:${rig.server!.port}/`, g, K);
    peers.push(p);
    return p;
  };
  const packet = new Uint8Array(g.packetBytes).fill(7);

  beforeEach(() => {
    rig = new FrontEndRig('loopix-limits-', g, K);
    peers = [];
  });
  afterEach(async () => {
    for (const p of peers) p.terminate();
    await rig.close();
  });

  it('never throttles a client that submits at its allowed rate', async () => {
    await start({ submitPerS: 400, submitBurst: 40 });
    const c = connect();
    expect((await c.authenticate(keys()))?.type).toBe('authOk');
    // 150 packets at ~200/s: half the allowed rate.
    for (let i = 0; i < 15; i++) {
      for (let j = 0; j < 10; j++) c.send(encode.submit(g, packet));
      await sleep(50);
    }
    await c.pull(1); // a round trip: every SUBMIT was handled
    expect(rig.submitted.length).toBe(150);
    expect(rig.counts.get('ws_submit_throttled')).toBeUndefined();
  });

  it('throttles a client above its SUBMIT rate (excess dropped and counted), then closes it with RATE_LIMITED once that persists', async () => {
    const rate = 100;
    const burst = 20;
    await start({ submitPerS: rate, submitBurst: burst });
    const c = connect();
    expect((await c.authenticate(keys()))?.type).toBe('authOk');
    const t0 = performance.now();
    // A burst of 30 at once: the bucket's 20 pass, 10 are throttled; the connection stays open.
    for (let i = 0; i < 30; i++) c.send(encode.submit(g, packet));
    await c.pull(1);
    expect(rig.submitted.length).toBeLessThanOrEqual(burst + Math.ceil((rate * (performance.now() - t0)) / 1000));
    expect(rig.counts.get('ws_submit_throttled')).toBeGreaterThanOrEqual(5);
    expect(c.isClosed).toBe(false);
    // Then twice the allowed rate, persistently: throttled, and closed once the debt reaches a whole bucket.
    const timer = setInterval(() => {
      for (let i = 0; i < 2; i++) c.send(encode.submit(g, packet));
    }, 10);
    const error = await c.next(5000);
    clearInterval(timer);
    expect(error).toMatchObject({ type: 'error', code: ErrorCode.RATE_LIMITED });
    expect((await c.closed).code).toBe(1008);
    const elapsedS = (performance.now() - t0) / 1000;
    expect(rig.counts.get('ws_rate_limited')).toBe(1);
    // Nothing beyond the allowance reached the pipeline.
    expect(rig.submitted.length).toBeLessThanOrEqual(burst + Math.ceil(rate * elapsedS) + 1);
    expect(rig.counts.get('ws_submit')).toBe(rig.submitted.length);
  });

  it('shares one client’s SUBMIT allowance across its connections and across reconnects', async () => {
    await start({ submitPerS: 1, submitBurst: 20 });
    const me = keys();
    const a = connect();
    await a.authenticate(me);
    for (let i = 0; i < 20; i++) a.send(encode.submit(g, packet));
    await a.pull(1);
    expect(rig.submitted.length).toBe(20);
    const b = connect();
    await b.authenticate(me);
    b.send(encode.submit(g, packet));
    await b.pull(1);
    expect(rig.submitted.length).toBe(20);
    a.terminate();
    b.terminate();
    await Promise.all([a.closed, b.closed]);
    const again = connect();
    await again.authenticate(me);
    again.send(encode.submit(g, packet));
    await again.pull(1);
    expect(rig.submitted.length).toBe(20);
    expect(rig.counts.get('ws_submit_throttled')).toBe(2);
    // Another client has its own allowance.
    const other = connect();
    await other.authenticate(keys());
    other.send(encode.submit(g, packet));
    await other.pull(1);
    expect(rig.submitted.length).toBe(21);
  });

  it('serves pulls on the pull schedule, leaves faster pulls unanswered (counted) and closes a persistent over-puller', async () => {
    await start({ pullPerS: 5, pullBurst: 3 });
    const honest = connect();
    await honest.authenticate(keys());
    for (let i = 1; i <= 5; i++) {
      expect(await honest.pull(i)).toHaveLength(K);
      await sleep(250); // 4 pulls/s, under the 5/s allowed
    }
    expect(rig.counts.get('ws_pull_throttled')).toBeUndefined();

    const greedy = connect();
    await greedy.authenticate(keys());
    for (let i = 1; i <= 3; i++) greedy.send(encode.pull(i));
    for (let i = 1; i <= 3; i++) expect(await greedy.next()).toMatchObject({ type: 'pullReply', requestId: i });
    greedy.send(encode.pull(4)); // over the bucket: no reply
    expect(await greedy.next(150)).toBeNull();
    expect(rig.counts.get('ws_pull_throttled')).toBe(1);
    for (let i = 5; i <= 10; i++) greedy.send(encode.pull(i));
    const frames = [];
    for (let f = await greedy.next(); f !== null; f = await greedy.next()) frames.push(f);
    expect(frames.at(-1)).toMatchObject({ type: 'error', code: ErrorCode.RATE_LIMITED });
    expect((await greedy.closed).code).toBe(1008);
    expect(rig.counts.get('ws_rate_limited')).toBe(1);
    // The honest client is unaffected.
    expect(await honest.pull(6)).toHaveLength(K);
  });

  it('refuses connections beyond maxConnectionsPerAddress with TOO_MANY_CONNECTIONS, and admits again once one closed', async () => {
    await start({ maxConnectionsPerAddress: 3 });
    const first = [connect(), connect(), connect()];
    await Promise.all(first.map((p) => p.opened));
    await first[0]!.authenticate(keys());
    const extra = connect();
    expect(await extra.next()).toMatchObject({ type: 'error', code: ErrorCode.TOO_MANY_CONNECTIONS });
    expect((await extra.closed).code).toBe(1008);
    expect(rig.counts.get('ws_too_many_connections')).toBe(1);
    // The admitted connections keep working.
    expect(await first[0]!.pull(1)).toHaveLength(K);
    first[1]!.terminate();
    await first[1]!.closed;
    await waitFor(() => (rig.server!.connections === 2 ? true : undefined), 2000);
    const replacement = connect();
    expect((await replacement.authenticate(keys()))?.type).toBe('authOk');
    expect(rig.counts.get('ws_too_many_connections')).toBe(1);
  });
});
