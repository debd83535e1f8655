/** The loopix client library: `LoopixClient` and the pieces it is built from. */
export { LoopixClient, readKeyPairFile } from './client.js';
export type { ClientStats, KeyPair, LoopixClientOptions, Percentiles, ReceivedMessage, TransportHandlers } from './client.js';
export { ProviderConnection, silentLog } from './connection.js';
export type { BackoffOptions, ClientTransport, ConnectionStats, LogLike, ProviderConnectionOptions } from './connection.js';
export * from './fragments.js';
export * from './routes.js';
export * from './streams.js';
