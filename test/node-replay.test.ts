/**
 * The replay filter (src/node/replay.ts, bloom.ts, replay-store.ts): the Bloom filter's measured false-positive
 * rate against the formula, no false negatives, no forgetting while a key is valid, and persistence — a tag
 * accepted before a crash (no snapshot, no clean close) is still a replay after a restore, across snapshot
 * generations, with torn log records and refusing damaged or mis-sized snapshots.
 */
import {
  mkdtempSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
  readFileSync,
  statSync,
  appendFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BloomFilter, bloomFalsePositiveRate, bloomSize } from '../src/node/bloom.js';
import { ReplayFilter } from '../src/node/replay.js';
import {
  LocalReplayGate,
  REPLAY_BUDGET,
  REPLAY_FILTER_FULL,
  REPLAY_FRESH,
  REPLAY_LOG_ERROR,
  REPLAY_SEEN,
  REPLAY_WRONG_EPOCH,
  type ReplayLogRequest,
} from '../src/node/shard-replay.js';
import { ReplayStore, ReplayStoreError } from '../src/node/replay-store.js';
import { expectLoopixError } from './helpers/errors.js';

/** A deterministic generator of uniformly random 16-byte tags (what HKDF output looks like). */
function tags(seed: number, n: number): Uint8Array {
  let s = seed >>> 0;
  const out = new Uint8Array(n * 16);
  for (let i = 0; i < out.length; i += 4) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const v = (t ^ (t >>> 14)) >>> 0;
    out[i] = v & 0xff;
    out[i + 1] = (v >>> 8) & 0xff;
    out[i + 2] = (v >>> 16) & 0xff;
    out[i + 3] = v >>> 24;
  }
  return out;
}

/** A filter persisted in `dir` (fsync off: the tests only need what reached the files). */
function persistent(
  dir: string,
  o: Partial<ConstructorParameters<typeof ReplayFilter>[0] & object> = {},
): { store: ReplayStore; filter: ReplayFilter } {
  const store = new ReplayStore(dir, 0);
  const filter = new ReplayFilter({ capacity: 10_000, ...o, store });
  filter.open(5);
  return { store, filter };
}

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'loopix-replay-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('Bloom filter sizing and false-positive rate', () => {
  it('sizes 10^6 tags at 10^-6 as 28.8 bits per tag with 20 probes', () => {
    const s = bloomSize(1_000_000, 1e-6);
    expect(s.bits / 1e6).toBeCloseTo(28.76, 1);
    expect(s.hashes).toBe(20);
    expect(bloomFalsePositiveRate(s, 1_000_000)).toBeLessThan(1.05e-6);
  });

  it('measures a false-positive rate at capacity within 25 % of the formula (and of the target)', () => {
    const n = 20_000;
    const size = bloomSize(n, 1e-2);
    const f = new BloomFilter(size);
    const inserted = tags(1, n);
    for (let i = 0; i < n; i++) f.addAt(inserted, i * 16);
    const probes = 200_000;
    const fresh = tags(2, probes);
    let fp = 0;
    for (let i = 0; i < probes; i++) if (f.hasAt(fresh, i * 16)) fp++;
    const expected = bloomFalsePositiveRate(size, f.inserted);
    expect(fp / probes).toBeGreaterThan(0.75 * expected);
    expect(fp / probes).toBeLessThan(1.25 * expected);
    expect(expected).toBeLessThan(1.05e-2);
  });

  it('has no false negatives: every inserted tag is reported as seen', () => {
    const f = new ReplayFilter({ capacity: 50_000 });
    const t = tags(3, 50_000);
    let fresh = 0,
      seen = 0;
    for (let i = 0; i < 50_000; i++) if (f.checkAt(9, t, i * 16) === true) fresh++;
    for (let i = 0; i < 50_000; i++) if (f.checkAt(9, t, i * 16) === 'replay') seen++;
    expect(fresh).toBeGreaterThanOrEqual(49_999); // at most a false positive or so at 10^-6
    expect(seen).toBe(50_000);
  });

  it('reads the tag in place from a record buffer (checkAt) exactly as check() does', () => {
    const f = new ReplayFilter(1024);
    const records = new Uint8Array(100);
    records.set(tags(4, 1), 40);
    expect(f.checkAt(1, records, 40)).toBe(true);
    expect(f.check(1, records.subarray(40, 72))).toBe(false);
  });

  it('alerts at 50, 75 and 90 % and, once full, fails closed: never forgets a tag, never resets, keeps refusing new ones', () => {
    const events: string[] = [];
    const f = new ReplayFilter({
      capacity: 2000,
      onAlert: (e, fr, n) => events.push(`${fr} ${e} ${n}`),
      onFull: (e) => events.push(`full ${e}`),
    });
    const t = tags(5, 2500);
    const verdicts = new Map<string, number>();
    for (let i = 0; i < 2500; i++) {
      const v = String(f.checkAt(3, t, i * 16));
      verdicts.set(v, (verdicts.get(v) ?? 0) + 1);
    }
    expect(events).toEqual(['0.5 3 1000', '0.75 3 1500', '0.9 3 1800', 'full 3']);
    expect(verdicts.get('true')).toBe(2000);
    expect(verdicts.get('replay_filter_full')).toBe(500);
    for (let i = 0; i < 2000; i++) expect(f.checkAt(3, t, i * 16)).toBe('replay');
    for (let i = 2000; i < 2500; i++) expect(f.checkAt(3, t, i * 16)).toBe('replay_filter_full');
    expect(f.count(3)).toBe(2000);
  });

  it('admits no more tags than the rate budget allows, so it cannot fill before the key’s lifetime ends', () => {
    let now = 1_000_000;
    const rate = 10; // tags/s; capacity = rate × (lifetime 100 s + burst 60 s)
    const f = new ReplayFilter({ capacity: 1600, ratePps: rate, epochStartMs: () => 1_000_000, now: () => now });
    const t = tags(6, 3000);
    let admitted = 0;
    let i = 0;
    // At t = 0 the budget is the burst: 600 tags; a flood beyond it is refused as replay_budget.
    for (; i < 1000; i++) if (f.checkAt(1, t, i * 16) === true) admitted++;
    expect(admitted).toBe(600);
    expect(f.checkAt(1, t, 0)).toBe('replay'); // a tag it holds is still a replay, not a budget refusal
    // 50 s later: 500 more.
    now += 50_000;
    for (; i < 2000; i++) if (f.checkAt(1, t, i * 16) === true) admitted++;
    expect(admitted).toBe(1100);
    // At the end of the key's lifetime (100 s) the budget reaches the capacity, not before.
    now += 49_000;
    for (; i < 3000; i++) if (f.checkAt(1, t, i * 16) === true) admitted++;
    expect(admitted).toBe(1590);
    expect(f.count(1)).toBeLessThan(f.capacity);
  });
});

describe('replay filter persistence (snapshot + log)', () => {
  const size = bloomSize(10_000, 1e-6);

  /** A persistent filter for epoch 5 over `dir`, as a (re)started node opens it. */

  /** A filter as the node uses it: check, then one flush per batch. */
  function accept(store: ReplayStore, filter: ReplayFilter, t: Uint8Array, from: number, to: number, epoch = 5): void {
    for (let i = from; i < to; i++) expect(filter.checkAt(epoch, t, i * 16)).toBe(true);
    filter.flush();
  }

  it('a tag accepted before a crash (no snapshot, no close) is a replay after the restore', () => {
    const dir = tempDir();
    const t = tags(10, 3000);
    const { store, filter } = persistent(dir);
    accept(store, filter, t, 0, 3000);
    // "Crash": the objects are abandoned; only what reached the files counts.
    const restored = persistent(dir).filter;
    for (let i = 0; i < 3000; i++) expect(restored.checkAt(5, t, i * 16)).toBe('replay');
    expect(restored.count(5)).toBe(3000);
  });

  it('restores snapshot + newer log generations and deletes the logs a snapshot covers', async () => {
    const dir = tempDir();
    const t = tags(11, 6000);
    const { store, filter } = persistent(dir);
    accept(store, filter, t, 0, 2000);
    await filter.snapshot();
    accept(store, filter, t, 2000, 4000);
    await filter.snapshot();
    accept(store, filter, t, 4000, 5000);
    const files = readdirSync(dir).sort();
    expect(files.filter((f) => f.endsWith('.snap'))).toEqual(['replay-5.snap']);
    expect(files.filter((f) => f.endsWith('.log'))).toHaveLength(1); // older generations were covered and deleted
    const infos: unknown[] = [];
    const restored = persistent(dir, { onRestore: (_e, info) => infos.push(info) }).filter;
    expect(infos).toEqual([{ fromSnapshot: true, logTags: 1000, inserted: 5000 }]);
    for (let i = 0; i < 5000; i++) expect(restored.checkAt(5, t, i * 16)).toBe('replay');
    for (let i = 5000; i < 6000; i++) expect(restored.checkAt(5, t, i * 16)).toBe(true);
  });

  it('ignores a torn last log record (a crash inside write) and keeps every whole one', () => {
    const dir = tempDir();
    const t = tags(12, 100);
    const { store, filter } = persistent(dir);
    accept(store, filter, t, 0, 100);
    const log = readdirSync(dir).find((f) => f.endsWith('.log'))!;
    appendFileSync(join(dir, log), Buffer.alloc(7, 0xaa));
    const restored = persistent(dir).filter;
    expect(restored.count(5)).toBe(100);
  });

  it('refuses a corrupt snapshot and one sized for another configuration, naming the file', async () => {
    const dir = tempDir();
    const { store, filter } = persistent(dir);
    accept(store, filter, tags(13, 10), 0, 10);
    await filter.snapshot();
    store.close();
    const snapFile = join(dir, 'replay-5.snap');
    expectLoopixError(
      () => new ReplayFilter({ capacity: 20_000, store: new ReplayStore(dir, 0) }).open(5),
      'ERR_LOOPIX_REPLAY_STATE_MISMATCH',
      snapFile,
    );
    const snap = join(dir, 'replay-5.snap');
    const bytes = readFileSync(snap);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    writeFileSync(snap, bytes);
    expect(() => new ReplayFilter({ capacity: 10_000, store: new ReplayStore(dir, 0) }).open(5)).toThrow(
      ReplayStoreError,
    );
    truncateSync(snap, 100);
    expectLoopixError(
      () => new ReplayFilter({ capacity: 10_000, store: new ReplayStore(dir, 0) }).open(5),
      'ERR_LOOPIX_REPLAY_STATE_CORRUPT',
      snapFile,
    );
  });

  it('keeps epochs apart and deletes a retired epoch’s files', () => {
    const dir = tempDir();
    const t = tags(14, 10);
    const { filter } = persistent(dir);
    filter.open(6);
    expect(filter.checkAt(5, t, 0)).toBe(true);
    expect(filter.checkAt(6, t, 0)).toBe(true);
    filter.flush();
    filter.retainEpochs([6]);
    expect(readdirSync(dir).some((f) => f.startsWith('replay-5'))).toBe(false);
    expect(filter.checkAt(6, t, 0)).toBe('replay');
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(size.bits).toBeGreaterThan(0);
  });
});

describe('the sharded path’s replay gate: workers check in place against the shared filters', () => {
  /** A filter of 4,096 tags with a budget, and two gates over it as two workers would hold them. */
  function twoWorkers(o: { persist?: boolean; resetWhenFull?: boolean; ratePps?: number; capacity?: number } = {}) {
    const filter = new ReplayFilter({ capacity: o.capacity ?? 4096, ratePps: o.ratePps, epochStartMs: () => 0 });
    filter.open(7);
    const posted: ReplayLogRequest[] = [];
    const resets: number[] = [];
    const gate = (index: number) =>
      new LocalReplayGate({
        params: filter.sharedParams,
        filters: filter.sharedEpochs(),
        rejection: () => REPLAY_WRONG_EPOCH,
        persist: o.persist ? (m) => posted.push(m) : undefined,
        resetWhenFull: o.resetWhenFull ?? false,
        onReset: () => resets.push(index),
        now: () => 1_000,
      });
    return { filter, posted, resets, a: gate(0), b: gate(1) };
  }
  const verdictsOf = (gate: LocalReplayGate, t: Uint8Array, count: number, epoch16 = 7): Uint8Array | undefined => {
    let out: Uint8Array | undefined;
    gate.check(new Uint16Array(count).fill(epoch16), t, count, (v) => (out = v));
    return out;
  };

  it('calls a tag fresh once across workers, and a replay on the other worker too', () => {
    const { filter, a, b } = twoWorkers();
    const t = tags(20, 64);
    expect([...verdictsOf(a, t, 64)!]).toEqual(new Array(64).fill(REPLAY_FRESH));
    expect([...verdictsOf(b, t, 64)!]).toEqual(new Array(64).fill(REPLAY_SEEN));
    // The main thread's filter (its gauges, snapshots and log) sees the workers' tags.
    expect(filter.count(7)).toBe(64);
    for (let i = 0; i < 64; i++) expect(filter.checkAt(7, t, i * 16)).toBe('replay');
  });

  it('refuses a prefix epoch without a live filter, and adopts the filters of a key change', () => {
    const { filter, a } = twoWorkers();
    const t = tags(21, 1);
    expect([...verdictsOf(a, t, 1, 8)!]).toEqual([REPLAY_WRONG_EPOCH]);
    filter.open(8);
    a.setFilters(filter.sharedEpochs());
    expect([...verdictsOf(a, t, 1, 8)!]).toEqual([REPLAY_FRESH]);
  });

  it('applies the rate budget and fails closed when full, like the pool path', () => {
    // Budget R × (1 s + burst) = 2 × 61 = 122 tags at t = 1 s.
    const budgeted = twoWorkers({ ratePps: 2 });
    const t = tags(22, 200);
    const v = verdictsOf(budgeted.a, t, 200)!;
    expect(v.filter((x) => x === REPLAY_FRESH)).toHaveLength(122);
    expect(v.filter((x) => x === REPLAY_BUDGET)).toHaveLength(78);
    const full = twoWorkers({ capacity: 1024 });
    const many = tags(23, 1100);
    const w = verdictsOf(full.a, many, 1100)!;
    expect(w.filter((x) => x === REPLAY_FILTER_FULL).length).toBeGreaterThanOrEqual(76);
    expect(full.filter.count(7)).toBe(1024);
  });

  it('empties a full filter only with the benchmark flag, counting each reset', () => {
    const { a, resets, filter } = twoWorkers({ capacity: 1024, resetWhenFull: true });
    const v = verdictsOf(a, tags(24, 1100), 1100)!;
    expect(v.every((x) => x === REPLAY_FRESH)).toBe(true);
    expect(resets.length).toBeGreaterThanOrEqual(1);
    expect(filter.count(7)).toBeLessThan(1024);
  });

  it('with persistence, lets no packet leave before the main thread has logged its tag, and none if the log failed', () => {
    const { a, posted } = twoWorkers({ persist: true });
    const t = tags(25, 8);
    expect(verdictsOf(a, t, 8)).toBeUndefined(); // waits for the log
    expect(posted).toHaveLength(1);
    expect(posted[0]!.count).toBe(8);
    expect([...posted[0]!.epochs]).toEqual(new Array(8).fill(7));
    expect(posted[0]!.tags).toEqual(t);
    let out: Uint8Array | undefined;
    a.check(new Uint16Array(8).fill(7), tags(26, 8), 8, (v) => (out = v));
    a.logged(posted[0]!.id, true);
    a.logged(posted[1]!.id, false);
    expect([...out!]).toEqual(new Array(8).fill(REPLAY_LOG_ERROR));
    // A batch of replays only (nothing fresh) needs no log: its verdicts come at once.
    expect([...verdictsOf(a, t, 8)!]).toEqual(new Array(8).fill(REPLAY_SEEN));
  });

  it('the main thread logs what the workers admitted: a restored filter knows their tags', () => {
    const dir = tempDir();
    const { store, filter } = persistent(dir);
    const gate = new LocalReplayGate({
      params: filter.sharedParams,
      filters: filter.sharedEpochs(),
      rejection: () => REPLAY_WRONG_EPOCH,
      persist: (m) => {
        for (let i = 0; i < m.count; i++) filter.stageAdmitted(m.epochs[i]!, m.tags, i * 16);
        filter.flush();
        gate.logged(m.id, true);
      },
      resetWhenFull: false,
      onReset: () => undefined,
    });
    const t = tags(27, 100);
    let v: Uint8Array | undefined;
    gate.check(new Uint16Array(100).fill(5), t, 100, (x) => (v = x));
    expect(v!.every((x) => x === REPLAY_FRESH)).toBe(true);
    void store; // not closed: a crash would not close it either (close() would flush what was staged)
    const restored = persistent(dir).filter;
    for (let i = 0; i < 100; i++) expect(restored.checkAt(5, t, i * 16)).toBe('replay');
  });
});
