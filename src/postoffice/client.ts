/**
 * The client's side of the post office (AnonPoP §4, §6.1, §6.2, §7.1): its mailboxes, the schedule of pull
 * requests it keeps in its provider's request pool, the keys of those requests' SURBs, and the gap check.
 * Bookkeeping only — the client side (src/client/post-office.ts, under LoopixClient) builds and sends the
 * packets — so the logic is unit tested with a fake clock.
 *
 * Pool estimate: the provider releases one request per round (params.poRoundMs) for as long as the pool has
 * one. The client tracks `poolUntilMs`, the time by which the requests it deposited will have been released;
 * a deposit covers the round after max(now, poolUntilMs). It deposits while fewer than µ (params.poPoolSize)
 * rounds are covered, one request per drop-cover slot, so its packet rate stays λP + λL + λD. Each request
 * pulls the mailbox due at its expected release time: the current epoch's, and during the grace period after a
 * boundary alternately the previous epoch's (src/postoffice/mailbox.ts). A reconnect that finds `poolUntilMs`
 * more than a round in the past means the pool ran dry while the client was away: a warning, and the
 * po_pull_gaps / po_gap_rounds counters.
 */
import { bytesToHex, hexToBytes } from '../client/bytes.js';
import { LoopixError } from '../errors.js';
import type { Geometry } from '../geometry.js';
import {
  epochsToPull,
  formatAnonymousAddress,
  mailboxId,
  parseAnonymousAddress,
  type AnonymousAddress,
} from './mailbox.js';
import { openEnvelope, poLayout, type PoMessage, type X25519 } from './wire.js';

export interface OwnMailbox extends AnonymousAddress {
  readonly address: string;
  readonly privateKey: Uint8Array;
}

/** A pull SURB we built: its decryption keys, until `expiresAtMs`. */
interface PullSurb {
  readonly keys: Uint8Array;
  readonly expiresAtMs: number;
}

export interface PullTarget {
  readonly mailbox: OwnMailbox;
  readonly mailboxId: Uint8Array;
  /** When the provider is expected to release this request, wall ms. */
  readonly releaseAtMs: number;
}

export interface PostOfficeParams {
  readonly poRoundMs: number;
  readonly poPoolSize: number;
  readonly mailboxEpochS: number;
  readonly mailboxGraceS: number;
}

/** A pull SURB's keys are kept this long after the request's expected release (its answer's path), ms. */
const SURB_SLACK_MS = 600_000;

const hex = bytesToHex;
const unhex = hexToBytes;

export class PostOfficeClient {
  private readonly mailboxes = new Map<string, OwnMailbox>();
  private readonly surbs = new Map<string, PullSurb>();
  /** Wall ms by which every deposited request will have been released (0: nothing deposited yet). */
  private poolUntilMs = 0;

  constructor(
    private readonly g: Geometry,
    private readonly x: X25519,
    private readonly params: PostOfficeParams,
  ) {}

  get epochMs(): number {
    return this.params.mailboxEpochS * 1000;
  }

  /**
   * A new mailbox at `postOfficeId` with a fresh secret and a fresh envelope key pair; `ackProviderId` (our
   * provider) goes into the address so senders can build SURB-acks that start where our packets enter.
   */
  open(postOfficeId: string, ackProviderId?: string): OwnMailbox {
    poLayout(this.g); // throws ERR_LOOPIX_PO_GEOMETRY when the geometry cannot carry post office requests
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const privateKey = crypto.getRandomValues(new Uint8Array(this.g.privateKeyBytes));
    const publicKey = this.x.x25519Base(privateKey);
    const address = formatAnonymousAddress({
      postOfficeId,
      secret,
      publicKey,
      ...(ackProviderId !== undefined ? { ackProviderId } : {}),
    });
    const m: OwnMailbox = { ...parseAnonymousAddress(this.g, address), address, privateKey };
    this.mailboxes.set(address, m);
    return m;
  }

  get mailboxCount(): number {
    return this.mailboxes.size;
  }

  /** How many rounds the pool covers after `nowMs`. */
  level(nowMs: number): number {
    return Math.max(0, Math.ceil((this.poolUntilMs - nowMs) / this.params.poRoundMs));
  }

  /** Whether a drop-cover slot at `nowMs` should carry a pool deposit instead. */
  wantsDeposit(nowMs: number): boolean {
    return this.mailboxes.size > 0 && this.level(nowMs) < this.params.poPoolSize;
  }

  /** The mailbox the next deposited request pulls, and when it will be released. Does not commit. */
  nextTarget(nowMs: number): PullTarget {
    const releaseAtMs = Math.max(nowMs, this.poolUntilMs) + this.params.poRoundMs;
    const boxes = [...this.mailboxes.values()];
    if (boxes.length === 0)
      throw new LoopixError('ERR_LOOPIX_PO_NO_MAILBOX', 'no mailbox is open: call openMailbox() first', {
        field: 'mailbox',
      });
    const targets = boxes.flatMap((mailbox) =>
      epochsToPull(releaseAtMs, this.epochMs, this.params.mailboxGraceS * 1000).map((epoch) => ({ mailbox, epoch })),
    );
    const round = Math.floor(releaseAtMs / this.params.poRoundMs);
    const t = targets[round % targets.length]!;
    return { mailbox: t.mailbox, mailboxId: mailboxId(t.mailbox.secret, t.epoch), releaseAtMs };
  }

  /** Records a deposited request (its SURB id and keys) released at `target.releaseAtMs`. */
  deposited(target: PullTarget, surbId: Uint8Array, keys: Uint8Array): void {
    this.poolUntilMs = target.releaseAtMs;
    this.surbs.set(hex(surbId), { keys, expiresAtMs: target.releaseAtMs + SURB_SLACK_MS });
  }

  /** Takes (single use) the keys of a pull SURB we built; undefined for any other SURB id. */
  takeSurb(surbId: Uint8Array): Uint8Array | undefined {
    const key = hex(surbId);
    const s = this.surbs.get(key);
    if (!s) return undefined;
    this.surbs.delete(key);
    return s.keys;
  }

  /** Forgets SURB keys whose answers can no longer come; returns their ids (to delete from the store). */
  expireSurbs(nowMs: number): string[] {
    const gone: string[] = [];
    for (const [id, s] of this.surbs) {
      if (s.expiresAtMs <= nowMs) {
        s.keys.fill(0);
        this.surbs.delete(id);
        gone.push(id);
      }
    }
    return gone;
  }

  /**
   * A pull answer's content (after the SURB layers came off): the message of one of our mailboxes, or null
   * for the PO's dummy (nothing was waiting) — it opens under none of our keys.
   */
  openAnswer(content: Uint8Array): PoMessage | null {
    const E = poLayout(this.g).envelopeBytes;
    const envelope = content.subarray(0, E);
    for (const m of this.mailboxes.values()) {
      const opened = openEnvelope(this.g, this.x, m.privateKey, m.publicKey, envelope);
      if (opened) return opened;
    }
    return null;
  }

  /**
   * The gap check at a (re)connect: rounds without a pooled request since the pool ran out, 0 if none. Resets
   * the estimate so one gap is reported once.
   */
  checkGap(nowMs: number): number {
    if (this.poolUntilMs === 0 || nowMs - this.poolUntilMs <= this.params.poRoundMs) return 0;
    const rounds = Math.floor((nowMs - this.poolUntilMs) / this.params.poRoundMs);
    this.poolUntilMs = 0;
    return rounds;
  }

  // --- persistence (the client store's 'postoffice' table) -------------------------------------------------

  /** Store entries for one mailbox. */
  mailboxRecord(m: OwnMailbox): [string, string] {
    return [`mailbox/${m.address}`, JSON.stringify({ privateKey: hex(m.privateKey) })];
  }

  surbRecord(surbId: Uint8Array): [string, string] | undefined {
    const s = this.surbs.get(hex(surbId));
    return s ? [`surb/${hex(surbId)}`, JSON.stringify({ keys: hex(s.keys), expiresAtMs: s.expiresAtMs })] : undefined;
  }

  poolRecord(): [string, string] {
    return ['pool', String(this.poolUntilMs)];
  }

  /** Restores what `*Record` wrote; returns the number of entries that did not parse. */
  restore(entries: ReadonlyMap<string, string>): number {
    let bad = 0;
    for (const [key, value] of entries) {
      try {
        if (key.startsWith('mailbox/')) {
          const address = key.slice('mailbox/'.length);
          const { privateKey } = JSON.parse(value) as { privateKey: string };
          this.mailboxes.set(address, {
            ...parseAnonymousAddress(this.g, address),
            address,
            privateKey: unhex(privateKey),
          });
        } else if (key.startsWith('surb/')) {
          const s = JSON.parse(value) as { keys: string; expiresAtMs: number };
          this.surbs.set(key.slice('surb/'.length), { keys: unhex(s.keys), expiresAtMs: s.expiresAtMs });
        } else if (key === 'pool') {
          this.poolUntilMs = Number(value) || 0;
        } else bad++;
      } catch {
        bad++;
      }
    }
    return bad;
  }
}
