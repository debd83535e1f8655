/**
 * Real LoopixClients of a testnet whose nodes run as processes (helpers/process-net.ts): each with a fresh
 * key file in the testnet's directory (as `loopix keygen` writes it), the testnet's signed topology, the
 * native Sphinx backend and the WebSocket transport to its provider. `startClientNet` starts the nodes and
 * stops, on close, every client made on them before the nodes.
 */
import { join } from 'node:path';
import type { KeyPair, LoopixClient } from '../../src/client/client.js';
import { createNodeClient, type NodeClientOptions } from '../../src/client/node.js';
import { NetworkParamsSchema, type NetworkParams } from '../../src/config/schema.js';
import { writeKeyFile, type TestnetFiles } from '../../src/testnet/network.js';
import { native } from './backends.js';
import { lightNodeConfig, startProcessNet, type ProcessNet, type ProcessNetOptions } from './process-net.js';

/** A fresh key pair, written to `<dir>/<name>.key.json`. */
export function freshClientKeyPair(dir: string, name: string): KeyPair {
  const k = writeKeyFile(join(dir, `${name}.key.json`), native);
  return { publicKey: Uint8Array.from(Buffer.from(k.publicKey, 'hex')), privateKey: k.privateKey };
}

/** A client of the testnet's provider `providerIndex` with `params` (the rest at their defaults). */
export function testnetClient(
  files: TestnetFiles,
  o: {
    readonly keyPair: KeyPair;
    readonly providerIndex: number;
    readonly params: Partial<NetworkParams>;
  } & Partial<Omit<NodeClientOptions, 'config' | 'keyPair' | 'topology' | 'backend'>>,
): LoopixClient {
  const { keyPair, providerIndex, params, ...extra } = o;
  return createNodeClient({
    config: { providerId: files.index.providers[providerIndex]!.id, params: NetworkParamsSchema.parse(params) },
    keyPair,
    topology: files.index,
    backend: native,
    ...extra,
  });
}

/** Starts each client and waits until all are connected to their providers. */
export async function startConnected(...clients: readonly LoopixClient[]): Promise<void> {
  for (const c of clients) c.start();
  await Promise.all(clients.map((c) => c.waitConnected(15_000)));
}

export interface ClientNet extends ProcessNet {
  /**
   * A client of provider `providerIndex`: a fresh key pair named `name` unless `o.keyPair` is given, the
   * network's params with `o.params` over them. `close()` stops it.
   */
  client(
    name: string,
    providerIndex: number,
    o?: { readonly keyPair?: KeyPair; readonly params?: Partial<NetworkParams> } & Partial<
      Omit<NodeClientOptions, 'config' | 'keyPair' | 'topology' | 'backend'>
    >,
  ): LoopixClient;
  /**
   * Stops the clients made so far (the nodes keep running): a file's tests call it after each test, so one
   * test's Poisson streams do not load the two cores under the next test's timing.
   */
  stopClients(): Promise<void>;
}

export type ClientNetOptions = Omit<ProcessNetOptions, 'shape' | 'backend'> &
  Partial<Pick<ProcessNetOptions, 'shape' | 'backend'>>;

/**
 * The smallest network in which every message crosses two providers and every mix layer: two providers and
 * two mix layers of one mix each.
 */
export const TWO_PROVIDERS = { layers: 2, perLayer: 1, providers: 2, epoch: 3 } as const;

/**
 * A process network (helpers/process-net.ts; default shape TWO_PROVIDERS, native Sphinx) and the clients a
 * test makes on it, stopped together.
 */
export async function startClientNet(o: ClientNetOptions): Promise<ClientNet> {
  const pn = await startProcessNet({ shape: TWO_PROVIDERS, backend: native, ...o });
  const clients: LoopixClient[] = [];
  const stopClients = async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  };
  return {
    ...pn,
    client(name, providerIndex, { keyPair, params, ...extra } = {}) {
      const client = testnetClient(pn.files, {
        keyPair: keyPair ?? freshClientKeyPair(pn.dir, name),
        providerIndex,
        params: { ...o.params, ...params },
        ...extra,
      });
      clients.push(client);
      return client;
    },
    stopClients,
    async close() {
      await stopClients();
      await pn.close();
    },
  };
}

/** Fast post office parameters (µ = 50/s, 100-ms rounds, µ_pool = 15): each post office test takes seconds. */
export const FAST_PO_PARAMS = {
  lambdaP: 20,
  lambdaL: 1,
  lambdaD: 20,
  lambdaM: 1,
  mu: 50,
  pullIntervalMs: 100,
  pullK: 16,
  poRoundMs: 100,
  poPoolSize: 15,
} as const;

/**
 * A post office network (docs/pipeline.md "Post office"): provider-0 serves as the post office, clients use
 * provider-1, so every push and pull crosses both mix layers. On a shared 2-core machine a lenient AQM, so
 * load spikes delay packets instead of dropping them (pushes are acknowledged and retransmitted, but the tests
 * time rounds and count pulls).
 */
export function startPostOfficeNet(
  o: Pick<ClientNetOptions, 'prefix' | 'params' | 'perNodeConfig'> & { readonly log?: string },
): Promise<ClientNet> {
  const { log, ...rest } = o;
  return startClientNet({
    ...rest,
    postOffice: true,
    nodeConfig: lightNodeConfig({ statsIntervalS: 0.25, log, aqm: { targetDelayMs: 500, maxQueueDelayMs: 5000 } }),
  });
}
