/**
 * Key epochs on a node (docs/operations.md "Key epochs"; Loopix §2.2 assumes nodes' keys are published by a
 * directory, AnonPoP §5 rotates them per epoch). The node's X25519 key changes every `epochLengthS` seconds
 * of the topology's schedule. A packet names the epoch of its keys in its prefix (uint16, docs/packet-format.md
 * §2), so the node picks the key without trial decryption.
 *
 * Which keys are live at time t (epoch e = topology.epochAt(t)):
 *  - e's key;
 *  - e + 1's key, when the key store has it: senders whose clocks run slightly ahead, or who switched at
 *    the boundary a moment before us, are not punished;
 *  - e − 1's key until `graceS` after e began: a packet built just before the boundary still spends its
 *    Exp(µ) delays in flight (and a client may fetch the new document late). After that the key is
 *    retired: its private key is wiped and its packets are dropped as `key_expired`.
 * A key can also be retired early (`retireEarly`), when its replay filter cannot be opened (src/node/epochs.ts):
 * better to drop a key's packets than to forget which of them were seen.
 *
 * The worker threads read the live keys from a SharedArrayBuffer table (SharedKeyTable), so a rotation
 * reaches every worker without a message round trip and without copies of the secrets in message queues.
 */
import { FORMAT, RECORD_NO_KEY_REASON } from '../geometry.js';
import type { TopologyIndex } from '../topology/document.js';
import { copySecret, secretBytes, type EpochKeyPair } from './keys.js';

/**
 * Record `reason` byte a crypto worker writes for a packet whose prefix epoch had no live key when it got
 * there (the key was retired between the main thread's check and the unwrap); kind stays `invalid`. The
 * pipeline counts it as key_expired. Outside INVALID_REASONS on purpose.
 */
export const NO_KEY_REASON = RECORD_NO_KEY_REASON;

/** Offset of the key epoch (uint16 big-endian) in the packet prefix (docs/packet-format.md §2). */
const EPOCH_OFFSET = FORMAT.epochOffset;

/** The prefix epoch (mod 2^16) of the packet that starts at `packets[offset]`. */
export function prefixEpoch(packets: Uint8Array, offset: number): number {
  return (packets[offset + EPOCH_OFFSET]! << 8) | packets[offset + EPOCH_OFFSET + 1]!;
}

/** Key slots in the shared table: previous, current, next, and one spare for a rotation in progress. */
export const KEY_SLOTS = 4;
const KEY_BYTES = FORMAT.keyBytes;
/** Per slot two int32 words: generation (0 = empty) and the epoch mod 2^16. */
const HEADER_WORDS = 2;

/** Byte size of the shared table. */
export const KEY_TABLE_BYTES = KEY_SLOTS * HEADER_WORDS * 4 + KEY_SLOTS * KEY_BYTES;

/**
 * The live private keys, shared between the main thread (writer) and the crypto workers (readers).
 * Writer: key bytes first, then the generation (Atomics.store); clearing: generation 0 first, then the
 * bytes are zeroed. Reader: copies the key, then re-reads the generation; if it changed the copy is discarded.
 */
export class SharedKeyTable {
  readonly buffer: SharedArrayBuffer;
  private readonly header: Int32Array;
  private readonly keys: Uint8Array;
  private generation = 0;
  /** Reader side: per slot, the generation the local copy was taken at and the copy. */
  private readonly cachedGen = new Int32Array(KEY_SLOTS);
  // secretBytes: off the V8 heap, so no garbage collection leaves a stale copy of a key behind (src/node/keys.ts).
  private readonly cached: Uint8Array[] = Array.from({ length: KEY_SLOTS }, () => secretBytes(KEY_BYTES));

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(KEY_TABLE_BYTES)) {
    if (buffer.byteLength !== KEY_TABLE_BYTES)
      throw new RangeError(`key table must be ${KEY_TABLE_BYTES} bytes, got ${buffer.byteLength}`);
    this.buffer = buffer;
    this.header = new Int32Array(buffer, 0, KEY_SLOTS * HEADER_WORDS);
    this.keys = new Uint8Array(buffer, KEY_SLOTS * HEADER_WORDS * 4, KEY_SLOTS * KEY_BYTES);
  }

  /** Writer: puts `privateKey` for `epoch` into `slot`. */
  install(slot: number, epoch: number, privateKey: Uint8Array): void {
    this.clear(slot);
    this.keys.set(privateKey.subarray(0, KEY_BYTES), slot * KEY_BYTES);
    this.header[slot * HEADER_WORDS + 1] = epoch & 0xffff;
    Atomics.store(this.header, slot * HEADER_WORDS, ++this.generation);
  }

  /** Writer: empties `slot` and wipes its key bytes. */
  clear(slot: number): void {
    Atomics.store(this.header, slot * HEADER_WORDS, 0);
    this.keys.fill(0, slot * KEY_BYTES, (slot + 1) * KEY_BYTES);
  }

  /** Reader: the private key for prefix epoch `epoch16`, or undefined when no live key has that epoch. */
  lookup(epoch16: number): Uint8Array | undefined {
    for (let slot = 0; slot < KEY_SLOTS; slot++) {
      const at = slot * HEADER_WORDS;
      const gen = Atomics.load(this.header, at);
      if (gen === 0 || this.header[at + 1] !== epoch16) continue;
      if (this.cachedGen[slot] === gen) return this.cached[slot];
      const copy = this.cached[slot]!;
      copy.set(this.keys.subarray(slot * KEY_BYTES, (slot + 1) * KEY_BYTES));
      if (Atomics.load(this.header, at) !== gen) {
        copy.fill(0);
        this.cachedGen[slot] = 0;
        return undefined;
      }
      this.cachedGen[slot] = gen;
      return copy;
    }
    return undefined;
  }

  /** Reader: wipes local copies of keys whose slot changed (a thread with an event loop: after each batch and on a timer). */
  sweep(): void {
    for (let slot = 0; slot < KEY_SLOTS; slot++) {
      const gen = this.cachedGen[slot]!;
      if (gen !== 0 && Atomics.load(this.header, slot * HEADER_WORDS) !== gen) {
        this.cached[slot]!.fill(0);
        this.cachedGen[slot] = 0;
      }
    }
  }

  /**
   * Reader: wipes every local copy. For a thread that may block between batches with no timer running (a
   * piscina worker waits for its next task in Atomics.wait), so no copy of a key outlives the batch it served.
   */
  release(): void {
    for (let slot = 0; slot < KEY_SLOTS; slot++) {
      this.cached[slot]!.fill(0);
      this.cachedGen[slot] = 0;
    }
  }
}

/** Why a packet's prefix epoch has no live key. */
export type EpochRejection = 'key_expired' | 'wrong_epoch';

export interface KeyringOptions {
  readonly keys: readonly EpochKeyPair[];
  readonly topology: TopologyIndex;
  /** Seconds after an epoch begins during which the previous epoch's key is still accepted. */
  readonly graceS: number;
  readonly table?: SharedKeyTable;
}

export interface KeyChange {
  readonly installed: readonly number[];
  readonly retired: readonly number[];
  readonly current: number;
}

export class EpochKeyring {
  readonly table: SharedKeyTable;
  private topology: TopologyIndex;
  private readonly graceMs: number;
  /** Private keys not yet retired, by epoch (wiped when retired). */
  private readonly store = new Map<number, EpochKeyPair>();
  /** Live epochs and their table slot. */
  private readonly live = new Map<number, number>();
  /** Epochs retired before their time (replay filter full); never reinstalled. */
  private readonly retiredEarly = new Set<number>();
  /** Hot-path lookup: prefix epoch (mod 2^16) → full epoch, for live keys only. */
  private readonly byPrefix = new Map<number, number>();
  private currentEpoch: number;

  constructor(o: KeyringOptions) {
    this.table = o.table ?? new SharedKeyTable();
    this.topology = o.topology;
    this.graceMs = o.graceS * 1000;
    this.addKeys(o.keys);
    this.currentEpoch = o.topology.epochAt(Date.now());
  }

  get current(): number {
    return this.currentEpoch;
  }

  /** Epochs whose keys are live now, ascending. */
  get liveEpochs(): number[] {
    return [...this.live.keys()].sort((a, b) => a - b);
  }

  /** Epochs the key store holds (live or future). */
  get storedEpochs(): number[] {
    return [...this.store.keys()].sort((a, b) => a - b);
  }

  setTopology(topology: TopologyIndex): void {
    this.topology = topology;
  }

  /** Adds keys (a re-read key store); keys of epochs already retired are ignored. */
  addKeys(keys: readonly EpochKeyPair[]): void {
    for (const k of keys) {
      if (this.retiredEarly.has(k.epoch) || this.store.has(k.epoch)) continue;
      if (this.currentEpoch !== undefined && k.epoch < this.currentEpoch - 1) continue;
      this.store.set(k.epoch, {
        epoch: k.epoch,
        publicKey: Uint8Array.from(k.publicKey),
        privateKey: copySecret(k.privateKey),
      });
    }
  }

  /**
   * Brings the live set up to date for unix time `nowMs`: installs keys that became live, retires (and
   * wipes) keys whose grace window ended. Returns what changed.
   */
  tick(nowMs: number): KeyChange {
    const e = this.topology.epochAt(nowMs);
    this.currentEpoch = e;
    const want = new Set<number>();
    const prevOpen = this.topology.rotates && nowMs < this.topology.epochStart(e) + this.graceMs;
    for (const epoch of [e - 1, e, e + 1]) {
      if (epoch === e - 1 && !prevOpen) continue;
      if (this.store.has(epoch) && !this.retiredEarly.has(epoch)) want.add(epoch);
    }
    const retired: number[] = [];
    for (const [epoch, slot] of [...this.live]) {
      if (want.has(epoch)) continue;
      this.table.clear(slot);
      this.live.delete(epoch);
      retired.push(epoch);
    }
    const installed: number[] = [];
    for (const epoch of [...want].sort((a, b) => a - b)) {
      if (this.live.has(epoch)) continue;
      const slot = this.freeSlot();
      if (slot < 0) break; // cannot happen: at most 3 live epochs for 4 slots
      this.table.install(slot, epoch, this.store.get(epoch)!.privateKey);
      this.live.set(epoch, slot);
      installed.push(epoch);
    }
    // Keys behind the grace window can never be live again — retired just now, or never live (a node that
    // was down): wipe them.
    for (const epoch of [...this.store.keys()]) if (epoch < e - 1 || (epoch === e - 1 && !prevOpen)) this.wipe(epoch);
    this.byPrefix.clear();
    for (const epoch of this.live.keys()) this.byPrefix.set(epoch & 0xffff, epoch);
    return { installed, retired, current: e };
  }

  /** Retires `epoch`'s key now (its replay filter is full); the next tick will not reinstall it. */
  retireEarly(epoch: number): void {
    this.retiredEarly.add(epoch);
    const slot = this.live.get(epoch);
    if (slot !== undefined) {
      this.table.clear(slot);
      this.live.delete(epoch);
      this.byPrefix.delete(epoch & 0xffff);
    }
    this.wipe(epoch);
  }

  /**
   * The hot-path check of a packet's prefix epoch: the full epoch number when its key is live, else why not.
   * An epoch behind the current one (mod 2^16, up to 2^15 back) or retired early is `key_expired`; anything
   * else — a future epoch we have no key for, or garbage — is `wrong_epoch`.
   */
  resolve(epoch16: number): number | EpochRejection {
    const full = this.byPrefix.get(epoch16);
    if (full !== undefined) return full;
    const behind = ((this.currentEpoch & 0xffff) - epoch16) & 0xffff;
    if (behind >= 1 && behind < 0x8000) return 'key_expired';
    for (const e of this.retiredEarly) if ((e & 0xffff) === epoch16) return 'key_expired';
    return 'wrong_epoch';
  }

  /** The public key (hex) this node holds for `epoch`, if any (start-up and topology-refresh checks). */
  publicKeyHex(epoch: number): string | undefined {
    const k = this.store.get(epoch);
    return k ? Buffer.from(k.publicKey).toString('hex') : undefined;
  }

  /** Wipes every key (shutdown). */
  destroy(): void {
    for (const slot of this.live.values()) this.table.clear(slot);
    this.live.clear();
    this.byPrefix.clear();
    for (const epoch of [...this.store.keys()]) this.wipe(epoch);
  }

  private wipe(epoch: number): void {
    const k = this.store.get(epoch);
    if (!k) return;
    k.privateKey.fill(0);
    this.store.delete(epoch);
  }

  private freeSlot(): number {
    const used = new Set(this.live.values());
    for (let s = 0; s < KEY_SLOTS; s++) if (!used.has(s)) return s;
    return -1;
  }
}
