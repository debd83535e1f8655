/**
 * The post office role of a provider (AnonPoP §4; docs/pipeline.md "Post office").
 *
 * The node pipeline hands it every FINAL hop that reached this provider (replay tag already checked, payload
 * integrity already verified). A PUSH is stored under its mailbox id; a PULL is answered with exactly one
 * envelope — the mailbox's oldest, or a random one of the same length — sealed into the request's SURB and
 * submitted to this node's own pipeline as the reply's first hop. A stored envelope is deleted only once its
 * answer has left: `deleteAfterMs` after the submit (the longest the answer can be held at this hop, its
 * per-hop delay bound, plus queueing slack). Until then it is "in flight": kept on disk and skipped by later
 * pulls. A crash or a stop in that window leaves it stored, so it is answered again later (the recipient
 * drops the duplicate by message id) rather than lost. Nothing about the requester is known here to be recorded: the request arrived from a mix, and
 * this module logs counts only, never ids, mailbox ids or SURBs.
 */
import type { Geometry } from '../geometry.js';
import type { DropReason } from '../node/metrics.js';
import type { CounterName } from '../node/counters.js';
import type { SphinxBackend } from '../sphinx/types.js';
import type { MailboxStore } from './store.js';
import { answerContent, decodeRequest } from './wire.js';

export interface PostOfficeOptions {
  readonly geometry: Geometry;
  /** This node's id (hex): a pull's SURB must start here. */
  readonly selfId: string;
  readonly backend: Pick<SphinxBackend, 'createSurbReply'>;
  readonly store: MailboxStore;
  /** The node's pipeline entry for packets that start here (as a client SUBMIT). Never throws. */
  readonly submit: (packet: Uint8Array) => void;
  readonly count: (name: CounterName, by?: number) => void;
  readonly drop: (reason: DropReason) => void;
  readonly log: { error(o: object, msg?: string): void };
  /** Milliseconds after the submit at which an answered envelope is deleted (its answer has left by then). */
  readonly deleteAfterMs: number;
}

export class PostOffice {
  /** Stored envelopes whose answer is on its way out, by row id, with their deletion timers. */
  private readonly inFlight = new Map<number, ReturnType<typeof setTimeout>>();

  constructor(private readonly o: PostOfficeOptions) {}

  /** Answers still in flight (not yet deleted). */
  get answersInFlight(): number {
    return this.inFlight.size;
  }

  /** Stops the deletion timers without deleting: what was in flight is answered again after a restart. */
  close(): void {
    for (const t of this.inFlight.values()) clearTimeout(t);
    this.inFlight.clear();
  }

  private deleteLater(id: number): void {
    const timer = setTimeout(() => {
      this.inFlight.delete(id);
      try {
        this.o.store.remove(id);
      } catch (err) {
        this.o.log.error(
          { err: (err as Error).message },
          'deleting an answered envelope failed; it will be answered again',
        );
      }
    }, this.o.deleteAfterMs);
    timer.unref?.();
    this.inFlight.set(id, timer);
  }

  /** One FINAL hop's address and content; never throws (every outcome is counted). */
  handle(finalAddress: Uint8Array, content: Uint8Array): void {
    const { geometry: g, store, count, drop } = this.o;
    const req = decodeRequest(g, finalAddress, content);
    try {
      if (req.kind === 'invalid') return drop(req.reason);
      if (req.kind === 'push') {
        store.store(req.mailboxId, req.envelope);
        return count('po_pushes_stored');
      }
      const stored = store.oldest(req.mailboxId, new Set(this.inFlight.keys()));
      const reply = this.o.backend.createSurbReply(g, req.surb, answerContent(g, stored?.envelope));
      if (Buffer.from(reply.firstHop).toString('hex') !== this.o.selfId) return drop('po_surb_first_hop');
      this.o.submit(reply.packet);
      count(stored ? 'po_answers_stored' : 'po_answers_dummy');
      if (stored) this.deleteLater(stored.id);
    } catch (err) {
      // A SURB that does not parse (createSurbReply refuses it) or a store failure: counted, never thrown.
      drop(req.kind === 'push' ? 'po_store_error' : 'po_malformed');
      this.o.log.error({ err: (err as Error).message, op: req.kind }, 'post office request failed');
    }
  }
}
