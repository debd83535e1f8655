/**
 * A LoopixClient on simulated time with an in-memory transport: no provider and no socket, a
 * SimulatedScheduler (src/client/streams.ts) for its streams and timers, and what it submits kept for the test
 * to count or to route through the network's real keys (test/client-fixtures.ts `route`).
 */
import { expect } from 'vitest';
import { LoopixClient, type TransportHandlers } from '../../src/client/client.js';
import type { ClientTransport } from '../../src/client/connection.js';
import type { KeyPair } from '../../src/client/keys.js';
import { SimulatedScheduler } from '../../src/client/streams.js';
import { NetworkParamsSchema, type NetworkParams } from '../../src/config/schema.js';
import type { SphinxBackend } from '../../src/sphinx/types.js';
import type { TopologyIndex } from '../../src/topology/document.js';
import { keyPair } from '../client-fixtures.js';

/** Keeps every packet the client submits (and deposits in its provider's pool); refuses both while not `connected`. */
export class MemoryTransport implements ClientTransport {
  connected = true;
  readonly submitted: Uint8Array[] = [];
  readonly pooled: Uint8Array[] = [];
  start(): void {}
  stop(): Promise<void> {
    this.connected = false;
    return Promise.resolve();
  }
  submit(packet: Uint8Array): boolean {
    if (!this.connected) return false;
    this.submitted.push(packet);
    return true;
  }
  submitPool(packet: Uint8Array): boolean {
    if (!this.connected) return false;
    this.pooled.push(packet);
    return true;
  }
}

/** Slow streams (λP = λL = λD = 1/s) and µ = 10/s: a test's simulated minutes stay cheap to route. */
export const SIM_PARAMS = { lambdaP: 1, lambdaL: 1, lambdaD: 1, mu: 10 } as const;

export interface SimClient {
  readonly client: LoopixClient;
  readonly sim: SimulatedScheduler;
  readonly transport: MemoryTransport;
  readonly keys: KeyPair;
  /** The handlers the client gave its transport (for feeding it pulled packets). */
  handlers(): TransportHandlers;
}

export function simClient(o: {
  readonly backend: SphinxBackend;
  readonly topology: TopologyIndex;
  readonly providerId: string;
  /** Over SIM_PARAMS. */
  readonly params?: Partial<NetworkParams>;
  /** Shared with other clients of the test; default: a scheduler of its own. */
  readonly sim?: SimulatedScheduler;
  /** Shared with other clients of the test; default: a transport of its own. */
  readonly transport?: MemoryTransport;
  /** Wall-clock time at simulated time 0 (mailbox epochs, message timestamps); absent: the real clock. */
  readonly wallMs?: number;
}): SimClient {
  const sim = o.sim ?? new SimulatedScheduler();
  const transport = o.transport ?? new MemoryTransport();
  const keys = keyPair(o.backend);
  const wall = o.wallMs;
  let handlers: TransportHandlers | undefined;
  const client = new LoopixClient({
    config: { providerId: o.providerId, params: NetworkParamsSchema.parse({ ...SIM_PARAMS, ...o.params }) },
    keyPair: keys,
    topology: o.topology,
    backend: o.backend,
    scheduler: sim,
    ...(wall !== undefined ? { wallClock: () => wall + sim.now() } : {}),
    transport: (h) => {
      handlers = h;
      return transport;
    },
  });
  return {
    client,
    sim,
    transport,
    keys,
    handlers: () => handlers!,
  };
}

/** A Poisson count `x` is within `k` standard deviations of its mean (σ = √mean). */
export function within(x: number, mean: number, k = 5): void {
  expect(Math.abs(x - mean), `${x} vs ${mean}`).toBeLessThanOrEqual(k * Math.sqrt(mean));
}
