/**
 * Packet contents, framing version 2 (docs/packet-format.md §13 "Client content frames"). Byte 0 of every C-byte
 * content says what it is:
 *
 *   0x01  FRAGMENT v1 (src/client/fragments.ts): a fragment without acknowledgement; still accepted.
 *   0x02  DATA: one fragment of an envelope (src/client/envelope.ts), with how to acknowledge it:
 *           type 1 | ackMode 1 | envelopeId 16 | index 3 | count 3 | length 2 | sentAt 6 | [SURB-ack] | data
 *         ackMode 0: no ack; 1: a SURB-ack of geometry.surbBytes follows the header (forward messages: the
 *         recipient answers through it); 2: the recipient acknowledges with an ACK frame sent forward to the
 *         sender's address, which it knows (fragments of replies, whose sender has no SURB of the recipient).
 *   0x03  ACK: count 1 | count × (envelopeId 16 | index 3): "I hold these fragments".
 *
 * Every content is zero-padded to C bytes, so the frame type never changes a packet's size.
 */
import type { Geometry } from '../geometry.js';
import { getUint, putUint } from './bytes.js';
import { MESSAGE_ID_BYTES } from './fragments.js';

export const FrameType = Object.freeze({ FRAGMENT_V1: 0x01, DATA: 0x02, ACK: 0x03 } as const);
export const AckMode = Object.freeze({ NONE: 0, SURB: 1, FORWARD: 2 } as const);
export type AckModeCode = (typeof AckMode)[keyof typeof AckMode];

/** type, ackMode, envelope id, index (uint24), count (uint24), length (uint16), sentAt (uint48 ms). */
export const DATA_HEADER_BYTES = 1 + 1 + MESSAGE_ID_BYTES + 3 + 3 + 2 + 6;
const AT = {
  ackMode: 1,
  id: 2,
  index: 2 + MESSAGE_ID_BYTES,
  count: 5 + MESSAGE_ID_BYTES,
  length: 8 + MESSAGE_ID_BYTES,
  sentAt: 10 + MESSAGE_ID_BYTES,
} as const;
/** One acknowledged fragment in an ACK frame: envelope id and uint24 index. */
export const ACK_ENTRY_BYTES = MESSAGE_ID_BYTES + 3;
const ACK_HEADER_BYTES = 2;
export const MAX_FRAGMENTS_V2 = 0xff_ffff;

/** Data bytes one DATA fragment carries with `mode` (a SURB-ack takes geometry.surbBytes). */
export function dataCapacity(g: Geometry, mode: AckModeCode): number {
  return g.contentBytes - DATA_HEADER_BYTES - (mode === AckMode.SURB ? g.surbBytes : 0);
}

/** Whether this geometry leaves room for a SURB-ack and at least one data byte. */
export function supportsSurbAcks(g: Geometry): boolean {
  return dataCapacity(g, AckMode.SURB) >= 1;
}

/** Entries one ACK frame holds. */
export function ackCapacity(g: Geometry): number {
  return Math.min(255, Math.floor((g.contentBytes - ACK_HEADER_BYTES) / ACK_ENTRY_BYTES));
}

export interface DataFragment {
  readonly envelopeId: Uint8Array;
  readonly index: number;
  readonly count: number;
  readonly sentAtMs: number;
  readonly ackMode: AckModeCode;
  /** The SURB-ack (ackMode 1), geometry.surbBytes. */
  readonly surb?: Uint8Array;
  readonly data: Uint8Array;
}

/** Splits envelope bytes into fragment data slices of dataCapacity(mode). */
export function splitData(g: Geometry, bytes: Uint8Array, mode: AckModeCode): Uint8Array[] {
  const cap = dataCapacity(g, mode);
  const count = Math.max(1, Math.ceil(bytes.length / cap));
  if (count > MAX_FRAGMENTS_V2)
    throw new RangeError(`an envelope of ${bytes.length} bytes needs more than ${MAX_FRAGMENTS_V2} fragments`);
  return Array.from({ length: count }, (_, i) => bytes.slice(i * cap, Math.min(bytes.length, (i + 1) * cap)));
}

/** One DATA content (C bytes). `surb` is required for ackMode SURB. */
export function encodeData(g: Geometry, f: DataFragment): Uint8Array {
  const c = new Uint8Array(g.contentBytes);
  c[0] = FrameType.DATA;
  c[AT.ackMode] = f.ackMode;
  c.set(f.envelopeId, AT.id);
  putUint(c, AT.index, 3, f.index);
  putUint(c, AT.count, 3, f.count);
  putUint(c, AT.length, 2, f.data.length);
  putUint(c, AT.sentAt, 6, Math.max(0, Math.min(2 ** 48 - 1, Math.floor(f.sentAtMs))));
  let at = DATA_HEADER_BYTES;
  if (f.ackMode === AckMode.SURB) {
    if (!f.surb || f.surb.length !== g.surbBytes)
      throw new RangeError(`surb must be ${g.surbBytes} bytes for ackMode SURB`);
    c.set(f.surb, at);
    at += g.surbBytes;
  }
  if (f.data.length > g.contentBytes - at)
    throw new RangeError(`fragment data must be at most ${g.contentBytes - at} bytes, got ${f.data.length}`);
  c.set(f.data, at);
  return c;
}

export type DecodedFrame =
  | { readonly type: 'data'; readonly fragment: DataFragment }
  | { readonly type: 'ack'; readonly entries: ReadonlyArray<{ envelopeId: Uint8Array; index: number }> }
  | { readonly type: 'fragment_v1' }
  | { readonly type: 'invalid'; readonly reason: string };

/** Parses one content; never throws. Slices are copies. */
export function decodeFrame(g: Geometry, c: Uint8Array): DecodedFrame {
  if (c.length < 1) return { type: 'invalid', reason: 'short' };
  switch (c[0]) {
    case FrameType.FRAGMENT_V1:
      return { type: 'fragment_v1' };
    case FrameType.DATA: {
      if (c.length < DATA_HEADER_BYTES) return { type: 'invalid', reason: 'short' };
      const ackMode = c[AT.ackMode]!;
      if (ackMode !== AckMode.NONE && ackMode !== AckMode.SURB && ackMode !== AckMode.FORWARD)
        return { type: 'invalid', reason: 'ack_mode' };
      const index = getUint(c, AT.index, 3);
      const count = getUint(c, AT.count, 3);
      const length = getUint(c, AT.length, 2);
      if (count < 1) return { type: 'invalid', reason: 'count' };
      if (index >= count) return { type: 'invalid', reason: 'index' };
      const at = DATA_HEADER_BYTES + (ackMode === AckMode.SURB ? g.surbBytes : 0);
      if (at + length > c.length) return { type: 'invalid', reason: 'length' };
      const mode = ackMode;
      if (index < count - 1 && length !== dataCapacity(g, mode)) return { type: 'invalid', reason: 'length' };
      return {
        type: 'data',
        fragment: {
          envelopeId: c.slice(AT.id, AT.id + MESSAGE_ID_BYTES),
          index,
          count,
          sentAtMs: getUint(c, AT.sentAt, 6),
          ackMode: mode,
          ...(mode === AckMode.SURB ? { surb: c.slice(DATA_HEADER_BYTES, DATA_HEADER_BYTES + g.surbBytes) } : {}),
          data: c.slice(at, at + length),
        },
      };
    }
    case FrameType.ACK: {
      const n = c[1] ?? 0;
      if (n < 1 || ACK_HEADER_BYTES + n * ACK_ENTRY_BYTES > c.length) return { type: 'invalid', reason: 'ack_count' };
      const entries = [];
      for (let i = 0; i < n; i++) {
        const at = ACK_HEADER_BYTES + i * ACK_ENTRY_BYTES;
        entries.push({ envelopeId: c.slice(at, at + MESSAGE_ID_BYTES), index: getUint(c, at + MESSAGE_ID_BYTES, 3) });
      }
      return { type: 'ack', entries };
    }
    default:
      return { type: 'invalid', reason: 'type' };
  }
}

/** One ACK content (C bytes) for up to ackCapacity(g) fragments. */
export function encodeAck(g: Geometry, entries: ReadonlyArray<{ envelopeId: Uint8Array; index: number }>): Uint8Array {
  if (entries.length < 1 || entries.length > ackCapacity(g))
    throw new RangeError(`an ACK frame holds 1..${ackCapacity(g)} entries, got ${entries.length}`);
  const c = new Uint8Array(g.contentBytes);
  c[0] = FrameType.ACK;
  c[1] = entries.length;
  entries.forEach((e, i) => {
    const at = ACK_HEADER_BYTES + i * ACK_ENTRY_BYTES;
    c.set(e.envelopeId, at);
    putUint(c, at + MESSAGE_ID_BYTES, 3, e.index);
  });
  return c;
}
