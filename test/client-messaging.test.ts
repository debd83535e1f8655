/**
 * Reliable messaging across real node processes on loopback (docs/pipeline.md "The client"): providers and
 * mixes are `loopix provider|mix` children, one mix misbehaves through the node's fault injection
 * (src/node/faults.ts), clients are real LoopixClients (and, for the crash test, `loopix client` processes).
 * Fast parameters (µ = 50/s, λP = 20/s, 100 ms pulls) keep each test to seconds.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SqliteStore } from '../src/client/sqlite-store.js';
import { loopixBin } from '../src/paths.js';
import { writeKeyFile, type TestnetFiles } from '../src/testnet/network.js';
import { lightNodeConfig } from './helpers/process-net.js';
import { logLines } from './helpers/log-lines.js';
import { collect } from './helpers/received.js';
import { native } from './helpers/backends.js';
import { startClientNet, startConnected, type ClientNet } from './helpers/net-clients.js';

const params = { lambdaP: 20, lambdaL: 2, lambdaD: 2, lambdaM: 1, mu: 50, pullIntervalMs: 100, pullK: 16 };
let net: TestnetFiles;
let pn: ClientNet;

const node = (name: string) => pn.node(name);

/** Rewrites a node's config `faults` and restarts it (same id, keys, port). */
async function setFaults(
  name: string,
  faults: { drop: number; delayMs: number; tag: number } | undefined,
): Promise<void> {
  const n = node(name);
  const config = JSON.parse(readFileSync(n.node.configFile, 'utf8')) as Record<string, unknown>;
  if (faults) config.faults = faults;
  else delete config.faults;
  writeFileSync(n.node.configFile, JSON.stringify(config));
  await n.stop();
  await n.restart();
}

beforeAll(async () => {
  pn = await startClientNet({
    prefix: 'loopix-messaging-',
    params,
    nodeConfig: lightNodeConfig({ statsIntervalS: 0.5, log: 'warn' }),
    // Every path crosses mix-1.0 twice per fragment (the fragment and its ack): 10 % loss each way.
    perNodeConfig: { 'mix-1.0': { faults: { drop: 0.1, delayMs: 0, tag: 0 } } },
  });
  net = pn.files;
}, 180_000); // node start-up measures the unwrap rate once: slow on a loaded machine

// Each test's clients stop when it ends: their Poisson streams would load the cores under the next test.
afterEach(() => pn?.stopClients());
afterAll(() => pn?.close());

describe('reliable messaging over real processes', () => {
  it('with one mix dropping 10 %, 100 messages are delivered exactly once and every send() resolves', async () => {
    const alice = pn.client('alice-loss', 0),
      bob = pn.client('bob-loss', 1);
    const got = collect(bob);
    await startConnected(alice, bob);
    const bodies = Array.from({ length: 100 }, () =>
      crypto.getRandomValues(new Uint8Array(1 + Math.floor(Math.random() * 600))),
    );
    const handles = [];
    // Ten batches: several envelopes, so loss hits different fragments of different messages.
    for (let b = 0; b < 10; b++) {
      for (const body of bodies.slice(b * 10, b * 10 + 10)) handles.push(alice.send(bob.address, body));
      await new Promise((r) => setTimeout(r, 150));
    }
    const deliveries = await Promise.all(handles);
    expect(deliveries.every((d) => d.acknowledged)).toBe(true);
    await vi.waitFor(() => expect(got.length).toBe(100), { timeout: 10_000 });
    expect(got.map((m) => m.messageId).sort()).toEqual(handles.map((h) => h.messageId).sort());
    const byId = new Map(handles.map((h, i) => [h.messageId, bodies[i]!]));
    for (const m of got) expect(Buffer.from(m.bytes).equals(Buffer.from(byId.get(m.messageId)!))).toBe(true);
    // The mix really dropped, and the client really retransmitted.
    await node('mix-1.0').nextStats();
    expect(node('mix-1.0').last!.dropped.fault_injected ?? 0).toBeGreaterThan(0);
    expect(alice.stats().retransmissions).toBeGreaterThan(0);
  }, 120_000);

  it('with a mix dropping 100 % for a while, sends resolve after it recovers', async () => {
    const alice = pn.client('alice-outage', 0),
      bob = pn.client('bob-outage', 1);
    const got = collect(bob);
    await startConnected(alice, bob);
    await setFaults('mix-2.0', { drop: 1, delayMs: 0, tag: 0 });
    const handles = Array.from({ length: 5 }, (_, i) =>
      alice.send(bob.address, new TextEncoder().encode(`through the outage ${i}`)),
    );
    let settled = 0;
    for (const h of handles)
      void h.then(
        () => settled++,
        () => settled++,
      );
    await vi.waitFor(() => expect(alice.stats().sent_real).toBeGreaterThanOrEqual(2), { timeout: 10_000 }); // sent, and lost
    await new Promise((r) => setTimeout(r, 3000));
    expect(settled).toBe(0);
    expect(got.length).toBe(0);
    await setFaults('mix-2.0', undefined);
    await expect(Promise.all(handles)).resolves.toHaveLength(5);
    expect(alice.stats().retransmissions).toBeGreaterThan(0);
    await vi.waitFor(
      () =>
        expect(got.map((m) => new TextDecoder().decode(m.bytes))).toEqual(
          handles.map((_, i) => `through the outage ${i}`),
        ),
      { timeout: 10_000 },
    );
  }, 120_000);

  it('a reply reaches the sender through SURBs, and nothing the recipient sees or logs names the sender', async () => {
    const { log, lines } = logLines();
    const alice = pn.client('alice-reply', 0),
      bob = pn.client('bob-reply', 1, { log });
    const atAlice = collect(alice),
      atBob = collect(bob);
    await startConnected(alice, bob);
    const asked = alice.send(bob.address, new TextEncoder().encode('who is this?'), { replySurbs: 10 });
    asked.catch(() => {});
    await vi.waitFor(() => expect(atBob.length).toBe(1), { timeout: 20_000 });
    const m = atBob[0]!;
    expect(m.replyHandle).toBe(asked.conversation);
    const r = await bob.reply(m.replyHandle!, new TextEncoder().encode('a friend')).catch((e: unknown) => e);
    expect(r).toMatchObject({ acknowledged: true });
    await vi.waitFor(() => expect(atAlice.length).toBe(1), { timeout: 20_000 });
    expect(new TextDecoder().decode(atAlice[0]!.bytes)).toBe('a friend');
    expect(atAlice[0]!.conversation).toBe(asked.conversation);
    await asked;
    const view = JSON.stringify({
      message: { ...m, bytes: Buffer.from(m.bytes).toString('hex') },
      stats: bob.stats(),
      log: lines,
    });
    const alicePublicKey = alice.address.split(':')[2]!;
    for (const secret of [alice.address, alicePublicKey, alice.providerId]) expect(view).not.toContain(secret);
    expect(lines.length).toBeGreaterThan(0); // bob did log (connection, …): the check above looked at something
  }, 120_000);

  it('ten 20-byte messages queued together leave in fewer packets than ten and arrive as ten, in order', async () => {
    const alice = pn.client('alice-env', 0),
      bob = pn.client('bob-env', 1);
    const got = collect(bob);
    await startConnected(bob);
    const texts = Array.from({ length: 10 }, (_, i) => `twenty byte msg #${String(i).padStart(3, '0')}`);
    expect(texts.every((t) => t.length === 20)).toBe(true);
    const handles = texts.map((t) => alice.send(bob.address, new TextEncoder().encode(t))); // queued before the first λP slot
    alice.start();
    await Promise.all(handles);
    const s = alice.stats();
    expect(s.sent_real - s.retransmissions).toBeLessThan(10);
    await vi.waitFor(() => expect(got.length).toBe(10), { timeout: 10_000 });
    expect(got.map((m) => new TextDecoder().decode(m.bytes))).toEqual(texts);
  }, 60_000);

  it("the client's packet rate stays λP + λL + λD while acks and retransmissions go on", async () => {
    const alice = pn.client('alice-rate', 0),
      bob = pn.client('bob-rate', 1);
    await startConnected(alice, bob);
    for (let i = 0; i < 60; i++) alice.send(bob.address, crypto.getRandomValues(new Uint8Array(600))).catch(() => {});
    for (let i = 0; i < 30; i++) bob.send(alice.address, crypto.getRandomValues(new Uint8Array(600))).catch(() => {});
    const before = alice.stats();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 6000));
    const after = alice.stats();
    const seconds = (performance.now() - t0) / 1000;
    const submitted = after.connection!.packets_submitted - before.connection!.packets_submitted;
    const d = (k: 'sent_real' | 'acks_sent' | 'sent_drop_cover' | 'loops_sent' | 'drops_sent') => after[k] - before[k];
    // Every packet on the wire is one stream event: fragments (and retransmissions), acks and drops share λP.
    expect(submitted).toBe(d('sent_real') + d('acks_sent') + d('sent_drop_cover') + d('loops_sent') + d('drops_sent'));
    expect(d('acks_sent') + d('sent_real')).toBeGreaterThan(0);
    const expected = (params.lambdaP + params.lambdaL + params.lambdaD) * seconds;
    expect(Math.abs(submitted - expected)).toBeLessThan(5 * Math.sqrt(expected) + 0.1 * expected); // Poisson spread and timer slack under load
  }, 60_000);

  it('a sender killed with SIGKILL mid-transfer finishes its pending send after a restart', async () => {
    const bob = pn.client('bob-crash', 1);
    const got = collect(bob);
    await startConnected(bob);
    writeKeyFile(join(pn.dir, 'carol.key.json'), native);
    const config = join(pn.dir, 'carol.json');
    writeFileSync(
      config,
      JSON.stringify({
        keyFile: 'carol.key.json',
        providerId: net.index.providers[0]!.id,
        topologyFile: net.topologyFile,
        authorityPublicKey: net.authority.publicKey,
        params,
        log: { level: 'warn' },
      }),
    );
    const body = crypto.getRandomValues(new Uint8Array(30_000)); // ~45 fragments: over two seconds at λP = 20/s
    writeFileSync(join(pn.dir, 'carol.msg'), body);
    const first = spawn(
      process.execPath,
      [
        loopixBin(),
        'client',
        'send',
        '--config',
        config,
        '--to',
        bob.address,
        '--file',
        join(pn.dir, 'carol.msg'),
        '--timeout',
        '60',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let firstOutput = '';
    first.stderr.on('data', (c: Buffer) => (firstOutput += c.toString()));
    // Kill it once some fragments are acknowledged and others are not.
    const store = join(pn.dir, 'carol.key.json.state.sqlite');
    await vi.waitFor(
      () => {
        const s = new SqliteStore(store);
        try {
          const out = [...s.load().outgoing.values()].map((v) => JSON.parse(v) as { acked: boolean[] });
          expect(out.length).toBe(1);
          expect(out[0]!.acked.filter(Boolean).length).toBeGreaterThan(0);
        } finally {
          s.close();
        }
      },
      { timeout: 90_000, interval: 200 },
    );
    expect(firstOutput).toBe(''); // no error from the first run before the kill
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect(got.length).toBe(0);
    const second = spawn(process.execPath, [loopixBin(), 'client', 'flush', '--config', config, '--timeout', '120'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    second.stdout.on('data', (c: Buffer) => (out += c.toString()));
    let err = '';
    second.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise((r) => second.once('exit', r));
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(out.trim())).toMatchObject({ flushed: true });
    await vi.waitFor(() => expect(got.length).toBe(1), { timeout: 10_000 });
    expect(Buffer.from(got[0]!.bytes).equals(Buffer.from(body))).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(got.length).toBe(1); // exactly once
  }, 300_000);
});
