/** The loopix client library: `LoopixClient` and the pieces it is built from (Node defaults in ./node.js). */
export { LoopixClient } from './client.js';
export type { ClientStats, KeyPair, LoopixClientOptions, Percentiles, ReceivedMessage, TransportContext, TransportFactory, TransportHandlers } from './client.js';
export { clientFromConfigFile, createNodeClient, readKeyPairFile, wsTransport } from './node.js';
export type { NodeClientOptions } from './node.js';
export { ProviderConnection, silentLog } from './connection.js';
export type { BackoffOptions, ClientTransport, ConnectionStats, LogLike, ProviderConnectionOptions } from './connection.js';
export * from './fragments.js';
export * from './routes.js';
export * from './streams.js';
