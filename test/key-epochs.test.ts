/**
 * Key epochs without processes (src/topology/document.ts schedule, src/node/epoch-keys.ts keyring and shared
 * key table, src/node/keys.ts key store): which key a sender uses when, which keys a node accepts when, and
 * that retired keys are wiped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { TopologyWatch } from '../src/client/topology-watch.js';
import { NodeConfigSchema, parseConfig } from '../src/config/schema.js';
import { EpochStage } from '../src/node/epochs.js';
import { NodeMetrics } from '../src/node/metrics.js';
import { describe, expect, it } from 'vitest';
import { EpochKeyring, SharedKeyTable } from '../src/node/epoch-keys.js';
import { KeyFileError, parseNodeKeyFile, type EpochKeyPair } from '../src/node/keys.js';
import { generateAuthorityKey, signTopology, TopologyIndex } from '../src/topology/document.js';
import type { NodeEntry } from '../src/topology/types.js';
import { expectLoopixError } from './helpers/errors.js';

const START = 1_800_000_000_000;
const LEN_S = 60;

function keyPair(epoch: number): EpochKeyPair {
  return { epoch, publicKey: Uint8Array.from(randomBytes(32)), privateKey: Uint8Array.from(randomBytes(32)) };
}

function node(id: string, role: 'mix' | 'provider', layer: number, next = true): NodeEntry {
  return {
    id,
    name: id.slice(0, 4),
    role,
    layer,
    udp: { host: '127.0.0.1', port: 4000 + layer },
    ...(role === 'provider' ? { ws: 'ws://127.0.0.1:1' } : {}),
    publicKey: 'aa'.repeat(32),
    ...(next ? { nextPublicKey: 'bb'.repeat(32) } : {}),
  };
}

function topology(o: { epoch?: number; next?: boolean; rotating?: boolean } = {}): TopologyIndex {
  const doc = signTopology(
    {
      version: 1,
      epoch: o.epoch ?? 10,
      issuedAt: new Date(START).toISOString(),
      ...(o.rotating === false ? {} : { epochLengthS: LEN_S, epochStartMs: START }),
      geometry: { maxHops: 6, addressBytes: 16, contentBytes: 1024 },
      layers: 1,
      nodes: [node('00'.repeat(16), 'provider', 0, o.next ?? true), node('11'.repeat(16), 'mix', 1, o.next ?? true)],
    },
    generateAuthorityKey(),
  );
  return new TopologyIndex(doc);
}

describe('topology epoch schedule', () => {
  it('counts epochs from epochStartMs and names the current and next keys', () => {
    const t = topology();
    expect(t.epochAt(START)).toBe(10);
    expect(t.epochAt(START + LEN_S * 1000 - 1)).toBe(10);
    expect(t.epochAt(START + LEN_S * 1000)).toBe(11);
    expect(t.epochStart(12)).toBe(START + 2 * LEN_S * 1000);
    const mix = t.layerNodes[1]![0]!;
    expect(t.keyFor(mix, 10)).toBe('aa'.repeat(32));
    expect(t.keyFor(mix, 11)).toBe('bb'.repeat(32));
    expect(t.keyFor(mix, 12)).toBeUndefined();
  });

  it('has senders switch to the next key at the boundary, and stay on the latest known one with a stale document', () => {
    const t = topology();
    expect(t.senderEpoch(START + 1000)).toBe(10);
    expect(t.senderEpoch(START + LEN_S * 1000)).toBe(11);
    expect(t.senderEpoch(START + 5 * LEN_S * 1000)).toBe(11); // stale: its packets will be counted as key_expired
    expect(topology({ next: false }).senderEpoch(START + LEN_S * 1000)).toBe(10); // next key not published yet
    expect(topology({ rotating: false }).senderEpoch(START + 99 * LEN_S * 1000)).toBe(10);
  });

  it('looks keys up by id in its own document, not in the entry it is handed (an older document’s)', () => {
    const older = topology({ epoch: 10 });
    const newer = topology({ epoch: 11 });
    const selfFromOlder = older.layerNodes[1]![0]!;
    expect(newer.keyFor(selfFromOlder, 12)).toBe('bb'.repeat(32));
    expect(newer.keyFor({ ...selfFromOlder, id: 'ff'.repeat(16) }, 11)).toBeUndefined();
  });

  it('refuses a schedule with only one of its two fields', () => {
    expect(() =>
      signTopology(
        {
          version: 1,
          epoch: 1,
          issuedAt: '',
          epochLengthS: 60,
          geometry: { maxHops: 6, addressBytes: 16, contentBytes: 1024 },
          layers: 1,
          nodes: [node('00'.repeat(16), 'provider', 0), node('11'.repeat(16), 'mix', 1)],
        },
        generateAuthorityKey(),
      ),
    ).toThrow(/epochLengthS and epochStartMs must be given together/);
  });
});

describe('node keyring', () => {
  const keys = () => [9, 10, 11, 12].map(keyPair);

  it('accepts the current and next epoch, the previous one only within the grace window, and says why not', () => {
    const t = topology();
    const ring = new EpochKeyring({ keys: keys(), topology: t, graceS: 20 });
    ring.tick(START + 5_000); // epoch 10, 5 s in: previous (9) still within grace
    expect(ring.liveEpochs).toEqual([9, 10, 11]);
    ring.tick(START + 21_000); // grace over
    expect(ring.liveEpochs).toEqual([10, 11]);
    expect(ring.resolve(10)).toBe(10);
    expect(ring.resolve(11)).toBe(11);
    expect(ring.resolve(9)).toBe('key_expired');
    expect(ring.resolve(12)).toBe('wrong_epoch'); // a key we have but that is not live yet
    expect(ring.resolve(0x8000 + 10)).toBe('wrong_epoch');
    ring.tick(START + LEN_S * 1000 + 1000); // epoch 11 began
    expect(ring.liveEpochs).toEqual([10, 11, 12]);
    expect(ring.storedEpochs).toEqual([10, 11, 12]); // 9's private key is gone
  });

  it('compares prefix epochs mod 2^16, as the packet carries them', () => {
    const t = topology({ epoch: 0x10000 + 5 });
    const ring = new EpochKeyring({ keys: [keyPair(0x10000 + 5)], topology: t, graceS: 0 });
    ring.tick(START);
    expect(ring.resolve(5)).toBe(0x10000 + 5);
  });

  it('wipes a retired key’s bytes, in its own copy and in the shared table', () => {
    const t = topology();
    const stored = keys();
    const original = Uint8Array.from(stored[1]!.privateKey);
    const table = new SharedKeyTable();
    const reader = new SharedKeyTable(table.buffer); // a worker's view of the same memory
    const ring = new EpochKeyring({ keys: stored, topology: t, graceS: 0, table });
    ring.tick(START + 1000);
    expect(Buffer.from(reader.lookup(10)!).equals(Buffer.from(original))).toBe(true);
    ring.tick(START + 2 * LEN_S * 1000 + 1000); // epoch 12: 10 retired
    expect(reader.lookup(10)).toBeUndefined();
    reader.sweep();
    expect(Buffer.from(table.buffer).includes(Buffer.from(original))).toBe(false);
  });

  it('retires a key early for good (a full replay filter) and never reinstalls it', () => {
    const ring = new EpochKeyring({ keys: keys(), topology: topology(), graceS: 0 });
    ring.tick(START + 1000);
    ring.retireEarly(10);
    expect(ring.resolve(10)).toBe('key_expired');
    ring.tick(START + 2000);
    ring.addKeys([keyPair(10)]);
    ring.tick(START + 3000);
    expect(ring.liveEpochs).toEqual([11]);
  });

  it('with a static topology accepts only the document’s epoch (and the next key if it has one)', () => {
    const ring = new EpochKeyring({ keys: [keyPair(10)], topology: topology({ rotating: false }), graceS: 120 });
    ring.tick(START + 1e9);
    expect(ring.liveEpochs).toEqual([10]);
  });
});

describe('key store file', () => {
  const hex = () => randomBytes(32).toString('hex');

  it('reads per-epoch keys sorted by epoch and a single key pair', () => {
    const f = parseNodeKeyFile(
      {
        type: 'x25519-epochs',
        keys: [
          { epoch: 3, publicKey: hex(), privateKey: hex() },
          { epoch: 2, publicKey: hex(), privateKey: hex() },
        ],
      },
      'k.json',
    );
    expect(f.kind === 'epochs' && f.keys.map((k) => k.epoch)).toEqual([2, 3]);
    expect(parseNodeKeyFile({ type: 'x25519', publicKey: hex(), privateKey: hex() }, 'k.json').kind).toBe('single');
  });

  it('names the field that is wrong', () => {
    expectLoopixError(
      () => parseNodeKeyFile({ type: 'x25519-epochs', keys: [] }, 'k.json'),
      'ERR_LOOPIX_KEYFILE_INVALID',
      'keys',
    );
    expectLoopixError(
      () =>
        parseNodeKeyFile(
          { type: 'x25519-epochs', keys: [{ epoch: -1, publicKey: hex(), privateKey: hex() }] },
          'k.json',
        ),
      'ERR_LOOPIX_KEYFILE_INVALID',
      'keys[0].epoch',
    );
    const dup = { epoch: 1, publicKey: hex(), privateKey: hex() };
    expectLoopixError(
      () => parseNodeKeyFile({ type: 'x25519-epochs', keys: [dup, dup] }, 'k.json'),
      'ERR_LOOPIX_KEYFILE_INVALID',
      'keys[1].epoch',
    );
    expect(() =>
      parseNodeKeyFile({ type: 'x25519-epochs', keys: [{ epoch: 1, publicKey: 'zz', privateKey: hex() }] }, 'k.json'),
    ).toThrow(KeyFileError);
  });
});

describe('topology file watch (long-running clients)', () => {
  it('adopts a newer signed document when the file changes and reports one signed by another key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'loopix-watch-'));
    try {
      const authority = generateAuthorityKey();
      const body = (epoch: number) => ({
        version: 1 as const,
        epoch,
        issuedAt: new Date(START + epoch).toISOString(),
        epochLengthS: LEN_S,
        epochStartMs: START + (epoch - 10) * LEN_S * 1000,
        geometry: { maxHops: 6, addressBytes: 16, contentBytes: 1024 },
        layers: 1,
        nodes: [node('00'.repeat(16), 'provider', 0), node('11'.repeat(16), 'mix', 1)],
      });
      const file = join(dir, 'topology.json');
      writeFileSync(file, JSON.stringify(signTopology(body(10), authority)));
      const seen: number[] = [];
      const errors: string[] = [];
      const watch = new TopologyWatch({
        file,
        authorityPublicKey: authority.publicKey,
        onUpdate: (t) => seen.push(t.doc.epoch),
        onError: (m) => errors.push(m),
      });
      watch.poll();
      expect(seen).toEqual([]); // unchanged
      writeFileSync(file, JSON.stringify(signTopology(body(11), authority)));
      utimesSync(file, new Date(), new Date(Date.now() + 2000));
      watch.poll();
      expect(seen).toEqual([11]);
      writeFileSync(file, JSON.stringify(signTopology(body(12), generateAuthorityKey())));
      utimesSync(file, new Date(), new Date(Date.now() + 4000));
      watch.poll();
      expect(seen).toEqual([11]);
      expect(errors[0]).toMatch(/not the trusted authority/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('epoch stage (keys + replay filter)', () => {
  it('never retires a key for its replay filter: tags beyond the rate budget are refused, the key stays live', () => {
    const t = topology({ rotating: false });
    // maxRatePps × (staticWindowS + 60 s) = 10 × 1060 tags; the budget at start is 10 × 60 = 600 tags.
    const config = parseConfig(
      NodeConfigSchema,
      {
        id: '11'.repeat(16),
        keyFile: '/nonexistent/k.json',
        topologyFile: '/nonexistent/t.json',
        authorityPublicKey: 'ab'.repeat(32),
        replay: { maxRatePps: 10, staticWindowS: 1000, persist: false },
      },
      'test',
    );
    const metrics = new NodeMetrics('11'.repeat(16), 'mix');
    const stage = new EpochStage({
      config,
      topology: t,
      keys: [keyPair(10)],
      selfId: '11'.repeat(16),
      stateDir: undefined,
      metrics,
      log: pino({ level: 'silent' }),
    });
    expect(stage.replay.capacity).toBe(10_600);
    expect(stage.resolve(10)).toBe(10);
    const packets = new Uint8Array(1314);
    packets[3] = 10; // prefix epoch 10 (big-endian uint16 at offset 2)
    const tags = Uint8Array.from(randomBytes(16 * 1000)); // replay tags are uniformly random
    const verdicts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      const v = String(stage.checkTag(packets, 0, tags, i * 16));
      verdicts[v] = (verdicts[v] ?? 0) + 1;
    }
    // 600, plus the 10/s the budget grows while the loop runs.
    expect(verdicts.true).toBeGreaterThanOrEqual(600);
    expect(verdicts.true).toBeLessThan(620);
    expect(verdicts.true! + verdicts.replay_budget!).toBe(1000);
    expect(stage.checkTag(packets, 0, tags, 0)).toBe('replay');
    expect(stage.resolve(10)).toBe(10);
    void stage.close();
  });
});
