/**
 * Clients on an in-process network in simulated time: every submitted packet is unwrapped hop by hop with
 * the nodes' real private keys (test/client-fixtures.ts `route`), arrives in the recipient's provider inbox
 * `hopDelayMs` per hop later, and the client pulls its inbox every pullIntervalMs. `lose(nodeId)` decides per
 * packet and node whether that node drops it (a lossy mix). Real Sphinx packets, real SURBs, real acks; only
 * the sockets and the clock are simulated, so a test runs minutes of network time in a second.
 */
import { clientIdOf } from '../../src/address.js';
import { LoopixClient, type LoopixClientOptions, type TransportHandlers } from '../../src/client/client.js';
import type { ClientTransport } from '../../src/client/connection.js';
import type { ClientStore } from '../../src/client/store.js';
import { SimulatedScheduler } from '../../src/client/streams.js';
import { NetworkParamsSchema } from '../../src/config/schema.js';
import type { SphinxBackend } from '../../src/sphinx/types.js';
import { keyPair, route, toHex, type TestNetwork } from '../client-fixtures.js';
import type { KeyPair } from '../../src/client/keys.js';

export class SimTransport implements ClientTransport {
  connected = true;
  /** Every packet submitted, with the simulated time. */
  readonly submitted: Array<{ at: number; packet: Uint8Array }> = [];
  private pullTimer: unknown;
  constructor(
    private readonly world: SimWorld,
    readonly providerId: string,
    readonly clientId: string,
    private readonly handlers: TransportHandlers,
    private readonly pullIntervalMs: number,
  ) {}
  start(): void {
    const pull = () => {
      const inbox = this.world.inbox(this.clientId);
      if (this.connected && inbox.length > 0) void this.handlers.onPackets(inbox.splice(0));
      this.pullTimer = this.world.sim.setTimer(pull, this.pullIntervalMs);
    };
    this.pullTimer = this.world.sim.setTimer(pull, this.pullIntervalMs);
  }
  async stop(): Promise<void> {
    this.connected = false;
    this.world.sim.clearTimer(this.pullTimer);
  }
  submit(packet: Uint8Array): boolean {
    if (!this.connected) return false;
    this.submitted.push({ at: this.world.sim.now(), packet: packet.slice() });
    this.world.carry(this.providerId, packet);
    return true;
  }
}

export interface SimClient {
  readonly client: LoopixClient;
  readonly transport: () => SimTransport;
  readonly keys: KeyPair;
}

export class SimWorld {
  readonly sim = new SimulatedScheduler();
  readonly inboxes = new Map<string, Uint8Array[]>();
  /** Probability that node `id` drops a packet it forwards (default: none). */
  lose: (nodeId: string, packet: { readonly from: string; readonly deliveredTo: string | undefined }) => boolean = () =>
    false;
  hopDelayMs = 50;
  wall = 1_700_000_000_000;
  /** Packets dropped by `lose`, by node id. */
  readonly lost = new Map<string, number>();

  constructor(
    readonly backend: SphinxBackend,
    readonly net: TestNetwork,
  ) {}

  inbox(clientId: string): Uint8Array[] {
    let box = this.inboxes.get(clientId);
    if (!box) this.inboxes.set(clientId, (box = []));
    return box;
  }

  carry(firstNodeId: string, packet: Uint8Array): void {
    const r = route(this.backend, this.net, firstNodeId, packet);
    // A node "drops" a packet by not forwarding it: every node on the path (but the first, the sender's own provider) may lose it.
    for (const hop of r.trace.slice(1)) {
      if (this.lose(hop.nodeId, { from: firstNodeId, deliveredTo: r.delivered?.clientId })) {
        this.lost.set(hop.nodeId, (this.lost.get(hop.nodeId) ?? 0) + 1);
        return;
      }
    }
    if (!r.delivered) return;
    const { clientId, packet: p } = r.delivered;
    this.sim.setTimer(() => this.inbox(clientId).push(p), this.hopDelayMs * r.trace.length);
  }

  client(
    providerId: string,
    params: Record<string, number> = {},
    extra: Partial<LoopixClientOptions> & { keys?: KeyPair; store?: ClientStore } = {},
  ): SimClient {
    const keys = extra.keys ?? keyPair(this.backend);
    const parsed = NetworkParamsSchema.parse({
      lambdaP: 10,
      lambdaL: 2,
      lambdaD: 2,
      mu: 50,
      pullIntervalMs: 100,
      ...params,
    });
    let transport: SimTransport | undefined;
    const client = new LoopixClient({
      config: { providerId, params: parsed },
      keyPair: keys,
      topology: this.net.topology,
      backend: this.backend,
      scheduler: this.sim,
      wallClock: () => this.wall + this.sim.now(),
      ...extra,
      transport: (h) =>
        (transport = new SimTransport(
          this,
          providerId,
          toHex(clientIdOf(this.net.geometry, keys.publicKey)),
          h,
          parsed.pullIntervalMs,
        )),
    });
    return { client, transport: () => transport!, keys };
  }

  /** Advances simulated time in steps, letting promise callbacks run between them, until `done()` or `maxMs`. */
  async runUntil(done: () => boolean, maxMs: number, stepMs = 100): Promise<boolean> {
    for (let t = 0; t < maxMs; t += stepMs) {
      if (done()) return true;
      this.sim.advance(stepMs);
      await new Promise((r) => setImmediate(r));
    }
    return done();
  }
}
