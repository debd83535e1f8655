/**
 * The browser defaults of the runtime-neutral client (src/client/client.ts): the TypeScript Sphinx twin
 * (src/sphinx/ts/), the browser's WebSocket, IndexedDB for the key pair and the pending state, randomness
 * from globalThis.crypto, performance.now / setTimeout for the streams. The client, its three Poisson
 * streams and its wire traffic are the ones the Node client runs (test/browser-chromium.test.ts compares
 * the rates the provider sees).
 */
import type { SphinxBackend } from '../sphinx/types.js';
import { tsBackend } from '../sphinx/ts/index.js';
import { LoopixClient, type LoopixClientOptions } from '../client/client.js';
import type { BackoffOptions, WebSocketFactory } from '../client/connection.js';
import type { KeyPair } from '../client/keys.js';
import { webSocketTransport } from '../client/transport.js';
import type { PortableTopologyTrust } from '../topology/portable-verify.js';
import { IndexedDbStore } from './indexeddb-store.js';
import { followTopology, type FetchLike } from './topology.js';
import { browserWebSocket } from './websocket.js';

/** The IndexedDB database a browser client uses unless told otherwise. */
export const DEFAULT_DATABASE = 'loopix-client';

export type BrowserClientOptions = Omit<LoopixClientOptions, 'backend' | 'transport' | 'keyPair' | 'store'> & {
  /** IndexedDB database holding this client's key pair and pending state (default "loopix-client"): one per identity. */
  readonly database?: string;
  /** A key pair to use instead of the database's (it is not stored). */
  readonly keyPair?: KeyPair;
  /** Default: the TypeScript twin. */
  readonly backend?: SphinxBackend;
  /** Default: the browser's WebSocket. */
  readonly webSocket?: WebSocketFactory;
  readonly backoff?: BackoffOptions;
  /** Keep the topology current: poll this URL for newer documents verified against `trust`. */
  readonly follow?: {
    readonly url: string;
    readonly trust: PortableTopologyTrust;
    readonly intervalMs?: number;
    readonly fetch?: FetchLike;
  };
};

/**
 * Opens the client's IndexedDB database (creating its key pair on first use) and returns a LoopixClient on
 * the browser defaults; call start(). stop() closes the session, the topology polling and the database.
 */
export async function createBrowserClient(o: BrowserClientOptions): Promise<LoopixClient> {
  const backend = o.backend ?? tsBackend;
  const store = await IndexedDbStore.open(o.database ?? DEFAULT_DATABASE);
  let follower: { stop(): void } | undefined;
  try {
    const keyPair = o.keyPair ?? (await store.keyPair(o.topology.geometry, backend));
    const client = new LoopixClient({
      ...o,
      keyPair,
      backend,
      store,
      transport: webSocketTransport(o.webSocket ?? browserWebSocket, o.backoff),
      onStop: async () => {
        follower?.stop();
        await o.onStop?.();
        store.close();
      },
    });
    if (o.follow) {
      const log = o.log;
      follower = followTopology({
        ...o.follow,
        target: client,
        onError: (err) => log?.warn({ err: err.message }, 'topology not adopted; keeping the current document'),
      });
    }
    return client;
  } catch (err) {
    store.close();
    throw err;
  }
}
