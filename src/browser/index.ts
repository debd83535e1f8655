/** The browser client: the browser defaults for LoopixClient (see ./client.ts). */
export { createBrowserClient, DEFAULT_DATABASE } from './client.js';
export type { BrowserClientOptions } from './client.js';
export { IndexedDbStore, KEYS_STORE } from './indexeddb-store.js';
export { browserWebSocket } from './websocket.js';
export { fetchTopology, followTopology } from './topology.js';
export type { FetchLike, FollowTopologyOptions } from './topology.js';
