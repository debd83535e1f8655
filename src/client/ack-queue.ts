/**
 * Acknowledgements the client owes, waiting for a λP slot (docs/pipeline.md "Acknowledgements"): SURB-acks
 * through the sender's SURB (a fragment's, or a push's), and ACK frames sent forward to a replier whose reply
 * came through our SURBs. They go before fragments in the λP stream — a late ack costs the sender a
 * retransmission — and, like every real packet, take the place of a drop: they never add one.
 */
import type { ClientContext } from './context.js';
import { parseAddress, type RecipientAddress } from '../address.js';
import { bytesToHex } from './bytes.js';
import { ackCapacity, encodeAck } from './frames.js';
import type { PacketOut } from './packets.js';
import { messageRoute } from './routes.js';
import { SendQueue } from './send-queue.js';

/** One acknowledged fragment: its envelope (or pushed message) id and index. */
export interface AckEntry {
  readonly envelopeId: Uint8Array;
  readonly index: number;
}

/** A forward ACK frame waiting for a λP slot, to one replier. */
interface ForwardAcks {
  readonly to: RecipientAddress;
  readonly entries: AckEntry[];
}

export interface AckQueueOptions extends Pick<
  ClientContext,
  'geometry' | 'backend' | 'providerId' | 'topology' | 'counters' | 'countInvalid'
> {
  readonly packets: PacketOut;
}

export class AckQueue {
  /** Prebuilt SURB-ack packets (they go before fragments: a late ack costs the sender a retransmission). */
  private readonly surbAcks = new SendQueue<Uint8Array>();
  /** ACK frames to send forward to repliers, by their address. */
  private readonly forwardAcks = new Map<string, ForwardAcks>();

  constructor(private readonly o: AckQueueOptions) {}

  /** SURB-acks waiting (what stats() counts in send_buffer). */
  get surbAckCount(): number {
    return this.surbAcks.length;
  }

  /** Nothing waits: no SURB-ack, no forward ACK frame. */
  get empty(): boolean {
    return this.surbAcks.length === 0 && this.forwardAcks.size === 0;
  }

  /**
   * Queues an ACK frame of `entry` through the sender's SURB; throws when the backend cannot use the SURB.
   * The SURB must start at our own provider: that is where our packets enter the network.
   */
  throughSurb(surb: Uint8Array, entry: AckEntry): void {
    const { firstHop, packet } = this.o.backend.createSurbReply(
      this.o.geometry,
      surb,
      encodeAck(this.o.geometry, [entry]),
    );
    if (bytesToHex(firstHop) !== this.o.providerId) return this.o.countInvalid('ack_first_hop');
    this.surbAcks.push(packet);
  }

  /** Queues `entry` for the next forward ACK frame to `replier` (an address string). */
  forwardTo(replier: string, entry: AckEntry): void {
    const to = parseAddress(this.o.geometry, replier);
    if (!to) return this.o.countInvalid('ack_route');
    const acks = this.forwardAcks.get(replier) ?? { to, entries: [] };
    acks.entries.push(entry);
    this.forwardAcks.set(replier, acks);
  }

  /** undefined: no ack due; else whether the transport took it. */
  sendNext(): boolean | undefined {
    const { geometry, packets, counters } = this.o;
    const surbAck = this.surbAcks.shift();
    if (surbAck) {
      if (packets.submit(surbAck)) {
        counters.acks_sent++;
        return true;
      }
      this.surbAcks.unshift(surbAck);
      return false;
    }
    const next = this.forwardAcks.entries().next();
    if (next.done) return undefined;
    const [key, acks] = next.value;
    const batch = acks.entries.slice(0, ackCapacity(geometry));
    const route = messageRoute(
      this.o.topology(),
      this.o.providerId,
      acks.to,
      crypto.getRandomValues(new Uint8Array(geometry.addressBytes)),
      packets.routeOptions(),
    );
    if (!packets.submit(packets.build(route, encodeAck(geometry, batch)))) return false;
    acks.entries.splice(0, batch.length);
    if (acks.entries.length === 0) this.forwardAcks.delete(key);
    counters.acks_sent++;
    return true;
  }
}
