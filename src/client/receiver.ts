/**
 * What the client does with pulled packets (Loopix §3.2, docs/pipeline.md "The client"): each is unwrapped
 * with the client's private key. FINAL → fragment reassembly → the application's inbox, acknowledged through
 * the fragment's SURB-ack (or forward, for a reply) once it is in the store; a reply through one of our SURBs
 * → an ack of ours, a reply to us, or a post office answer; LOOP with a loop id we sent → round-trip time;
 * anything that fails (the provider's dummies fail the MAC) → counted and discarded. Never throws on bad
 * input: every discard is counted by reason (invalid_received).
 */
import type { ClientContext } from './context.js';
import { parseAddress } from '../address.js';
import type { AckQueue } from './ack-queue.js';
import { bytesToHex, hexToBytes } from './bytes.js';
import type { ReceivedMessage } from './client-types.js';
import { decodeEnvelope, type EnvelopeRecord } from './envelope.js';
import { Reassembler, type ReassemblerOptions } from './fragments.js';
import { AckMode, dataCapacity, decodeFrame, type DataFragment } from './frames.js';
import { Inbox } from './inbox.js';
import type { LoopTracker } from './loop-tracker.js';
import type { Outbox } from './outbox.js';
import type { ClientPostOffice } from './post-office.js';
import type { SeenIds } from './seen.js';
import { Samples } from './stats.js';
import { decodePartial, encodePartial } from './store-codec.js';
import { afterWrite } from './store-writer.js';
import { MAX_REPLY_SURBS, type ReplySurbEntry, type Surbs } from './surbs.js';

const DUMMY_REASONS = new Set(['mac', 'version']);

export interface ReceiverOptions extends Pick<
  ClientContext,
  'geometry' | 'backend' | 'wallClock' | 'store' | 'counters' | 'countInvalid'
> {
  readonly privateKey: Uint8Array;
  readonly maxMessageBytes: number;
  readonly maxEnvelopeBytes: number;
  readonly reassembly: Omit<ReassemblerOptions, 'maxMessageBytes' | 'now'> | undefined;
  /** Monotonic ms, for the reassemblers. */
  readonly now: () => number;
  /** Received messages kept for the application before the oldest is dropped. */
  readonly maxQueuedMessages: number;
  /** Message latency samples kept for percentiles. */
  readonly latencySampleLimit: number;
  readonly loops: LoopTracker;
  readonly surbs: Surbs;
  readonly outbox: Outbox;
  readonly acks: AckQueue;
  readonly seen: SeenIds;
  /** Post office answers and push acks come back through SURBs too. */
  readonly postOffice: Pick<ClientPostOffice, 'onPullAnswer' | 'pushAcked'>;
}

export class Receiver {
  /** Received messages, for messages(). */
  readonly inbox: Inbox<ReceivedMessage>;
  /** Message latency samples (ms), for stats(). */
  readonly latency: Samples;
  /** Framing v1 fragments (no acknowledgement), still accepted. */
  private readonly legacy: Reassembler;
  /** Envelope fragments (framing v2). */
  private readonly reassembler: Reassembler;
  /** Incoming envelope id → the conversation whose SURBs carry it (replies to us). */
  private readonly incomingVia = new Map<string, string>();

  constructor(private readonly o: ReceiverOptions) {
    this.inbox = new Inbox(o.maxQueuedMessages);
    this.latency = new Samples(o.latencySampleLimit);
    const now = o.now;
    this.legacy = new Reassembler(o.geometry, { ...o.reassembly, maxMessageBytes: o.maxMessageBytes, now });
    this.reassembler = new Reassembler(o.geometry, { ...o.reassembly, maxMessageBytes: o.maxEnvelopeBytes, now });
  }

  /** Fragments held for incomplete messages, over both framings (for stats()). */
  reassemblyStats(): { incomplete: number; incomplete_bytes: number; discarded: number } {
    return {
      incomplete: this.reassembler.incomplete + this.legacy.incomplete,
      incomplete_bytes: this.reassembler.incompleteBytes + this.legacy.incompleteBytes,
      discarded: this.reassembler.discarded + this.legacy.discarded,
    };
  }

  /**
   * Unwraps pulled packets (in place) with our private key and acts on each. Resolves once every fragment
   * that will be acknowledged is in the store (the provider deletes the packets only after that).
   */
  receive(packets: readonly Uint8Array[]): void | Promise<void> {
    const { geometry, backend, counters, countInvalid } = this.o;
    const writes: Promise<void>[] = [];
    for (const packet of packets) {
      counters.packets_received++;
      const r = backend.unwrap(geometry, this.o.privateKey, packet);
      let w: void | Promise<void> = undefined;
      switch (r.kind) {
        case 'final':
          counters.fragments_received++;
          w = this.onContent(r.content, undefined);
          break;
        case 'surbReply':
          w = this.onSurbReply(r.id, r.payload);
          break;
        case 'loop':
          if (this.o.loops.onReturn(r.id) === 'unknown') countInvalid('unknown_loop');
          break;
        case 'invalid':
          if (DUMMY_REASONS.has(r.reason)) counters.dummies_discarded++;
          else countInvalid(r.reason);
          break;
        default:
          countInvalid(`unexpected_${r.kind}`);
      }
      if (w instanceof Promise) writes.push(w);
    }
    if (writes.length > 0) return Promise.all(writes).then(() => undefined);
  }

  /** A packet that came back through one of our SURBs: a fragment's ack, or a reply. */
  private onSurbReply(id: Uint8Array, payload: Uint8Array): void | Promise<void> {
    const { geometry, surbs, counters, countInvalid } = this.o;
    const key = bytesToHex(id);
    const entry = surbs.get(key);
    if (!entry) return this.o.postOffice.onPullAnswer(id, payload);
    const content = this.o.backend.openSurbReply(geometry, entry.keys, payload);
    if (!content) return countInvalid('surb_integrity');
    // Single use: a replayed or duplicated reply finds no keys (unknown_surb).
    surbs.delete(key);
    entry.keys.fill(0);
    if (entry.kind === 'pushAck') {
      const f = decodeFrame(geometry, content);
      if (
        f.type !== 'ack' ||
        f.entries.length !== 1 ||
        bytesToHex(f.entries[0]!.envelopeId) !== bytesToHex(entry.push.messageId) ||
        f.entries[0]!.index !== 0
      ) {
        return countInvalid('ack_mismatch');
      }
      this.o.postOffice.pushAcked(entry.push);
      return;
    }
    if (entry.kind === 'ack') {
      const f = decodeFrame(geometry, content);
      if (
        f.type !== 'ack' ||
        f.entries.length !== 1 ||
        bytesToHex(f.entries[0]!.envelopeId) !== entry.envelopeId ||
        f.entries[0]!.index !== entry.index
      ) {
        return countInvalid('ack_mismatch');
      }
      if (!this.o.outbox.ackedBySurb(entry.envelopeId, entry.index)) counters.duplicates_ignored++;
      return;
    }
    surbs.forgetStored(key);
    counters.fragments_received++;
    return this.onContent(content, entry);
  }

  /** One decrypted C-byte content: a fragment (v1 or v2) or an ACK frame. */
  private onContent(content: Uint8Array, via: ReplySurbEntry | undefined): void | Promise<void> {
    const { counters, countInvalid } = this.o;
    const f = decodeFrame(this.o.geometry, content);
    switch (f.type) {
      case 'fragment_v1': {
        const added = this.legacy.add(content);
        if (added.status === 'complete')
          this.deliver(
            [{ kind: 'message', messageId: hexToBytes(added.message.messageId), bytes: added.message.bytes }],
            added.message.sentAtMs,
            undefined,
          );
        else if (added.status === 'duplicate') counters.duplicates_ignored++;
        else if (added.status === 'invalid') countInvalid(`fragment_${added.reason}`);
        return;
      }
      case 'ack':
        for (const e of f.entries) {
          if (!this.o.outbox.ackedForward(e.envelopeId, e.index)) countInvalid('unknown_ack');
        }
        return;
      case 'data':
        return this.onData(f.fragment, via);
      default:
        return countInvalid(`fragment_${f.reason}`);
    }
  }

  private onData(f: DataFragment, via: ReplySurbEntry | undefined): void | Promise<void> {
    const { geometry, seen, store, counters, countInvalid } = this.o;
    const id = bytesToHex(f.envelopeId);
    const ack = () => this.queueAck(f, via);
    if (f.ackMode === AckMode.FORWARD && !via) return countInvalid('fragment_ack_route');
    if (f.count > Math.ceil(this.o.maxEnvelopeBytes / dataCapacity(geometry, f.ackMode)))
      return countInvalid('fragment_count');
    if (seen.has(id)) {
      // Our earlier ack was lost (or is late): the sender sent again. Acknowledge again, deliver nothing.
      counters.duplicates_ignored++;
      return ack();
    }
    const added = this.reassembler.addFragment({
      messageId: f.envelopeId,
      index: f.index,
      count: f.count,
      data: f.data,
      sentAtMs: f.sentAtMs,
    });
    switch (added.status) {
      case 'invalid':
        return countInvalid(`fragment_${added.reason}`);
      case 'duplicate':
        counters.duplicates_ignored++;
        return ack();
      case 'partial': {
        if (via) this.incomingVia.set(id, via.conversation);
        const value = encodePartial({
          count: f.count,
          sentAtMs: f.sentAtMs,
          data: bytesToHex(f.data),
          at: this.o.wallClock(),
          via: via?.conversation,
        });
        return afterWrite(store.put('partial', `${id}/${f.index}`, value), ack);
      }
      case 'complete': {
        const w = seen.add(id);
        for (let i = 0; i < f.count; i++) if (i !== f.index) void store.delete('partial', `${id}/${i}`);
        const conversation = via?.conversation ?? this.incomingVia.get(id);
        this.incomingVia.delete(id);
        const env = decodeEnvelope(geometry, added.message.bytes, this.o.maxEnvelopeBytes);
        if (!env.ok) countInvalid(env.reason);
        else this.deliver(env.records, added.message.sentAtMs, conversation, via?.replier);
        return afterWrite(w, ack);
      }
    }
  }

  /** Queues the acknowledgement of one fragment we now hold. */
  private queueAck(f: DataFragment, via: ReplySurbEntry | undefined): void {
    const entry = { envelopeId: f.envelopeId, index: f.index };
    if (f.ackMode === AckMode.SURB) this.o.acks.throughSurb(f.surb!, entry);
    else if (f.ackMode === AckMode.FORWARD && via) this.o.acks.forwardTo(via.replier, entry);
  }

  /** Hands an envelope's messages to the application, in order; keeps its reply SURBs; answers SURB requests. */
  deliver(
    records: readonly EnvelopeRecord[],
    sentAtMs: number,
    conversation: string | undefined,
    replier?: string,
  ): void {
    const { geometry, surbs, counters } = this.o;
    let replyHandle: string | undefined;
    for (const r of records) {
      if (r.kind === 'replySurbs') {
        replyHandle = bytesToHex(r.replyKey);
        surbs.addReplySurbs(replyHandle, r.surbs, r.expiresAtMs);
      } else if (r.kind === 'surbRequest' && conversation !== undefined && replier !== undefined) {
        const to = parseAddress(geometry, replier);
        const wanted = Math.min(r.wanted, MAX_REPLY_SURBS);
        if (to && wanted > 0)
          this.o.outbox.enqueue({
            to,
            toAddress: replier,
            records: [surbs.makeReplySurbs(to, conversation, wanted)],
            pending: undefined,
          });
      }
    }
    const latencyMs = Math.max(0, this.o.wallClock() - sentAtMs);
    for (const r of records) {
      if (r.kind !== 'message') continue;
      counters.received_real++;
      if (conversation !== undefined) counters.replies_received++;
      this.latency.add(latencyMs);
      this.inbox.push({
        messageId: bytesToHex(r.messageId),
        bytes: r.bytes,
        latencyMs,
        sentAtMs,
        ...(replyHandle !== undefined ? { replyHandle } : {}),
        ...(conversation !== undefined ? { conversation } : {}),
      });
    }
  }

  /** Loads the held fragments of the last run; drops those of completed envelopes and those over 10 min old. */
  restore(partial: ReadonlyMap<string, string>, now: number): void {
    for (const [key, v] of partial) {
      try {
        const p = decodePartial(v);
        const [id, index] = key.split('/') as [string, string];
        if (this.o.seen.has(id) || now - p.at > 600_000) {
          void this.o.store.delete('partial', key);
          continue;
        }
        this.reassembler.addFragment({
          messageId: hexToBytes(id),
          index: Number(index),
          count: p.count,
          data: hexToBytes(p.data),
          sentAtMs: p.sentAtMs,
        });
        if (p.via) this.incomingVia.set(id, p.via);
      } catch {
        this.o.countInvalid('store_partial');
      }
    }
  }
}
