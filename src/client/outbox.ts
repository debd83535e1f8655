/**
 * The sender's envelopes (docs/pipeline.md "Sending", "Retransmission"; AnonPoP §8.4): messages wait until a
 * λP slot finds no ack due, are merged with the other waiting messages to the same recipient into one
 * envelope, and leave fragment by fragment. Each fragment carries a fresh SURB-ack and is sent again on a
 * fresh path when its ack does not come in time (src/client/retransmit.ts), until acknowledged or out of
 * attempts. A reply's fragments travel on the replier's pooled SURBs instead and are acknowledged forward.
 * Unacknowledged envelopes survive restarts ('outgoing').
 */
import type { ClientContext, RetransmitContext } from './context.js';
import type { RecipientAddress } from '../address.js';
import { LoopixError } from '../errors.js';
import { bytesToHex, hexToBytes } from './bytes.js';
import type { Delivery, SendProgress } from './client-types.js';
import { encodeEnvelope, recordBytes, type EnvelopeRecord } from './envelope.js';
import { MESSAGE_ID_BYTES } from './fragments.js';
import { AckMode, encodeData, splitData, type AckModeCode, type DataFragment } from './frames.js';
import type { PacketOut } from './packets.js';
import { ackTimeoutMs } from './retransmit.js';
import { messageRoute, toAddress } from './routes.js';
import { SendQueue } from './send-queue.js';
import { decodeOutgoing, encodeOutgoing, type StoredEnvelope } from './store-codec.js';
import type { TimerHandle } from './streams.js';
import { SURB_LOW_WATER, SURB_TOP_UP, type Surbs } from './surbs.js';

/** A send() or reply() promise's ends, until its message is acknowledged or fails. */
export interface PendingMessage {
  readonly messageId: string;
  readonly resolve: (d: Delivery) => void;
  readonly reject: (e: Error) => void;
  readonly onProgress: ((p: SendProgress) => void) | undefined;
}

/** A message waiting to be put into an envelope (merged with others to the same recipient). */
export interface WaitingMessage {
  readonly to: RecipientAddress;
  readonly toAddress: string;
  readonly records: EnvelopeRecord[];
  readonly pending: PendingMessage | undefined;
}

/** The sender's state of one envelope until every fragment is acknowledged. */
export interface OutEnvelope extends StoredEnvelope {
  readonly id: Uint8Array;
  readonly idHex: string;
  readonly timers: Map<number, TimerHandle>;
  readonly waiters: PendingMessage[];
  done: boolean;
}

function delivered(env: OutEnvelope, messageId: string, acknowledged: boolean): Delivery {
  return {
    messageId,
    envelopeId: env.idHex,
    fragments: env.data.length,
    transmissions: env.attempts.reduce((a, b) => a + b, 0),
    acknowledged,
  };
}

export interface OutboxOptions extends ClientContext, RetransmitContext {
  /** How forward envelopes are acknowledged: SURB-acks where the geometry has room for them, else none. */
  readonly ackMode: AckModeCode;
  readonly maxEnvelopeBytes: number;
  readonly packets: PacketOut;
  readonly surbs: Surbs;
  /** Envelopes restored from the store after a restart have no send() promise: told here when acknowledged. */
  readonly onDelivered: ((messageIds: readonly string[]) => void) | undefined;
}

export class Outbox {
  /** Messages not yet in an envelope, oldest first. */
  private readonly waiting: WaitingMessage[] = [];
  /** Fragments due for (re)transmission, oldest first. */
  private readonly fragments = new SendQueue<{ env: OutEnvelope; index: number }>();
  private readonly outbox = new Map<string, OutEnvelope>();

  constructor(private readonly o: OutboxOptions) {}

  /** Messages waiting for an envelope. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Fragments due for (re)transmission. */
  get fragmentCount(): number {
    return this.fragments.length;
  }

  /** Fragments sent and not yet acknowledged, over every envelope. */
  unackedFragments(): number {
    let unacked = 0;
    for (const env of this.outbox.values()) unacked += env.acked.filter((a) => !a).length;
    return unacked;
  }

  /** SURBs already promised to earlier replies under this handle that have not all been acknowledged. */
  private committedSurbs(handle: string): number {
    let committed = 0;
    for (const e of this.outbox.values()) if (e.replyHandle === handle) committed += e.acked.filter((a) => !a).length;
    return committed;
  }

  /** The envelope that carries message `messageId` (hex), while it is not fully acknowledged. */
  envelopeOf(messageId: string): OutEnvelope | undefined {
    return [...this.outbox.values()].find((e) => e.messageIds.includes(messageId));
  }

  /** Queues a message for the next envelope to its recipient. */
  enqueue(m: WaitingMessage): void {
    this.waiting.push(m);
  }

  newEnvelope(o: Pick<OutEnvelope, 'to' | 'replyHandle' | 'ackMode' | 'data' | 'messageIds' | 'waiters'>): OutEnvelope {
    const id = crypto.getRandomValues(new Uint8Array(MESSAGE_ID_BYTES));
    const env: OutEnvelope = {
      ...o,
      id,
      idHex: bytesToHex(id),
      sentAtMs: this.o.wallClock(),
      acked: o.data.map(() => false),
      attempts: o.data.map(() => 0),
      timers: new Map(),
      done: false,
    };
    this.outbox.set(env.idHex, env);
    this.saveEnvelope(env);
    for (let index = 0; index < env.data.length; index++) this.fragments.push({ env, index });
    return env;
  }

  /**
   * A reply under `handle` (see LoopixClient.reply): one envelope on the replier's pooled SURBs, acknowledged
   * forward; when fewer than SURB_LOW_WATER SURBs would be left it also asks the sender for SURB_TOP_UP more.
   * Throws ERR_LOOPIX_CLIENT_REPLY_UNKNOWN, ERR_LOOPIX_CLIENT_REPLY_EXPIRED or ERR_LOOPIX_CLIENT_REPLY_NO_SURBS.
   */
  queueReply(handle: string, messageId: Uint8Array, bytes: Uint8Array, waiter: PendingMessage): OutEnvelope {
    const { geometry, surbs } = this.o;
    const pool = surbs.replyPool(handle);
    if (!pool)
      throw new LoopixError(
        'ERR_LOOPIX_CLIENT_REPLY_UNKNOWN',
        `reply handle ${handle} is unknown (no message with reply SURBs came under it)`,
        { field: 'handle' },
      );
    const live = surbs.liveSurbs(handle);
    if (live === 0) {
      const last = Math.max(0, ...pool.map((s) => s.expiresAtMs));
      if (pool.length > 0) {
        throw new LoopixError(
          'ERR_LOOPIX_CLIENT_REPLY_EXPIRED',
          `reply handle ${handle}: its ${pool.length} SURBs expired at ${new Date(last).toISOString()} (end of the key epoch they were built for)`,
          { field: 'handle' },
        );
      }
      throw new LoopixError(
        'ERR_LOOPIX_CLIENT_REPLY_NO_SURBS',
        `reply handle ${handle} has no SURBs left; the sender was asked for more`,
        { field: 'handle' },
      );
    }
    // SURBs already promised to earlier replies under this handle that have not all been acknowledged.
    const committed = this.committedSurbs(handle);
    const available = live - committed;
    const records: EnvelopeRecord[] = [{ kind: 'message', messageId, bytes: Uint8Array.from(bytes) }];
    const count = splitData(geometry, encodeEnvelope(geometry, records), AckMode.FORWARD).length;
    if (available - count < SURB_LOW_WATER)
      records.push({ kind: 'surbRequest', replyKey: hexToBytes(handle), wanted: SURB_TOP_UP });
    const body = encodeEnvelope(geometry, records);
    const data = splitData(geometry, body, AckMode.FORWARD);
    if (data.length > available) {
      throw new LoopixError(
        'ERR_LOOPIX_CLIENT_REPLY_NO_SURBS',
        `reply handle ${handle}: the reply needs ${data.length} SURBs, ${available} left (${committed} promised to earlier replies)`,
        { field: 'handle' },
      );
    }
    return this.newEnvelope({
      to: undefined,
      replyHandle: handle,
      ackMode: AckMode.FORWARD,
      data,
      messageIds: [waiter.messageId],
      waiters: [waiter],
    });
  }

  /**
   * Merges the oldest waiting message with every other waiting one to the same recipient, as long as the
   * envelope stays within maxEnvelopeBytes, and queues the envelope's fragments.
   */
  private envelopeFromWaiting(): boolean {
    const { geometry } = this.o;
    const first = this.waiting[0];
    if (!first) return false;
    const taken: WaitingMessage[] = [];
    let size = 0;
    for (let i = 0; i < this.waiting.length;) {
      const m = this.waiting[i]!;
      const bytes = m.records.reduce((a, r) => a + recordBytes(geometry, r), 0);
      if (m.toAddress === first.toAddress && (taken.length === 0 || size + bytes <= this.o.maxEnvelopeBytes)) {
        taken.push(m);
        size += bytes;
        this.waiting.splice(i, 1);
      } else i++;
    }
    const body = encodeEnvelope(
      geometry,
      taken.flatMap((m) => m.records),
    );
    const data = splitData(geometry, body, this.o.ackMode);
    const messageIds = taken.flatMap((m) => (m.pending ? [m.pending.messageId] : []));
    this.newEnvelope({
      to: first.to,
      replyHandle: undefined,
      ackMode: this.o.ackMode,
      data,
      messageIds,
      waiters: taken.flatMap((m) => (m.pending ? [m.pending] : [])),
    });
    return true;
  }

  /** A fragment's SURB-ack came back; false when its envelope is over (a late or duplicate ack). */
  ackedBySurb(envelopeId: string, index: number): boolean {
    const env = this.outbox.get(envelopeId);
    if (!env) return false;
    this.onFragmentAcked(env, index);
    return true;
  }

  /** An entry of a forward ACK frame (a replier acknowledging our reply); false when it names nothing of ours. */
  ackedForward(envelopeId: Uint8Array, index: number): boolean {
    const env = this.outbox.get(bytesToHex(envelopeId));
    if (!env || env.ackMode !== AckMode.FORWARD || index >= env.data.length) return false;
    this.onFragmentAcked(env, index);
    return true;
  }

  private onFragmentAcked(env: OutEnvelope, index: number): void {
    if (env.done || env.acked[index]) return;
    env.acked[index] = true;
    this.o.counters.acks_received++;
    const t = env.timers.get(index);
    if (t !== undefined) this.o.scheduler.clearTimer(t);
    env.timers.delete(index);
    this.fragments.remove((f) => f.env === env && f.index === index);
    const acked = env.acked.filter(Boolean).length;
    for (const w of env.waiters) w.onProgress?.({ messageId: w.messageId, acked, total: env.data.length });
    if (acked === env.data.length) this.finish(env, undefined);
    else this.saveEnvelope(env);
  }

  /** Ends an envelope: resolved (err undefined) or failed; forgets it in memory and in the store. */
  private finish(env: OutEnvelope, err: LoopixError | undefined): void {
    const { counters } = this.o;
    env.done = true;
    for (const t of env.timers.values()) this.o.scheduler.clearTimer(t);
    env.timers.clear();
    this.outbox.delete(env.idHex);
    this.fragments.remove((f) => f.env === env);
    this.o.surbs.forget((s) => s.kind === 'ack' && s.envelopeId === env.idHex);
    void this.o.store.delete('outgoing', env.idHex);
    if (err) {
      counters.messages_failed += env.messageIds.length;
      this.o.log.warn({ envelopeId: env.idHex, messageIds: env.messageIds, code: err.code }, err.message);
      for (const w of env.waiters.splice(0)) w.reject(err);
      return;
    }
    counters.messages_acked += env.messageIds.length;
    const acknowledged = env.ackMode !== AckMode.NONE;
    if (env.waiters.length === 0 && env.messageIds.length > 0) this.o.onDelivered?.(env.messageIds);
    for (const w of env.waiters.splice(0)) w.resolve(delivered(env, w.messageId, acknowledged));
  }

  private undelivered(env: OutEnvelope, why: string): LoopixError {
    const left = env.acked.filter((a) => !a).length;
    const ids =
      env.messageIds.length === 0
        ? `(envelope ${env.idHex})`
        : env.messageIds.length <= 3
          ? env.messageIds.join(', ')
          : `${env.messageIds.slice(0, 3).join(', ')} and ${env.messageIds.length - 3} more in the same envelope`;
    return new LoopixError(
      'ERR_LOOPIX_CLIENT_UNDELIVERED',
      `message ${ids}: ${left} of ${env.data.length} fragments unacknowledged ${why} (envelope ${env.idHex}, ${env.attempts.reduce((a, b) => a + b, 0)} transmissions, each on a fresh path)`,
      { field: 'messageId' },
    );
  }

  private armTimeout(env: OutEnvelope, index: number): void {
    if (env.ackMode === AckMode.NONE) return;
    const { scheduler, maxAttempts } = this.o;
    const attempt = env.attempts[index]!;
    const ms = ackTimeoutMs(this.o.params, this.o.topology().doc.layers, attempt, this.o.retransmit);
    const old = env.timers.get(index);
    if (old !== undefined) scheduler.clearTimer(old);
    env.timers.set(
      index,
      scheduler.setTimer(() => {
        env.timers.delete(index);
        if (env.done || env.acked[index]) return;
        if (attempt >= maxAttempts) {
          this.finish(
            env,
            this.undelivered(
              env,
              `after ${maxAttempts} transmissions each, the last waiting ${Math.round(ms)} ms for its ack`,
            ),
          );
          return;
        }
        this.fragments.push({ env, index });
      }, ms),
    );
  }

  /** undefined: nothing to send; else whether the transport took the fragment. */
  sendFragment(): boolean | undefined {
    const { geometry, backend, packets, surbs, counters } = this.o;
    let item = this.fragments.shift();
    while (item && (item.env.done || item.env.acked[item.index])) item = this.fragments.shift();
    if (!item) {
      if (!this.envelopeFromWaiting()) return undefined;
      return this.sendFragment();
    }
    const { env, index } = item;
    let packet: Uint8Array;
    let surbId: string | undefined;
    try {
      const fragment: DataFragment = {
        envelopeId: env.id,
        index,
        count: env.data.length,
        sentAtMs: env.sentAtMs,
        ackMode: env.ackMode,
        data: env.data[index]!,
      };
      if (env.replyHandle !== undefined) {
        const surb = surbs.takeReplySurb(env.replyHandle);
        if (!surb) {
          this.finish(
            env,
            this.undelivered(env, `and reply handle ${env.replyHandle} has no unexpired SURB left to send them with`),
          );
          return this.sendFragment();
        }
        const reply = backend.createSurbReply(geometry, surb, encodeData(geometry, fragment));
        if (bytesToHex(reply.firstHop) !== this.o.providerId) {
          this.o.countInvalid('surb_first_hop');
          return this.sendFragment();
        }
        packet = reply.packet;
      } else {
        let content: Uint8Array;
        if (env.ackMode === AckMode.SURB) {
          const id = crypto.getRandomValues(new Uint8Array(geometry.addressBytes));
          const { surb, keys } = surbs.build(env.to!.providerId, id);
          surbId = bytesToHex(id);
          surbs.set(surbId, { kind: 'ack', keys, envelopeId: env.idHex, index });
          content = encodeData(geometry, { ...fragment, surb });
        } else content = encodeData(geometry, fragment);
        packet = packets.build(
          messageRoute(
            this.o.topology(),
            this.o.providerId,
            env.to!,
            toAddress(geometry, env.id),
            packets.routeOptions(),
          ),
          content,
        );
      }
    } catch (err) {
      this.fragments.unshift(item);
      throw err;
    }
    if (!packets.submit(packet)) {
      if (surbId) surbs.delete(surbId);
      this.fragments.unshift(item);
      return false;
    }
    counters.sent_real++;
    if (env.attempts[index]! > 0) counters.retransmissions++;
    env.attempts[index]!++;
    if (env.ackMode === AckMode.NONE) {
      env.acked[index] = true; // nothing will acknowledge it: done once handed to the provider
      if (env.acked.every(Boolean)) this.finish(env, undefined);
    } else {
      this.saveEnvelope(env);
      this.armTimeout(env, index);
    }
    return true;
  }

  /**
   * The client stops: every envelope's timers end and its send() promises reject with
   * ERR_LOOPIX_CLIENT_STOPPED; the envelopes stay in the store for the next client on it.
   */
  stopEnvelopes(): void {
    for (const env of this.outbox.values()) {
      for (const t of env.timers.values()) this.o.scheduler.clearTimer(t);
      env.timers.clear();
      for (const w of env.waiters.splice(0))
        w.reject(
          new LoopixError(
            'ERR_LOOPIX_CLIENT_STOPPED',
            `message ${w.messageId}: the client stopped before every fragment was acknowledged; a client on the same store resumes it`,
            { field: 'messageId' },
          ),
        );
    }
  }

  /** The client stops: messages not yet in an envelope are dropped and their send() promises reject. */
  stopWaiting(): void {
    for (const m of this.waiting.splice(0))
      m.pending?.reject(
        new LoopixError(
          'ERR_LOOPIX_CLIENT_STOPPED',
          `message ${m.pending.messageId}: the client stopped before it was sent`,
          { field: 'messageId' },
        ),
      );
  }

  /** Ends every wait for the fragment queue to empty (the client stopped). */
  release(): void {
    this.fragments.release();
  }

  private saveEnvelope(env: OutEnvelope): void {
    const value = encodeOutgoing(env);
    void this.o.store.put('outgoing', env.idHex, value);
  }

  /** Loads the unacknowledged envelopes of the last run and queues their unacknowledged fragments. */
  restore(outgoing: ReadonlyMap<string, string>): void {
    for (const [id, v] of outgoing) {
      try {
        const env: OutEnvelope = {
          ...decodeOutgoing(this.o.geometry, v),
          id: hexToBytes(id),
          idHex: id,
          timers: new Map(),
          waiters: [],
          done: false,
        };
        this.outbox.set(id, env);
        env.acked.forEach((a, index) => {
          if (!a) this.fragments.push({ env, index });
        });
      } catch {
        this.o.countInvalid('store_outgoing');
      }
    }
  }
}
