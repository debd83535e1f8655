/**
 * The client's post office traffic (AnonPoP §4, §6.1, §6.2): pushes to anonymous addresses — sealed, sent in
 * a λP slot, acknowledged through a SURB-ack and retransmitted until acknowledged — and the pull side of our
 * own mailboxes: pull requests deposited in our provider's request pool in λD slots, and the post office's
 * answers to them. The bookkeeping (mailboxes, pool estimate, pull SURB keys) is src/postoffice/client.ts;
 * this module builds and sends the packets and acts on what comes back.
 */
import type { ClientContext, RetransmitContext } from './context.js';
import { LoopixError } from '../errors.js';
import { PostOfficeClient } from '../postoffice/client.js';
import { mailboxEpochAt, mailboxId, parseAnonymousAddress, type AnonymousAddress } from '../postoffice/mailbox.js';
import { encodePull, encodePush, sealEnvelope } from '../postoffice/wire.js';
import type { AckQueue } from './ack-queue.js';
import { bytesToHex } from './bytes.js';
import type { ClientTransport } from './connection.js';
import type { EnvelopeRecord } from './envelope.js';
import type { PendingMessage } from './outbox.js';
import type { PacketOut } from './packets.js';
import { ackTimeoutMs } from './retransmit.js';
import { postOfficeRoute } from './routes.js';
import type { SeenIds } from './seen.js';
import { afterWrite } from './store-writer.js';
import type { TimerHandle } from './streams.js';
import type { Surbs } from './surbs.js';

/**
 * A message to an anonymous address until it is acknowledged (or, to an address without an ack provider, until
 * it is pushed). Every transmission is a fresh PUSH (fresh envelope, path and SURB-ack) under the same message
 * id, so the recipient delivers it once.
 */
export interface WaitingPush {
  readonly to: AnonymousAddress;
  readonly messageId: Uint8Array;
  readonly bytes: Uint8Array;
  readonly sentAtMs: number;
  readonly pending: PendingMessage;
  attempts: number;
  timer: TimerHandle | undefined;
  done: boolean;
}

export interface ClientPostOfficeOptions extends ClientContext, RetransmitContext {
  /** Pool deposits go through the transport's submitPool, not into the network at once. */
  readonly transport: ClientTransport;
  readonly packets: PacketOut;
  readonly surbs: Surbs;
  readonly acks: AckQueue;
  readonly seen: SeenIds;
  /** Hands a pulled message to the application. */
  readonly deliver: (records: readonly EnvelopeRecord[], sentAtMs: number) => void;
}

export class ClientPostOffice {
  /** Post office mode (src/postoffice/client.ts): mailboxes, the request pool estimate, pull SURB keys. */
  private readonly po: PostOfficeClient;
  /** Messages to anonymous addresses, oldest first. */
  private readonly pushes: WaitingPush[] = [];
  /** Pushes sent and waiting for their SURB-ack, by message id (hex). */
  private readonly unackedPushes = new Map<string, WaitingPush>();

  constructor(private readonly o: ClientPostOfficeOptions) {
    this.po = new PostOfficeClient(o.geometry, o.backend, o.params);
  }

  /** Pushes waiting for a λP slot. */
  get queued(): number {
    return this.pushes.length;
  }

  /**
   * Opens an anonymous mailbox at a post office (AnonPoP §4, §6.2) and returns its address; see
   * LoopixClient.openMailbox.
   */
  openMailbox(postOfficeId?: string): string {
    const topology = this.o.topology();
    const po = postOfficeId ?? topology.postOffices[0]?.id;
    if (po === undefined)
      throw new LoopixError(
        'ERR_LOOPIX_PO_NONE',
        'the topology lists no post office (a provider with postOffice: true)',
        { field: 'postOfficeId' },
      );
    if (topology.node(po)?.postOffice !== true)
      throw new LoopixError('ERR_LOOPIX_PO_NONE', `node ${po} is not a post office in the topology`, {
        field: 'postOfficeId',
      });
    const m = this.po.open(po, this.o.providerId);
    const [key, value] = this.po.mailboxRecord(m);
    void this.o.store.put('postoffice', key, value);
    return m.address;
  }

  /** A message to an anonymous address: checked now, sealed and pushed in a λP slot. */
  queuePush(recipient: string, messageId: Uint8Array, bytes: Uint8Array, pending: PendingMessage): void {
    const { geometry, wallClock } = this.o;
    const to = parseAnonymousAddress(geometry, recipient);
    if (this.o.topology().node(to.postOfficeId)?.postOffice !== true) {
      throw new LoopixError(
        'ERR_LOOPIX_CLIENT_RECIPIENT',
        `recipient post office ${to.postOfficeId} is not a post office in the topology`,
        { field: 'recipient' },
      );
    }
    if (!(bytes instanceof Uint8Array))
      throw new LoopixError('ERR_LOOPIX_CLIENT_MESSAGE', 'bytes must be a Uint8Array', { field: 'bytes' });
    // Seal once now so an oversized message rejects at once (ERR_LOOPIX_PO_MESSAGE); sealed again when sent.
    sealEnvelope(geometry, this.o.backend, to.publicKey, {
      messageId,
      sentAtMs: Math.floor(wallClock()),
      bytes,
    });
    this.pushes.push({
      to,
      messageId,
      bytes: Uint8Array.from(bytes),
      sentAtMs: Math.floor(wallClock()),
      pending,
      attempts: 0,
      timer: undefined,
      done: false,
    });
  }

  /**
   * undefined: no push waiting; else whether the transport took it. A PUSH replaces a drop. To an address with
   * an ack provider it carries a SURB-ack and is sent again (fresh envelope, path and SURB) until acknowledged,
   * with the fragments' timeouts and backoff (src/client/retransmit.ts) plus the wait for the recipient's pull.
   */
  sendPush(): boolean | undefined {
    const { geometry, packets, counters } = this.o;
    let m = this.pushes[0];
    while (m && m.done) {
      this.pushes.shift();
      m = this.pushes[0];
    }
    if (!m) return undefined;
    const now = this.o.wallClock();
    const topology = this.o.topology();
    let ack: { id: string; keys: Uint8Array; surb: Uint8Array } | undefined;
    if (m.to.ackProviderId !== undefined && topology.node(m.to.ackProviderId)?.role === 'provider') {
      const id = crypto.getRandomValues(new Uint8Array(geometry.addressBytes));
      const { surb, keys } = this.o.surbs.build(m.to.ackProviderId, id);
      ack = { id: bytesToHex(id), keys, surb };
    }
    const envelope = sealEnvelope(geometry, this.o.backend, m.to.publicKey, {
      messageId: m.messageId,
      sentAtMs: m.sentAtMs,
      bytes: m.bytes,
      ...(ack ? { ackSurb: ack.surb } : {}),
    });
    // The mailbox of the epoch at sending; the recipient still pulls the previous one for mailboxGraceS.
    const box = mailboxId(m.to.secret, mailboxEpochAt(now, this.po.epochMs));
    const route = postOfficeRoute(topology, this.o.providerId, m.to.postOfficeId, packets.routeOptions());
    if (!packets.submit(packets.build(route, encodePush(geometry, box, envelope)))) {
      ack?.keys.fill(0);
      return false;
    }
    this.pushes.shift();
    counters.sent_real++;
    counters.po_pushes_sent++;
    if (m.attempts > 0) counters.retransmissions++;
    m.attempts++;
    const idHex = bytesToHex(m.messageId);
    if (!ack) {
      counters.messages_acked++;
      m.done = true;
      m.pending.resolve({
        messageId: idHex,
        envelopeId: idHex,
        fragments: 1,
        transmissions: m.attempts,
        acknowledged: false,
      });
      return true;
    }
    // Keys of earlier attempts stay: a late ack of any transmission acknowledges the message.
    this.o.surbs.set(ack.id, { kind: 'pushAck', keys: ack.keys, push: m });
    this.unackedPushes.set(idHex, m);
    this.armPushTimeout(m);
    return true;
  }

  private armPushTimeout(m: WaitingPush): void {
    const { params } = this.o;
    // A push waits at the PO for the recipient's next pull of that mailbox: one pull per poRoundMs, shared with
    // the previous epoch's mailbox during the grace period, so up to two rounds beyond a fragment's round trip.
    const ms = ackTimeoutMs(params, this.o.topology().doc.layers, m.attempts, this.o.retransmit) + 2 * params.poRoundMs;
    m.timer = this.o.scheduler.setTimer(() => {
      m.timer = undefined;
      if (m.done) return;
      if (m.attempts >= this.o.maxAttempts) {
        this.finishPush(
          m,
          new LoopixError(
            'ERR_LOOPIX_CLIENT_UNDELIVERED',
            `message ${bytesToHex(m.messageId)}: push to an anonymous address unacknowledged after ${m.attempts} transmissions, the last waiting ${Math.round(ms)} ms for its ack`,
            { field: 'messageId' },
          ),
        );
        return;
      }
      this.pushes.push(m);
    }, ms);
  }

  /** A push's SURB-ack came back (its keys opened it and it names the push). */
  pushAcked(m: WaitingPush): void {
    if (m.done) this.o.counters.duplicates_ignored++;
    else this.finishPush(m, undefined);
  }

  /** Ends a push: acknowledged (err undefined) or failed; forgets its SURB-ack keys. */
  private finishPush(m: WaitingPush, err: LoopixError | undefined): void {
    const { counters } = this.o;
    if (m.done) return;
    m.done = true;
    if (m.timer !== undefined) this.o.scheduler.clearTimer(m.timer);
    m.timer = undefined;
    const idHex = bytesToHex(m.messageId);
    this.unackedPushes.delete(idHex);
    // A resend already queued for a λP slot is not needed any more (and must not count as buffered).
    const queued = this.pushes.indexOf(m);
    if (queued >= 0) this.pushes.splice(queued, 1);
    this.o.surbs.forget((s) => s.kind === 'pushAck' && s.push === m);
    if (err) {
      counters.messages_failed++;
      this.o.log.warn({ messageId: idHex, code: err.code }, err.message);
      m.pending.reject(err);
      return;
    }
    counters.messages_acked++;
    counters.acks_received++;
    m.pending.resolve({
      messageId: idHex,
      envelopeId: idHex,
      fragments: 1,
      transmissions: m.attempts,
      acknowledged: true,
    });
  }

  /** The client stops: every push's timer ends and its send() promise rejects with ERR_LOOPIX_CLIENT_STOPPED. */
  stop(): void {
    for (const m of [...this.pushes.splice(0), ...this.unackedPushes.values()]) {
      if (m.timer !== undefined) this.o.scheduler.clearTimer(m.timer);
      m.done = true;
      m.pending.reject(
        new LoopixError(
          'ERR_LOOPIX_CLIENT_STOPPED',
          `message ${bytesToHex(m.messageId)}: the client stopped before the push was acknowledged`,
          { field: 'messageId' },
        ),
      );
    }
    this.unackedPushes.clear();
  }

  /** λD: a pool deposit when the request pool needs one (AnonPoP §6.1); false when the slot is not taken. */
  deposit(): boolean {
    return this.po.wantsDeposit(this.o.wallClock()) && this.sendPoolDeposit();
  }

  /**
   * A pre-made pull request for our provider's request pool (AnonPoP §6.1): P_own → mixes → PO, PULL of the
   * mailbox due at its release, with a SURB back to our own inbox. Taken in a λD slot, so the rate is unchanged.
   */
  private sendPoolDeposit(): boolean {
    const { geometry, packets, store } = this.o;
    const submitPool = this.o.transport.submitPool?.bind(this.o.transport);
    if (!submitPool) return false;
    const now = this.o.wallClock();
    const target = this.po.nextTarget(now);
    const surbId = crypto.getRandomValues(new Uint8Array(geometry.addressBytes));
    const { surb, keys } = this.o.surbs.build(target.mailbox.postOfficeId, surbId);
    const route = postOfficeRoute(
      this.o.topology(),
      this.o.providerId,
      target.mailbox.postOfficeId,
      packets.routeOptions(),
    );
    const packet = packets.build(route, encodePull(geometry, target.mailboxId, surb));
    if (!submitPool(packet)) {
      keys.fill(0);
      return false;
    }
    this.po.deposited(target, surbId, keys);
    this.o.counters.po_pool_deposits++;
    const rec = this.po.surbRecord(surbId);
    const pool = this.po.poolRecord();
    if (rec) void store.put('postoffice', rec[0], rec[1]);
    void store.put('postoffice', pool[0], pool[1]);
    for (const id of this.po.expireSurbs(now)) void store.delete('postoffice', `surb/${id}`);
    return true;
  }

  /** At a (re)connect: warn when we were away longer than the request pool covered (AnonPoP §6.1). */
  checkPullGap(): void {
    const { params, counters } = this.o;
    const rounds = this.po.checkGap(this.o.wallClock());
    if (rounds === 0) return;
    counters.po_pull_gaps++;
    counters.po_gap_rounds += rounds;
    this.o.log.warn(
      { rounds, poolSize: params.poPoolSize, roundMs: params.poRoundMs },
      `offline longer than the request pool covers (${params.poPoolSize} rounds of ${params.poRoundMs} ms): the pull pattern showed a gap of ${rounds} rounds, visible to the network`,
    );
  }

  /** A SURB reply that is no ack or reply of ours: a post office's answer to one of our pooled pulls, or unknown. */
  onPullAnswer(id: Uint8Array, payload: Uint8Array): void | Promise<void> {
    const { counters, countInvalid } = this.o;
    const keys = this.po.takeSurb(id);
    if (!keys) return countInvalid('unknown_surb');
    void this.o.store.delete('postoffice', `surb/${bytesToHex(id)}`);
    const content = this.o.backend.openSurbReply(this.o.geometry, keys, payload);
    keys.fill(0);
    if (!content) return countInvalid('surb_integrity');
    const m = this.po.openAnswer(content);
    if (!m) {
      counters.po_answers_dummy++;
      return;
    }
    counters.po_answers_real++;
    const idHex = bytesToHex(m.messageId);
    if (this.o.seen.has(idHex)) {
      // A retransmitted push (our ack was lost or late) or one answered twice (the PO crashed between answering
      // and deleting): acknowledge again, deliver nothing.
      counters.duplicates_ignored++;
      this.queuePushAck(m.messageId, m.ackSurb);
      return;
    }
    const w = this.o.seen.add(idHex);
    this.o.deliver([{ kind: 'message', messageId: m.messageId, bytes: m.bytes }], m.sentAtMs);
    return afterWrite(w, () => this.queuePushAck(m.messageId, m.ackSurb));
  }

  /**
   * Acknowledges a push through the sender's SURB-ack: an ACK frame of (message id, index 0), recipient → our
   * provider → mixes → the sender's provider. It never passes the post office.
   */
  private queuePushAck(messageId: Uint8Array, ackSurb: Uint8Array | undefined): void {
    if (!ackSurb) return;
    try {
      this.o.acks.throughSurb(ackSurb, { envelopeId: messageId, index: 0 });
    } catch {
      return this.o.countInvalid('ack_surb');
    }
  }

  /** Loads the mailboxes, pull SURB keys and pool estimate of the last run; counts the rows it cannot read. */
  restore(rows: ReadonlyMap<string, string>): void {
    if (this.po.restore(rows) > 0) this.o.countInvalid('store_postoffice');
  }
}
