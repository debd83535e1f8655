/**
 * The way out for every packet the client makes (Loopix §3.2): Sphinx packets built on fresh routes with
 * fresh Exp(µ) delays, handed to the transport, and the cover content of loops and drops. Everything the
 * client sends — fragments, acks, pushes, pool deposits, loops, drops — leaves through `submit`.
 */
import type { ClientContext } from './context.js';
import type { ClientTransport } from './connection.js';
import { dropRoute, type Route, type RouteOptions } from './routes.js';
import type { RandomSource } from './streams.js';

export interface PacketOutOptions extends Pick<
  ClientContext,
  'geometry' | 'backend' | 'params' | 'providerId' | 'topology' | 'wallClock' | 'log'
> {
  readonly transport: ClientTransport;
  readonly random: RandomSource;
  /** Told right after each packet is handed to the transport. */
  readonly onPacketSent: (() => void) | undefined;
}

export class PacketOut {
  constructor(private readonly o: PacketOutOptions) {}

  /** Per-hop delays Exp(µ) from our random source; the key epoch of the wall clock now. */
  routeOptions(): RouteOptions {
    return { mu: this.o.params.mu, random: this.o.random, nowMs: this.o.wallClock() };
  }

  build(route: Route, content: Uint8Array): Uint8Array {
    const spec = { epoch: route.epoch, hops: route.hops, content };
    try {
      return this.o.backend.createPacket(this.o.geometry, spec);
    } catch (err) {
      // Creation fails with probability ~2^-125 (an unliftable scalar); a fresh seed fixes it.
      this.o.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'packet creation failed; retrying with a new seed',
      );
      return this.o.backend.createPacket(this.o.geometry, spec);
    }
  }

  /** Every packet leaves through here: hands it to the transport and tells onPacketSent when it went. */
  submit(packet: Uint8Array): boolean {
    const ok = this.o.transport.submit(packet);
    if (ok) this.o.onPacketSent?.();
    return ok;
  }

  /** The content of a loop or drop cover packet. */
  coverContent(): Uint8Array {
    return new Uint8Array(this.o.geometry.contentBytes);
  }

  /** A drop cover packet to a random provider; whether the transport took it. */
  sendDrop(): boolean {
    const packet = this.build(
      dropRoute(this.o.topology(), this.o.providerId, this.routeOptions()),
      this.coverContent(),
    );
    return this.submit(packet);
  }
}
