/**
 * The post office over real node processes on loopback (docs/pipeline.md "Post office"): provider-0 serves as
 * the post office, the recipients' provider is provider-1, and every push and pull crosses both mix layers.
 * Clients are real LoopixClients with SQLite stores; the attacker submits hand-built Sphinx packets through a
 * real authenticated provider session. Fast parameters (µ = 50/s, 100-ms rounds, µ_pool = 15) keep each test
 * to seconds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { clientIdOf } from '../src/address.js';
import type { KeyPair, LoopixClient } from '../src/client/client.js';
import { surbRoute } from '../src/client/routes.js';
import { SqliteStore } from '../src/client/sqlite-store.js';
import { type NetworkParams } from '../src/config/schema.js';
import { ks2Sample } from '../src/mixing/stats.js';
import { mailboxId } from '../src/postoffice/mailbox.js';
import { mailboxPath } from '../src/postoffice/store.js';
import { encodePull, poLayout } from '../src/postoffice/wire.js';
import { Command } from '../src/sphinx/types.js';
import { type TestnetFiles } from '../src/testnet/network.js';
import { logLines } from './helpers/log-lines.js';
import { collect } from './helpers/received.js';
import { native, toHex } from './helpers/backends.js';
import {
  FAST_PO_PARAMS,
  freshClientKeyPair,
  startConnected,
  startPostOfficeNet,
  type ClientNet,
} from './helpers/net-clients.js';
import { tableColumns } from './helpers/sqlite-columns.js';
import { setTimeout as sleep } from 'node:timers/promises';

const ROUND_MS = 200;
// 25 rounds of 200 ms: the pool outlasts the offline test's time away (its pushes, six rounds, the reconnect)
// with seconds to spare on a loaded host.
const POOL = 25;
const params = { ...FAST_PO_PARAMS, lambdaP: 10, poRoundMs: ROUND_MS, poPoolSize: POOL };
let net: TestnetFiles;
let pn: ClientNet;

interface Made {
  readonly client: LoopixClient;
  readonly keyPair: KeyPair;
  readonly lines: string[];
}

/** A client of provider `providerIndex` whose log lines the test reads. */
function makeClient(
  name: string,
  providerIndex: number,
  o: { keyPair?: KeyPair; store?: SqliteStore; params?: Partial<NetworkParams> } = {},
): Made {
  const keyPair = o.keyPair ?? freshClientKeyPair(pn.dir, name);
  const { log, lines } = logLines();
  return { client: pn.client(name, providerIndex, { ...o, keyPair, log }), keyPair, lines };
}

const node = (name: string) => pn.node(name);
const counter = async (name: string, key: string): Promise<number> =>
  (await node(name).nextStats())?.counters[key] ?? 0;
const dropped = async (name: string, key: string): Promise<number> => (await node(name).nextStats())?.dropped[key] ?? 0;
const text = (s: string) => new TextEncoder().encode(s);

beforeAll(async () => {
  pn = await startPostOfficeNet({ prefix: 'loopix-po-', params, log: 'info' });
  net = pn.files;
}, 180_000); // node start-up measures the unwrap rate once: slow on a loaded machine

// Each test's clients stop when it ends: their Poisson streams would load the cores under the next test.
afterEach(() => pn?.stopClients());
afterAll(() => pn?.close());

describe('the post office over real processes', () => {
  it('a message pushed to an anonymous address arrives, and the PO’s database and log hold nothing of the recipient', async () => {
    const alice = makeClient('alice', 1),
      bob = makeClient('bob', 1);
    const mailbox = bob.client.openMailbox();
    expect(mailbox.startsWith('loopixpo1:')).toBe(true);
    expect(mailbox).not.toContain(toHex(bob.keyPair.publicKey));
    const got = collect(bob.client);
    await startConnected(alice.client, bob.client);
    // send() resolves once bob's SURB-ack (bob → provider-1 → mixes → alice's provider) is back.
    const sent = await alice.client.send(mailbox, text('to a mailbox nobody can link to bob'));
    expect(sent.acknowledged).toBe(true);
    expect(bob.client.stats().acks_sent).toBeGreaterThanOrEqual(1);
    await vi.waitFor(
      () => expect(got.map((m) => new TextDecoder().decode(m.bytes))).toEqual(['to a mailbox nobody can link to bob']),
      { timeout: 15_000 },
    );
    expect(got[0]!.messageId).toBe(sent.messageId);
    await vi.waitFor(() => expect(bob.client.stats().po_answers_dummy).toBeGreaterThan(0), { timeout: 10_000 }); // the PO answered empty pulls too
    // What the PO stored and logged: no client key, client id, client address or session of anyone.
    const secrets = [
      bob.keyPair.publicKey,
      alice.keyPair.publicKey,
      clientIdOf(net.index.geometry, bob.keyPair.publicKey),
      clientIdOf(net.index.geometry, alice.keyPair.publicKey),
    ].map(toHex);
    const db = new Database(mailboxPath(join(pn.dir, 'provider-0-data')), { readonly: true });
    const tables = db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .all()
      .map((t) => t.name);
    let dump = '';
    for (const t of tables) {
      for (const row of db.prepare(`SELECT * FROM ${t}`).all() as Record<string, unknown>[]) {
        for (const v of Object.values(row)) dump += Buffer.isBuffer(v) ? v.toString('hex') : String(v);
      }
    }
    const columns = tableColumns(db, 'envelopes');
    db.close();
    expect(columns.sort()).toEqual(['envelope', 'id', 'mailbox', 'stored_at']);
    const log = readFileSync(join(pn.dir, 'provider-0.log'), 'utf8');
    expect(log).toContain('provider running');
    for (const s of secrets) {
      expect(dump).not.toContain(s);
      expect(log).not.toContain(s);
    }
    // No session at the PO: neither client ever connected to it, yet the message went through it.
    expect(await counter('provider-0', 'po_pushes_stored')).toBeGreaterThanOrEqual(1);
    expect(await counter('provider-0', 'ws_auth_ok')).toBe(0);
    expect(log).not.toMatch(/127\.0\.0\.1:\d+.*(pull|mailbox)/i);
    await Promise.all([alice.client.stop(), bob.client.stop()]);
  }, 60_000);

  it('while the recipient is offline for fewer than µ rounds its provider keeps pulling, and every message is there on reconnect', async () => {
    const storeFile = join(pn.dir, 'carol.state.sqlite');
    const alice = makeClient('alice-2', 1);
    const carol = makeClient('carol', 1, { store: new SqliteStore(storeFile) });
    const mailbox = carol.client.openMailbox();
    await startConnected(alice.client, carol.client);
    await vi.waitFor(() => expect(carol.client.stats().po_pool_deposits).toBeGreaterThanOrEqual(POOL), {
      timeout: 20_000,
    });
    await carol.client.stop();
    const releasedBefore = await counter('provider-1', 'po_pool_released');
    const bodies = ['one', 'two', 'three'];
    // Acknowledged only once carol is back and has opened them: the handles settle after the reconnect.
    const handles = bodies.map((b) => alice.client.send(mailbox, text(b)));
    await vi.waitFor(() => expect(alice.client.stats().po_pushes_sent).toBeGreaterThanOrEqual(bodies.length), {
      timeout: 10_000,
    });
    await sleep(6 * ROUND_MS);
    const releasedWhileAway = (await counter('provider-1', 'po_pool_released')) - releasedBefore;
    // One pull per round for the offline client (≥ 6 rounds passed; other pools are empty by now or count extra).
    expect(releasedWhileAway).toBeGreaterThanOrEqual(4);
    const back = makeClient('carol-again', 1, { keyPair: carol.keyPair, store: new SqliteStore(storeFile) });
    const got = collect(back.client);
    await startConnected(back.client);
    await vi.waitFor(
      () => expect(got.map((m) => new TextDecoder().decode(m.bytes)).sort()).toEqual([...bodies].sort()),
      { timeout: 15_000 },
    );
    for (const d of await Promise.all(handles)) expect(d.acknowledged).toBe(true);
    expect(got).toHaveLength(bodies.length); // retransmissions, if any, were not delivered again
    expect(back.client.stats().po_pull_gaps).toBe(0);
    expect(back.lines.some((l) => l.includes('gap'))).toBe(false);
    await Promise.all([alice.client.stop(), back.client.stop()]);
  }, 60_000);

  it('offline for µ + 2 rounds: the reconnect warns of the gap, counts it, and nothing crashes', async () => {
    const storeFile = join(pn.dir, 'dave.state.sqlite');
    const dave = makeClient('dave', 1, { store: new SqliteStore(storeFile) });
    dave.client.openMailbox();
    await startConnected(dave.client);
    await vi.waitFor(() => expect(dave.client.stats().po_pool_deposits).toBeGreaterThanOrEqual(POOL), {
      timeout: 20_000,
    });
    await dave.client.stop();
    const dryBefore = await counter('provider-1', 'po_pool_ran_dry');
    await sleep((POOL + 2 + 3) * ROUND_MS);
    expect(await counter('provider-1', 'po_pool_ran_dry')).toBeGreaterThan(dryBefore);
    const back = makeClient('dave-again', 1, { keyPair: dave.keyPair, store: new SqliteStore(storeFile) });
    await startConnected(back.client);
    const s = back.client.stats();
    expect(s.po_pull_gaps).toBe(1);
    expect(s.po_gap_rounds).toBeGreaterThanOrEqual(2);
    expect(back.lines.some((l) => l.startsWith('warn') && l.includes('gap'))).toBe(true);
    await vi.waitFor(() => expect(back.client.stats().po_pool_deposits).toBeGreaterThan(0), { timeout: 10_000 }); // it tops up again
    await back.client.stop();
    for (const n of pn.nodes) expect(n.exitCode).toBeNull();
  }, 60_000);

  it('a mailbox switch at an epoch boundary loses nothing', async () => {
    // 2-s mailbox epochs, 1-s grace: a run of 5 s crosses at least two boundaries.
    const epochParams = { mailboxEpochS: 2, mailboxGraceS: 1 };
    const alice = makeClient('alice-3', 1, { params: epochParams });
    const erin = makeClient('erin', 1, { params: epochParams });
    const mailbox = erin.client.openMailbox();
    const got = collect(erin.client);
    await startConnected(alice.client, erin.client);
    const startEpoch = Math.floor(Date.now() / 2000);
    const bodies: string[] = [];
    for (let i = 0; i < 12; i++) {
      bodies.push(`epoch message ${i}`);
      void alice.client.send(mailbox, text(bodies[i]!));
      await sleep(400);
    }
    expect(Math.floor(Date.now() / 2000) - startEpoch).toBeGreaterThanOrEqual(2);
    await vi.waitFor(
      () => expect(got.map((m) => new TextDecoder().decode(m.bytes)).sort()).toEqual([...bodies].sort()),
      { timeout: 20_000 },
    );
    await Promise.all([alice.client.stop(), erin.client.stop()]);
  }, 60_000);

  it('a replayed pull packet is dropped; malformed and oversized pulls are dropped with their reasons', async () => {
    // The attacker: an authenticated client of the post office that submits hand-built packets whose only hop
    // is the PO (FINAL), each PULL carrying a SURB back to the attacker's own inbox.
    const mallory = makeClient('mallory', 0);
    await startConnected(mallory.client);
    const g = net.index.geometry;
    const po = net.index.postOffices[0]!;
    const poKey = Uint8Array.from(Buffer.from(po.publicKey, 'hex'));
    const packetWith = (content: Uint8Array) =>
      native.createPacket(g, {
        epoch: net.index.doc.epoch,
        hops: [{ publicKey: poKey, command: Command.FINAL, address: new Uint8Array(g.addressBytes), delayUs: 0 }],
        content,
      });
    const surb = () => {
      const route = surbRoute(
        net.index,
        po.id,
        po.id,
        mallory.keyPair.publicKey,
        crypto.getRandomValues(new Uint8Array(g.addressBytes)),
        { mu: params.mu },
      );
      return native.createSurb(g, {
        epoch: route.epoch,
        hops: route.hops,
        firstHop: Uint8Array.from(Buffer.from(po.id, 'hex')),
      }).surb;
    };
    const box = mailboxId(crypto.getRandomValues(new Uint8Array(32)), 1);
    const pull = packetWith(encodePull(g, box, surb()));
    const replayBefore = await dropped('provider-0', 'replay');
    expect(mallory.client.transport.submit(pull.slice())).toBe(true);
    expect(mallory.client.transport.submit(pull.slice())).toBe(true); // the same bytes again
    await vi.waitFor(async () => expect(await dropped('provider-0', 'replay')).toBe(replayBefore + 1), {
      timeout: 10_000,
    });
    // Exactly one answer came back to the attacker's inbox (as a SURB reply it holds no keys for).
    await vi.waitFor(() => expect(mallory.client.stats().invalid_received.unknown_surb ?? 0).toBe(1), {
      timeout: 10_000,
    });

    const oversized = encodePull(g, box, surb());
    oversized[poLayout(g).bodyOffset + g.surbBytes + 5] = 0xff;
    const malformed = encodePull(g, box, surb());
    malformed[0] = 0x7f;
    const [oBefore, mBefore] = [
      await dropped('provider-0', 'po_pull_oversized'),
      await dropped('provider-0', 'po_malformed'),
    ];
    mallory.client.transport.submit(packetWith(oversized));
    mallory.client.transport.submit(packetWith(malformed));
    await vi.waitFor(
      async () => {
        expect(await dropped('provider-0', 'po_pull_oversized')).toBe(oBefore + 1);
        expect(await dropped('provider-0', 'po_malformed')).toBe(mBefore + 1);
      },
      { timeout: 10_000 },
    );
    expect(mallory.client.stats().invalid_received.unknown_surb ?? 0).toBe(1);
    await mallory.client.stop();
  }, 60_000);

  it('the pull rate is the same with and without messages waiting (two-sample test)', async () => {
    // The only pool at provider-1 now is frank's: every request it releases is one of his.
    await sleep((POOL + 2) * ROUND_MS); // earlier clients' pools run dry
    const alice = makeClient('alice-4', 1),
      frank = makeClient('frank', 1);
    const mailbox = frank.client.openMailbox();
    const got = collect(frank.client);
    await startConnected(alice.client, frank.client);
    await vi.waitFor(() => expect(frank.client.stats().po_pool_deposits).toBeGreaterThanOrEqual(POOL), {
      timeout: 20_000,
    });
    await sleep(1000); // steady state: the first released requests have reached the PO
    /** Pull requests frank's provider released into the network in each of `n` stats intervals (0.25 s). */
    const perInterval = async (n: number) => {
      const counts: number[] = [];
      let last = (await node('provider-1').nextStats())!;
      for (let i = 0; i < n; i++) {
        const next = (await node('provider-1').nextStats())!;
        const total = (s: typeof next) => s.counters.po_pool_released ?? 0;
        counts.push(total(next) - total(last));
        last = next;
      }
      return counts;
    };
    const idle = await perInterval(12);
    const storedBefore = await counter('provider-0', 'po_answers_stored');
    const handles = Array.from({ length: 30 }, (_, i) => alice.client.send(mailbox, text(`busy ${i}`)));
    await vi.waitFor(() => expect(alice.client.stats().po_pushes_sent).toBeGreaterThanOrEqual(30), { timeout: 15_000 });
    const busy = await perInterval(12);
    expect((await counter('provider-0', 'po_answers_stored')) - storedBefore).toBeGreaterThan(5); // messages really waited
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(idle)).toBeGreaterThan(0.5); // ≈ 1.25 per 0.25 s at one pull per 200-ms round
    expect(Math.abs(mean(busy) - mean(idle))).toBeLessThan(0.5);
    expect(ks2Sample(idle, busy).pValue).toBeGreaterThan(0.01);
    await vi.waitFor(() => expect(got.length).toBe(30), { timeout: 20_000 });
    await Promise.all(handles);
    await Promise.all([alice.client.stop(), frank.client.stop()]);
  }, 60_000);
});
