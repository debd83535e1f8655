/**
 * The stored format of the client's rows (docs/pipeline.md "Persistence"): each table's JSON value, encoded
 * and decoded here side by side so the two directions cannot drift apart. Decoders throw on a malformed row;
 * the part restoring it counts it (`store_<table>` in invalid_received) and goes on.
 */
import { formatAddress, parseAddress, type RecipientAddress } from '../address.js';
import type { Geometry } from '../geometry.js';
import { bytesToHex, hexToBytes } from './bytes.js';
import type { AckModeCode } from './frames.js';

/** 'outgoing': what survives a restart of an envelope not yet fully acknowledged (key: envelope id). */
export interface StoredEnvelope {
  /** Forward envelopes: the recipient. */
  readonly to: RecipientAddress | undefined;
  /** Replies: the reply handle whose SURBs carry the fragments. */
  readonly replyHandle: string | undefined;
  readonly ackMode: AckModeCode;
  readonly sentAtMs: number;
  readonly data: Uint8Array[];
  readonly acked: boolean[];
  readonly attempts: number[];
  readonly messageIds: string[];
}

/** An 'outgoing' row as JSON holds it: the recipient as its address string, data as hex, absent as null. */
interface OutgoingRow extends Omit<StoredEnvelope, 'to' | 'replyHandle' | 'data'> {
  readonly to: string | null;
  readonly replyHandle: string | null;
  readonly data: string[];
}

export function encodeOutgoing(env: StoredEnvelope): string {
  const row: OutgoingRow = {
    to: env.to ? formatAddress(env.to) : null,
    replyHandle: env.replyHandle ?? null,
    ackMode: env.ackMode,
    sentAtMs: env.sentAtMs,
    data: env.data.map((d) => bytesToHex(d)),
    acked: env.acked,
    attempts: env.attempts,
    messageIds: env.messageIds,
  };
  return JSON.stringify(row);
}

export function decodeOutgoing(g: Geometry, value: string): StoredEnvelope {
  const row = JSON.parse(value) as OutgoingRow;
  return {
    ...row,
    to: row.to ? (parseAddress(g, row.to) ?? undefined) : undefined,
    replyHandle: row.replyHandle ?? undefined,
    data: row.data.map((d) => hexToBytes(d)),
  };
}

/**
 * 'partial': one held fragment of an incomplete envelope (key: envelope id/index). `data` stays hex here: a
 * row too old to restore is deleted without decoding it.
 */
export interface StoredPartial {
  readonly count: number;
  readonly sentAtMs: number;
  /** The fragment's data, hex. */
  readonly data: string;
  /** Wall ms when it was stored. */
  readonly at: number;
  /** The conversation whose SURBs carried it (a reply to us). */
  readonly via?: string | undefined;
}

export function encodePartial(p: StoredPartial): string {
  return JSON.stringify({
    count: p.count,
    sentAtMs: p.sentAtMs,
    data: p.data,
    at: p.at,
    ...(p.via !== undefined ? { via: p.via } : {}),
  });
}

export function decodePartial(value: string): StoredPartial {
  return JSON.parse(value) as StoredPartial;
}

/** 'surbkeys': the decryption keys of a reply SURB handed out (key: SURB id). */
export interface StoredSurbKeys {
  readonly keys: Uint8Array;
  readonly conversation: string;
  readonly replier: string;
  readonly expiresAtMs: number;
}

export function encodeSurbKeys(k: StoredSurbKeys): string {
  return JSON.stringify({
    keys: bytesToHex(k.keys),
    conversation: k.conversation,
    replier: k.replier,
    expiresAtMs: k.expiresAtMs,
  });
}

export function decodeSurbKeys(value: string): StoredSurbKeys {
  const k = JSON.parse(value) as { keys: string; conversation: string; replier: string; expiresAtMs: number };
  return { keys: hexToBytes(k.keys), conversation: k.conversation, replier: k.replier, expiresAtMs: k.expiresAtMs };
}

/** 'replypool': one SURB received under a reply handle, usable until `expiresAtMs` (key: reply key). */
export interface StoredReplySurb {
  readonly surb: Uint8Array;
  readonly expiresAtMs: number;
}

export function encodeReplyPool(pool: readonly StoredReplySurb[]): string {
  return JSON.stringify(pool.map((s) => ({ surb: bytesToHex(s.surb), expiresAtMs: s.expiresAtMs })));
}

export function decodeReplyPool(value: string): StoredReplySurb[] {
  return (JSON.parse(value) as Array<{ surb: string; expiresAtMs: number }>).map((x) => ({
    surb: hexToBytes(x.surb),
    expiresAtMs: x.expiresAtMs,
  }));
}

/** 'seen': when an envelope (or a pushed message) was completed, wall ms (key: its id). */
export function encodeSeen(atMs: number): string {
  return String(atMs);
}

export function decodeSeen(value: string): number {
  return Number(value);
}
