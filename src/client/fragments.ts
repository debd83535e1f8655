/**
 * Messages ↔ packet contents. A message of up to `maxMessageBytes` is split into fragments, each filling one
 * packet's `geometry.contentBytes` (C) content: a small header, then data.
 *
 *   type      1  0x01 (a message fragment)
 *   messageId 16 random, the same for every fragment of a message
 *   index     3  uint24 big-endian, 0-based
 *   count     3  uint24 big-endian, ≥ 1 (an empty message is one fragment with no data)
 *   length    2  uint16 big-endian: data bytes in this fragment (C − 31 for all but the last)
 *   sentAt    6  uint48 big-endian: sender's wall clock (ms since 1970) when send() was called, for latency
 *   data      length bytes; the rest of the C bytes is zero padding
 *
 * 31 header bytes leave at least one data byte at the smallest legal C (32). The reassembler accepts
 * fragments in any order, ignores duplicates (also of messages it already completed), and bounds memory:
 * incomplete messages expire after `expireMs` and the oldest are evicted beyond `maxIncompleteMessages` or
 * `maxIncompleteBytes`.
 */
import type { Geometry } from '../geometry.js';
import { bytesToHex } from './bytes.js';

export const FRAGMENT_TYPE = 0x01;
export const MESSAGE_ID_BYTES = 16;
export const FRAGMENT_HEADER_BYTES = 1 + MESSAGE_ID_BYTES + 3 + 3 + 2 + 6;
export const MAX_FRAGMENTS = 0xff_ffff;

/** Data bytes one fragment carries. */
export function fragmentCapacity(g: Geometry): number {
  return g.contentBytes - FRAGMENT_HEADER_BYTES;
}

/** Fragments a message of `size` bytes needs (at least one). */
export function fragmentCount(g: Geometry, size: number): number {
  return Math.max(1, Math.ceil(size / fragmentCapacity(g)));
}

function checkMaxMessageBytes(g: Geometry, maxMessageBytes: number): void {
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1)
    throw new RangeError(`maxMessageBytes must be a positive integer, got ${maxMessageBytes}`);
  if (fragmentCount(g, maxMessageBytes) > MAX_FRAGMENTS) {
    throw new RangeError(
      `maxMessageBytes ${maxMessageBytes} needs more than ${MAX_FRAGMENTS} fragments of ${fragmentCapacity(g)} bytes`,
    );
  }
}

export interface Fragment {
  readonly messageId: Uint8Array;
  readonly index: number;
  readonly count: number;
  readonly data: Uint8Array;
  readonly sentAtMs: number;
}

export interface FragmentedMessage {
  readonly messageId: Uint8Array;
  /** One C-byte packet content per fragment, in order. */
  readonly contents: Uint8Array[];
}

export interface FragmentOptions {
  readonly maxMessageBytes: number;
  /** 16 bytes; random when omitted. */
  readonly messageId?: Uint8Array;
  /** Wall clock of the send, ms; Date.now() when omitted. */
  readonly sentAtMs?: number;
}

function putUint(view: DataView, at: number, bytes: number, value: number): void {
  for (let i = bytes - 1; i >= 0; i--) {
    view.setUint8(at + i, value % 256);
    value = Math.floor(value / 256);
  }
}

function getUint(view: DataView, at: number, bytes: number): number {
  let v = 0;
  for (let i = 0; i < bytes; i++) v = v * 256 + view.getUint8(at + i);
  return v;
}

/** Splits `bytes` into packet contents. Throws a RangeError naming `bytes` when it exceeds maxMessageBytes. */
export function fragmentMessage(g: Geometry, bytes: Uint8Array, o: FragmentOptions): FragmentedMessage {
  checkMaxMessageBytes(g, o.maxMessageBytes);
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  if (bytes.length > o.maxMessageBytes)
    throw new RangeError(`bytes must be at most maxMessageBytes = ${o.maxMessageBytes} bytes, got ${bytes.length}`);
  const messageId = o.messageId ?? crypto.getRandomValues(new Uint8Array(MESSAGE_ID_BYTES));
  if (messageId.length !== MESSAGE_ID_BYTES)
    throw new RangeError(`messageId must be ${MESSAGE_ID_BYTES} bytes, got ${messageId.length}`);
  const sentAtMs = Math.max(0, Math.min(2 ** 48 - 1, Math.floor(o.sentAtMs ?? Date.now())));
  const cap = fragmentCapacity(g);
  const count = fragmentCount(g, bytes.length);
  const contents: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const data = bytes.subarray(index * cap, Math.min(bytes.length, (index + 1) * cap));
    const c = new Uint8Array(g.contentBytes);
    const v = new DataView(c.buffer);
    c[0] = FRAGMENT_TYPE;
    c.set(messageId, 1);
    putUint(v, 17, 3, index);
    putUint(v, 20, 3, count);
    putUint(v, 23, 2, data.length);
    putUint(v, 25, 6, sentAtMs);
    c.set(data, FRAGMENT_HEADER_BYTES);
    contents.push(c);
  }
  return { messageId: Uint8Array.from(messageId), contents };
}

export type DecodeResult =
  { readonly ok: true; readonly fragment: Fragment } | { readonly ok: false; readonly reason: string };

/** Parses one packet content; never throws. `data` is a copy. */
export function decodeFragment(g: Geometry, content: Uint8Array, maxMessageBytes: number): DecodeResult {
  if (content.length < FRAGMENT_HEADER_BYTES) return { ok: false, reason: 'short' };
  if (content[0] !== FRAGMENT_TYPE) return { ok: false, reason: 'type' };
  const v = new DataView(content.buffer, content.byteOffset, content.length);
  const index = getUint(v, 17, 3);
  const count = getUint(v, 20, 3);
  const length = getUint(v, 23, 2);
  const sentAtMs = getUint(v, 25, 6);
  const cap = fragmentCapacity(g);
  if (count < 1 || count > fragmentCount(g, maxMessageBytes)) return { ok: false, reason: 'count' };
  if (index >= count) return { ok: false, reason: 'index' };
  if (length > cap || FRAGMENT_HEADER_BYTES + length > content.length) return { ok: false, reason: 'length' };
  if (index < count - 1 && length !== cap) return { ok: false, reason: 'length' };
  if (index === count - 1 && (count - 1) * cap + length > maxMessageBytes) return { ok: false, reason: 'size' };
  return {
    ok: true,
    fragment: {
      messageId: content.slice(1, 1 + MESSAGE_ID_BYTES),
      index,
      count,
      data: content.slice(FRAGMENT_HEADER_BYTES, FRAGMENT_HEADER_BYTES + length),
      sentAtMs,
    },
  };
}

export interface ReassembledMessage {
  /** Hex of the 16-byte message id. */
  readonly messageId: string;
  readonly bytes: Uint8Array;
  /** Sender's wall clock at send(). */
  readonly sentAtMs: number;
}

export type AddResult =
  | { readonly status: 'complete'; readonly message: ReassembledMessage }
  | { readonly status: 'partial' }
  | { readonly status: 'duplicate' }
  | { readonly status: 'invalid'; readonly reason: string };

export interface ReassemblerOptions {
  readonly maxMessageBytes: number;
  /** An incomplete message is discarded this long after its first fragment arrived (default 10 min). */
  readonly expireMs?: number;
  /** At most this many incomplete messages (default 1024); the oldest is evicted first. */
  readonly maxIncompleteMessages?: number;
  /** At most this many buffered data bytes (default max(4 × maxMessageBytes, 16 MiB)). */
  readonly maxIncompleteBytes?: number;
  /** Ids of completed messages remembered to drop late duplicates (default 16384). */
  readonly rememberCompleted?: number;
  /** Monotonic or wall clock, ms (default Date.now). */
  readonly now?: () => number;
}

interface Pending {
  readonly count: number;
  readonly firstAt: number;
  readonly sentAtMs: number;
  readonly parts: Map<number, Uint8Array>;
  bytes: number;
}

/** Puts fragments back together; bounded memory. */
export class Reassembler {
  private readonly g: Geometry;
  private readonly maxMessageBytes: number;
  private readonly expireMs: number;
  private readonly maxIncompleteMessages: number;
  private readonly maxIncompleteBytes: number;
  private readonly rememberCompleted: number;
  private readonly now: () => number;
  /** Insertion order = age order. */
  private readonly partials = new Map<string, Pending>();
  private readonly completed = new Map<string, number>();
  private bufferedBytes = 0;
  /** Incomplete messages discarded (expired or evicted). */
  discarded = 0;

  constructor(g: Geometry, o: ReassemblerOptions) {
    checkMaxMessageBytes(g, o.maxMessageBytes);
    this.g = g;
    this.maxMessageBytes = o.maxMessageBytes;
    this.expireMs = o.expireMs ?? 600_000;
    this.maxIncompleteMessages = o.maxIncompleteMessages ?? 1024;
    this.maxIncompleteBytes = Math.max(
      o.maxIncompleteBytes ?? Math.max(4 * o.maxMessageBytes, 16 * 1024 * 1024),
      o.maxMessageBytes,
    );
    this.rememberCompleted = o.rememberCompleted ?? 16_384;
    this.now = o.now ?? Date.now;
  }

  /** Incomplete messages held. */
  get incomplete(): number {
    return this.partials.size;
  }

  /** Data bytes held for incomplete messages. */
  get incompleteBytes(): number {
    return this.bufferedBytes;
  }

  /** Adds one packet content (C bytes). Never throws. */
  add(content: Uint8Array): AddResult {
    const decoded = decodeFragment(this.g, content, this.maxMessageBytes);
    if (!decoded.ok) return { status: 'invalid', reason: decoded.reason };
    return this.addFragment(decoded.fragment);
  }

  addFragment(f: Fragment): AddResult {
    this.expire();
    const id = bytesToHex(f.messageId);
    if (this.completed.has(id)) return { status: 'duplicate' };
    let p = this.partials.get(id);
    if (p && p.count !== f.count) return { status: 'invalid', reason: 'count_mismatch' };
    if (f.count === 1) {
      this.markCompleted(id);
      return { status: 'complete', message: { messageId: id, bytes: f.data, sentAtMs: f.sentAtMs } };
    }
    if (!p) {
      p = { count: f.count, firstAt: this.now(), sentAtMs: f.sentAtMs, parts: new Map(), bytes: 0 };
      this.partials.set(id, p);
    }
    if (p.parts.has(f.index)) return { status: 'duplicate' };
    p.parts.set(f.index, f.data);
    p.bytes += f.data.length;
    this.bufferedBytes += f.data.length;
    if (p.parts.size === p.count) {
      this.partials.delete(id);
      this.bufferedBytes -= p.bytes;
      // Every fragment but the last is full, so concatenating in index order rebuilds the bytes (framing v1
      // and v2 differ in capacity, not in this).
      const bytes = new Uint8Array(p.bytes);
      for (let index = 0, at = 0; index < p.count; index++) {
        const data = p.parts.get(index)!;
        bytes.set(data, at);
        at += data.length;
      }
      this.markCompleted(id);
      return { status: 'complete', message: { messageId: id, bytes, sentAtMs: p.sentAtMs } };
    }
    this.evict(id);
    return { status: 'partial' };
  }

  /** Drops incomplete messages older than expireMs; returns how many. */
  expire(): number {
    const cutoff = this.now() - this.expireMs;
    let n = 0;
    for (const [id, p] of this.partials) {
      if (p.firstAt > cutoff) break;
      this.drop(id, p);
      n++;
    }
    return n;
  }

  private evict(keep: string): void {
    for (const [id, p] of this.partials) {
      if (this.partials.size <= this.maxIncompleteMessages && this.bufferedBytes <= this.maxIncompleteBytes) return;
      if (id !== keep) this.drop(id, p);
    }
  }

  private drop(id: string, p: Pending): void {
    this.partials.delete(id);
    this.bufferedBytes -= p.bytes;
    this.discarded++;
  }

  private markCompleted(id: string): void {
    this.completed.set(id, this.now());
    while (this.completed.size > this.rememberCompleted) {
      const oldest = this.completed.keys().next().value as string;
      this.completed.delete(oldest);
    }
  }
}
