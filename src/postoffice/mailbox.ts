/**
 * Anonymous addresses and per-epoch mailboxes (AnonPoP §6.2 "per-epoch mailboxes", Appendix A;
 * docs/anonymity.md "Post office mailboxes").
 *
 * An anonymous address names the post office, a mailbox secret and the public key envelopes are sealed to:
 *
 *   loopixpo1:<PO node id hex>:<32-byte mailbox secret hex>:<32-byte X25519 public key hex>[:<ack provider id hex>]
 *
 * It names no client key of the recipient: the key is a fresh one per mailbox. The optional fifth field is
 * the recipient's provider, where a sender's SURB-ack must start (the recipient's packets enter the network
 * there); with it pushes are acknowledged and retransmitted, without it they are fire-and-forget. It tells the
 * sender (never the PO, which sees no address) which provider the recipient uses, as a loopix1: address does. Sender and
 * recipient derive the mailbox id of mailbox epoch e as HKDF-SHA256(ikm = secret, salt = MAILBOX_SALT,
 * info = e as uint64 big-endian, 16 bytes), so the PO sees a new, unlinkable id every epoch. Mailbox epoch e
 * covers wall-clock [e·epochMs, (e+1)·epochMs). After a boundary the recipient still pulls the previous
 * epoch's mailbox for `graceMs`, so envelopes pushed just before the switch (or by a sender whose clock is a
 * little behind) are not lost.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '../client/bytes.js';
import { LoopixError } from '../errors.js';
import { POST_OFFICE, type Geometry } from '../geometry.js';

const MAILBOX_SALT = new TextEncoder().encode('loopix-po-mailbox-v1');
const PREFIX = 'loopixpo1';

export interface AnonymousAddress {
  /** The post office's node id (hex). */
  readonly postOfficeId: string;
  /** POST_OFFICE.mailboxSecretBytes bytes. */
  readonly secret: Uint8Array;
  /** X25519 public key the envelopes are sealed to. */
  readonly publicKey: Uint8Array;
  /** The recipient's provider (hex node id), where SURB-acks start; absent: pushes are not acknowledged. */
  readonly ackProviderId?: string;
}

const hex = bytesToHex;

export function isAnonymousAddress(text: unknown): text is string {
  return typeof text === 'string' && text.startsWith(`${PREFIX}:`);
}

export function formatAnonymousAddress(a: AnonymousAddress): string {
  return `${PREFIX}:${a.postOfficeId}:${hex(a.secret)}:${hex(a.publicKey)}${a.ackProviderId !== undefined ? `:${a.ackProviderId}` : ''}`;
}

/** Parses an anonymous address; throws ERR_LOOPIX_PO_ADDRESS naming what is wrong. */
export function parseAnonymousAddress(g: Geometry, text: string): AnonymousAddress {
  const parts = typeof text === 'string' ? text.split(':') : [];
  const fail = (what: string): never => {
    throw new LoopixError(
      'ERR_LOOPIX_PO_ADDRESS',
      `anonymous address: ${what}; expected ${PREFIX}:<${g.addressBytes}-byte PO id hex>:<${POST_OFFICE.mailboxSecretBytes}-byte secret hex>:<${g.publicKeyBytes}-byte public key hex>[:<${g.addressBytes}-byte ack provider id hex>]`,
      { field: 'recipient' },
    );
  };
  if ((parts.length !== 4 && parts.length !== 5) || parts[0] !== PREFIX)
    fail(`must have 4 or 5 fields starting with ${PREFIX}`);
  const field = (s: string, bytes: number, name: string): Uint8Array => {
    if (!new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(s)) fail(`${name} must be ${bytes} bytes of lowercase hex`);
    return hexToBytes(s);
  };
  field(parts[1]!, g.addressBytes, 'PO id');
  if (parts.length === 5) field(parts[4]!, g.addressBytes, 'ack provider id');
  return {
    postOfficeId: parts[1]!,
    secret: field(parts[2]!, POST_OFFICE.mailboxSecretBytes, 'secret'),
    publicKey: field(parts[3]!, g.publicKeyBytes, 'public key'),
    ...(parts.length === 5 ? { ackProviderId: parts[4]! } : {}),
  };
}

/** The mailbox id of `secret` in mailbox epoch `epoch` (a non-negative integer). */
export function mailboxId(secret: Uint8Array, epoch: number): Uint8Array {
  if (!(secret instanceof Uint8Array) || secret.length !== POST_OFFICE.mailboxSecretBytes) {
    throw new LoopixError('ERR_LOOPIX_PO_FIELD', `secret must be ${POST_OFFICE.mailboxSecretBytes} bytes`, {
      field: 'secret',
    });
  }
  if (!Number.isSafeInteger(epoch) || epoch < 0)
    throw new LoopixError('ERR_LOOPIX_PO_FIELD', `epoch must be a non-negative integer, got ${epoch}`, {
      field: 'epoch',
    });
  const info = new Uint8Array(POST_OFFICE.epochBytes);
  new DataView(info.buffer).setBigUint64(0, BigInt(epoch));
  return hkdf(sha256, secret, MAILBOX_SALT, info, POST_OFFICE.mailboxIdBytes);
}

/** The mailbox epoch containing wall-clock `nowMs` for epochs of `epochMs`. */
export function mailboxEpochAt(nowMs: number, epochMs: number): number {
  return Math.floor(nowMs / epochMs);
}

/**
 * The mailbox epochs a recipient pulls at `atMs`: the current one, and the previous one while `atMs` is
 * within `graceMs` of the boundary.
 */
export function epochsToPull(atMs: number, epochMs: number, graceMs: number): number[] {
  const e = mailboxEpochAt(atMs, epochMs);
  return e > 0 && atMs - e * epochMs < graceMs ? [e, e - 1] : [e];
}
