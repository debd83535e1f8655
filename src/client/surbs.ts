/**
 * SURBs (Loopix §4.4, Sphinx single-use reply blocks) on both ends: the ones we build — for a fragment's
 * SURB-ack, a push's SURB-ack, or handed out for replies — whose decryption keys we keep under their ids until
 * a reply comes back through them; and the reply SURBs we receive, pooled under a reply handle until they are
 * used or their key epoch ends. Reply SURBs and their keys survive restarts ('surbkeys', 'replypool').
 */
import type { ClientContext } from './context.js';
import { formatAddress, type RecipientAddress } from '../address.js';
import { bytesToHex, hexToBytes } from './bytes.js';
import type { EnvelopeRecord } from './envelope.js';
import type { WaitingPush } from './post-office.js';
import { surbRoute, type RouteOptions } from './routes.js';
import {
  decodeReplyPool,
  decodeSurbKeys,
  encodeReplyPool,
  encodeSurbKeys,
  type StoredReplySurb,
} from './store-codec.js';

/** Most reply SURBs one send() attaches (each takes geometry.surbBytes of the envelope). */
export const MAX_REPLY_SURBS = 64;
/** A replier asks for more SURBs when a reply leaves fewer than this many behind. */
export const SURB_LOW_WATER = 2;
/** How many more SURBs it asks for. */
export const SURB_TOP_UP = 4;

const NEVER = 2 ** 48 - 1;

/** A SURB we built: for a fragment's ack (kept in memory) or handed out for replies (kept in the store). */
export type SurbEntry =
  | { readonly kind: 'ack'; readonly keys: Uint8Array; readonly envelopeId: string; readonly index: number }
  | {
      readonly kind: 'reply';
      readonly keys: Uint8Array;
      readonly conversation: string;
      readonly replier: string;
      readonly expiresAtMs: number;
    }
  | { readonly kind: 'pushAck'; readonly keys: Uint8Array; readonly push: WaitingPush };

export type ReplySurbEntry = Extract<SurbEntry, { kind: 'reply' }>;

/** A reply SURB received: usable until `expiresAtMs` (the end of the key epoch it was built for). */
type ReplySurb = StoredReplySurb;

export interface SurbsOptions extends Pick<
  ClientContext,
  'geometry' | 'backend' | 'providerId' | 'topology' | 'wallClock' | 'store' | 'countInvalid'
> {
  /** Our public key: the SURBs we build end at our provider, then us. */
  readonly publicKey: Uint8Array;
  readonly routeOptions: () => RouteOptions;
}

export class Surbs {
  /** Keys of the SURBs we built, by SURB id (hex). */
  private readonly built = new Map<string, SurbEntry>();
  /** Reply SURBs received, by reply handle. */
  private readonly replyPools = new Map<string, ReplySurb[]>();

  constructor(private readonly o: SurbsOptions) {}

  /** When the SURBs built now stop working: the end of their key epoch (never without rotating keys), unix ms. */
  private surbExpiry(epoch: number): number {
    const topology = this.o.topology();
    if (!topology.rotates) return NEVER;
    return topology.epochStart(epoch + 1);
  }

  /** A SURB from `firstProviderId` back to us, with id `surbId`; its keys are the caller's to keep. */
  build(firstProviderId: string, surbId: Uint8Array): { surb: Uint8Array; keys: Uint8Array; epoch: number } {
    const { geometry, backend } = this.o;
    const route = surbRoute(
      this.o.topology(),
      firstProviderId,
      this.o.providerId,
      this.o.publicKey,
      surbId,
      this.o.routeOptions(),
    );
    const spec = { epoch: route.epoch, hops: route.hops, firstHop: hexToBytes(firstProviderId) };
    let made;
    try {
      made = backend.createSurb(geometry, spec);
    } catch {
      made = backend.createSurb(geometry, spec); // unliftable scalar, ~2^-125: a fresh seed fixes it
    }
    return { surb: made.surb, keys: made.decryptionKeys, epoch: this.o.topology().senderEpoch(this.o.wallClock()) };
  }

  /** n reply SURBs for `to` to answer under `conversation`; their keys are kept (and stored) under their ids. */
  makeReplySurbs(to: RecipientAddress, conversation: string, n: number): EnvelopeRecord {
    const surbs: Uint8Array[] = [];
    let expiresAtMs = NEVER;
    const replier = formatAddress(to);
    for (let i = 0; i < n; i++) {
      const surbId = crypto.getRandomValues(new Uint8Array(this.o.geometry.addressBytes));
      const { surb, keys, epoch } = this.build(to.providerId, surbId);
      expiresAtMs = Math.min(expiresAtMs, this.surbExpiry(epoch));
      const id = bytesToHex(surbId);
      this.built.set(id, { kind: 'reply', keys, conversation, replier, expiresAtMs: this.surbExpiry(epoch) });
      const value = encodeSurbKeys({ keys, conversation, replier, expiresAtMs: this.surbExpiry(epoch) });
      void this.o.store.put('surbkeys', id, value);
      surbs.push(surb);
    }
    return { kind: 'replySurbs', replyKey: hexToBytes(conversation), expiresAtMs, surbs };
  }

  /** The keys of SURB `id` (hex), while it has not been used. */
  get(id: string): SurbEntry | undefined {
    return this.built.get(id);
  }

  set(id: string, entry: SurbEntry): void {
    this.built.set(id, entry);
  }

  delete(id: string): void {
    this.built.delete(id);
  }

  /** Wipes and forgets every SURB's keys that `drop` returns true for (its envelope or push is over). */
  forget(drop: (entry: SurbEntry) => boolean): void {
    for (const [id, s] of this.built) {
      if (drop(s)) {
        s.keys.fill(0);
        this.built.delete(id);
      }
    }
  }

  /** A reply SURB's keys were used: forget them in the store too. */
  forgetStored(id: string): void {
    void this.o.store.delete('surbkeys', id);
  }

  /** Pools reply SURBs received under `handle`. */
  addReplySurbs(handle: string, surbs: readonly Uint8Array[], expiresAtMs: number): void {
    const pool = this.replyPools.get(handle) ?? [];
    for (const surb of surbs) pool.push({ surb, expiresAtMs });
    this.replyPools.set(handle, pool);
    this.savePool(handle);
  }

  /** The SURBs pooled under `handle` (expired ones included), or undefined for an unknown handle. */
  replyPool(handle: string): readonly ReplySurb[] | undefined {
    return this.replyPools.get(handle);
  }

  /** Reply SURBs still usable under `handle` (unexpired). */
  liveSurbs(handle: string): number {
    const pool = this.replyPools.get(handle);
    if (!pool) return 0;
    const now = this.o.wallClock();
    return pool.filter((s) => s.expiresAtMs > now).length;
  }

  /** The next unexpired reply SURB under `handle` (the expired ones before it are dropped). */
  takeReplySurb(handle: string): Uint8Array | undefined {
    const pool = this.replyPools.get(handle);
    if (!pool) return undefined;
    const now = this.o.wallClock();
    let s: ReplySurb | undefined;
    while ((s = pool.shift()) && s.expiresAtMs <= now);
    this.savePool(handle);
    return s?.surb;
  }

  private savePool(handle: string): void {
    const value = encodeReplyPool(this.replyPools.get(handle) ?? []);
    void this.o.store.put('replypool', handle, value);
  }

  /** Loads the reply SURB keys and pools of the last run. */
  restore(surbkeys: ReadonlyMap<string, string>, replypool: ReadonlyMap<string, string>): void {
    for (const [id, v] of surbkeys) {
      try {
        this.built.set(id, { kind: 'reply', ...decodeSurbKeys(v) });
      } catch {
        this.o.countInvalid('store_surbkeys');
      }
    }
    for (const [handle, v] of replypool) {
      try {
        this.replyPools.set(handle, decodeReplyPool(v));
      } catch {
        this.o.countInvalid('store_replypool');
      }
    }
  }
}
