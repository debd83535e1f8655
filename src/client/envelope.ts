/**
 * Envelopes (AnonPoP §8.4): the unit a client fragments and acknowledges. Several small messages to the same
 * recipient that wait in the buffer together share one envelope, and the envelope's body is compressed when
 * that makes it shorter (docs/packet-format.md §14 "Envelopes").
 *
 *   version 1 (0x01) | flags 1 (bit 0: body is raw DEFLATE) | body
 *   body = records, each  kind 1 | length 3 (uint24) | value
 *     0x01 MESSAGE       messageId 16 | bytes
 *     0x02 REPLY_SURBS   replyKey 16 | expiresAt 6 (uint48 unix ms) | k × SURB (geometry.surbBytes each)
 *     0x03 SURB_REQUEST  replyKey 16 | wanted 2 (uint16)
 *
 * Compression is fflate's raw DEFLATE: pure JavaScript, so the same code runs in Node and in a browser (Node's
 * zlib does not), small (8 kB), and widely used. Decompression is bounded: a body that inflates beyond the
 * limit is rejected, so a small envelope cannot expand into a memory bomb.
 *
 * Why compressibility does not leak: compression only changes how many fixed-size packets an envelope needs.
 * Every packet is N bytes and leaves in the λP stream in place of a drop cover packet, so an observer of the
 * sender's link, a mix or a provider sees the same Poisson stream either way. Only the recipient learns the
 * fragment count, and envelopes only merge messages to that same recipient, who reads all of them anyway:
 * there is no third party's secret in an envelope for a chosen-plaintext (CRIME-style) attack to recover.
 */
import { deflateSync, inflateSync } from 'fflate';
import type { Geometry } from '../geometry.js';
import { getUint, putUint } from './bytes.js';
import { MESSAGE_ID_BYTES } from './fragments.js';

export const ENVELOPE_VERSION = 0x01;
const FLAG_DEFLATE = 0x01;
const ENVELOPE_HEADER_BYTES = 2;
const RECORD_HEADER_BYTES = 1 + 3;
export const RecordKind = Object.freeze({ MESSAGE: 0x01, REPLY_SURBS: 0x02, SURB_REQUEST: 0x03 } as const);

export type EnvelopeRecord =
  | { readonly kind: 'message'; readonly messageId: Uint8Array; readonly bytes: Uint8Array }
  | {
      readonly kind: 'replySurbs';
      readonly replyKey: Uint8Array;
      readonly expiresAtMs: number;
      readonly surbs: readonly Uint8Array[];
    }
  | { readonly kind: 'surbRequest'; readonly replyKey: Uint8Array; readonly wanted: number };

/** Bytes a record adds to an envelope body (before compression). */
export function recordBytes(g: Geometry, r: EnvelopeRecord): number {
  switch (r.kind) {
    case 'message':
      return RECORD_HEADER_BYTES + MESSAGE_ID_BYTES + r.bytes.length;
    case 'replySurbs':
      return RECORD_HEADER_BYTES + MESSAGE_ID_BYTES + 6 + r.surbs.length * g.surbBytes;
    case 'surbRequest':
      return RECORD_HEADER_BYTES + MESSAGE_ID_BYTES + 2;
  }
}

/** Encodes records; compresses the body when that makes it shorter. */
export function encodeEnvelope(g: Geometry, records: readonly EnvelopeRecord[]): Uint8Array {
  const body = new Uint8Array(records.reduce((a, r) => a + recordBytes(g, r), 0));
  let at = 0;
  for (const r of records) {
    const len = recordBytes(g, r) - RECORD_HEADER_BYTES;
    if (len > 0xff_ffff) throw new RangeError(`an envelope record must be under 16 MiB, got ${len} bytes`);
    body[at] =
      r.kind === 'message'
        ? RecordKind.MESSAGE
        : r.kind === 'replySurbs'
          ? RecordKind.REPLY_SURBS
          : RecordKind.SURB_REQUEST;
    putUint(body, at + 1, 3, len);
    at += RECORD_HEADER_BYTES;
    if (r.kind === 'message') {
      body.set(r.messageId, at);
      body.set(r.bytes, at + MESSAGE_ID_BYTES);
    } else if (r.kind === 'replySurbs') {
      body.set(r.replyKey, at);
      putUint(body, at + MESSAGE_ID_BYTES, 6, Math.min(2 ** 48 - 1, Math.max(0, Math.floor(r.expiresAtMs))));
      r.surbs.forEach((s, i) => body.set(s, at + MESSAGE_ID_BYTES + 6 + i * g.surbBytes));
    } else {
      body.set(r.replyKey, at);
      putUint(body, at + MESSAGE_ID_BYTES, 2, r.wanted);
    }
    at += len;
  }
  const packed = deflateSync(body, { level: 6 });
  const compressed = packed.length < body.length;
  const out = new Uint8Array(ENVELOPE_HEADER_BYTES + (compressed ? packed.length : body.length));
  out[0] = ENVELOPE_VERSION;
  out[1] = compressed ? FLAG_DEFLATE : 0;
  out.set(compressed ? packed : body, ENVELOPE_HEADER_BYTES);
  return out;
}

export type DecodedEnvelope =
  | { readonly ok: true; readonly records: EnvelopeRecord[]; readonly compressed: boolean }
  | { readonly ok: false; readonly reason: string };

/** Parses an envelope; never throws. `maxBodyBytes` bounds the inflated body. */
export function decodeEnvelope(g: Geometry, bytes: Uint8Array, maxBodyBytes: number): DecodedEnvelope {
  if (bytes.length < ENVELOPE_HEADER_BYTES) return { ok: false, reason: 'envelope_short' };
  if (bytes[0] !== ENVELOPE_VERSION) return { ok: false, reason: 'envelope_version' };
  const flags = bytes[1]!;
  if ((flags & ~FLAG_DEFLATE) !== 0) return { ok: false, reason: 'envelope_flags' };
  let body = bytes.subarray(ENVELOPE_HEADER_BYTES);
  const compressed = (flags & FLAG_DEFLATE) !== 0;
  if (compressed) {
    try {
      // A fixed-size output buffer: inflating beyond it fails instead of growing without bound.
      const out = new Uint8Array(maxBodyBytes + 1);
      const inflated = inflateSync(body, { out });
      if (inflated.length > maxBodyBytes) return { ok: false, reason: 'envelope_too_large' };
      body = inflated;
    } catch {
      return { ok: false, reason: 'envelope_inflate' };
    }
  }
  const records: EnvelopeRecord[] = [];
  let at = 0;
  while (at < body.length) {
    if (at + RECORD_HEADER_BYTES > body.length) return { ok: false, reason: 'record_short' };
    const kind = body[at]!;
    const len = getUint(body, at + 1, 3);
    at += RECORD_HEADER_BYTES;
    if (at + len > body.length) return { ok: false, reason: 'record_length' };
    const v = body.subarray(at, at + len);
    at += len;
    if (len < MESSAGE_ID_BYTES) return { ok: false, reason: 'record_short' };
    const id = v.slice(0, MESSAGE_ID_BYTES);
    if (kind === RecordKind.MESSAGE) records.push({ kind: 'message', messageId: id, bytes: v.slice(MESSAGE_ID_BYTES) });
    else if (kind === RecordKind.REPLY_SURBS) {
      const rest = len - MESSAGE_ID_BYTES - 6;
      if (rest < 0 || rest % g.surbBytes !== 0) return { ok: false, reason: 'record_surbs' };
      const surbs: Uint8Array[] = [];
      for (let i = 0; i < rest / g.surbBytes; i++)
        surbs.push(v.slice(MESSAGE_ID_BYTES + 6 + i * g.surbBytes, MESSAGE_ID_BYTES + 6 + (i + 1) * g.surbBytes));
      records.push({ kind: 'replySurbs', replyKey: id, expiresAtMs: getUint(v, MESSAGE_ID_BYTES, 6), surbs });
    } else if (kind === RecordKind.SURB_REQUEST) {
      if (len !== MESSAGE_ID_BYTES + 2) return { ok: false, reason: 'record_length' };
      records.push({ kind: 'surbRequest', replyKey: id, wanted: getUint(v, MESSAGE_ID_BYTES, 2) });
    } else return { ok: false, reason: 'record_kind' };
  }
  return { ok: true, records, compressed };
}
