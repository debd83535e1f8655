/**
 * The last stage: one datagram per packet to the next node's UDP address (from the topology). The node's one
 * socket sends, so the next hop sees the node's announced port. A failed send is counted ("send_error"),
 * a completed one is "forwarded"; neither throws.
 *
 * Per packet this costs one `socket.send` and nothing else: the completion callback is one shared function
 * per counter (no closure per packet), and the node's socket resolves IP literals synchronously (its
 * `lookup`, src/node/incoming.ts), so no DNS round trip through the event loop either.
 *
 * With a link layer (every node), each packet is sealed for its next hop just before it is handed to the
 * socket (src/node/link): one AES-128-GCM pass and a 28-byte larger datagram. A packet for which no link key
 * exists is dropped as "link_no_key". Fault injection acts on the packet before sealing, so a tagged packet
 * still arrives authenticated and the next hop sees exactly the Sphinx-level damage.
 */
import type { Faults } from './faults.js';
import type { CounterName, DropReason } from './metrics.js';

/** The part of a dgram.Socket this stage uses. */
export interface DatagramSender {
  send(msg: Uint8Array, port: number, address: string, callback: (err: Error | null) => void): void;
}

export interface OutgoingCounters {
  count(name: CounterName, by?: number): void;
  drop(reason: DropReason, by?: number): void;
}

/** The link layer's send side (src/node/link/index.ts). */
export interface LinkSealer {
  seal(packet: Uint8Array, to: { readonly host: string; readonly port: number }): Uint8Array | DropReason;
}

export class Outgoing {
  private lastError: string | undefined;
  /** One completion callback per success counter, created on first use. */
  private readonly callbacks = new Map<CounterName, (err: Error | null) => void>();

  constructor(
    private readonly socket: DatagramSender,
    private readonly metrics: OutgoingCounters,
    /** Called with the first error of each kind (for one log line, not one per packet). */
    private readonly onNewError: (message: string) => void = () => {},
    /** Injected misbehaviour for tests and the testnet (src/node/faults.ts); forwarded packets only. */
    private readonly faults?: Faults,
    /** Absent only in unit tests of this stage: then packets leave as bare datagrams. */
    private readonly link?: LinkSealer,
  ) {}

  /** Sends `packet`; `counter` is the counter bumped on success ("forwarded", or "loops_sent"). */
  send(
    packet: Uint8Array,
    to: { readonly host: string; readonly port: number },
    counter: CounterName = 'forwarded',
  ): void {
    if (this.faults !== undefined && counter === 'forwarded') {
      const action = this.faults.apply(packet);
      if (action === 'drop') {
        this.metrics.drop('fault_injected');
        return;
      }
      if (action === 'delay') {
        // The packet may be a view of a batch buffer that is reused once this call returns: hold a copy.
        const copy = packet.slice();
        setTimeout(() => this.transmit(copy, to, counter), this.faults.delayMs);
        return;
      }
    }
    this.transmit(packet, to, counter);
  }

  private transmit(
    packet: Uint8Array,
    to: { readonly host: string; readonly port: number },
    counter: CounterName,
  ): void {
    let done = this.callbacks.get(counter);
    if (done === undefined) {
      done = (err) => {
        if (err) this.fail(err);
        else this.metrics.count(counter);
      };
      this.callbacks.set(counter, done);
    }
    let datagram = packet;
    if (this.link !== undefined) {
      const sealed = this.link.seal(packet, to);
      if (typeof sealed === 'string') {
        this.metrics.drop(sealed);
        return;
      }
      datagram = sealed;
    }
    try {
      this.socket.send(datagram, to.port, to.host, done);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private fail(err: Error): void {
    this.metrics.drop('send_error');
    const message = err.message;
    if (message !== this.lastError) {
      this.lastError = message;
      this.onNewError(message);
    }
  }
}
