/**
 * The loopix client library, runtime-neutral: `LoopixClient` and the pieces it is built from. Its transport
 * (a WebSocket factory), store, Sphinx backend and clocks are injected; the Node defaults are in ./node.js
 * (exported by the `loopix` entry point), the browser's in src/browser/ (`loopix/browser`).
 */
export { LoopixClient, MAX_REPLY_SURBS } from './client.js';
export type {
  ClientStats,
  Delivery,
  KeyPair,
  LoopixClientOptions,
  Percentiles,
  ReceivedMessage,
  SendHandle,
  SendOptions,
  SendProgress,
  TransportContext,
  TransportFactory,
  TransportHandlers,
} from './client.js';
export { webSocketTransport } from './transport.js';
export { ProviderConnection, silentLog, WS_CLOSED, WS_CONNECTING, WS_OPEN } from './connection.js';
export type {
  BackoffOptions,
  ClientTransport,
  ConnectionStats,
  LogLike,
  ProviderConnectionOptions,
  WebSocketFactory,
  WebSocketLike,
  WebSocketLimits,
} from './connection.js';
export { MemoryStore, STORE_TABLES, emptySnapshot } from './store.js';
export type { ClientStore, StoreSnapshot, StoreTable } from './store.js';
export { checkKeyPair } from './keys.js';
export * from './fragments.js';
export * from './routes.js';
export * from './streams.js';
