/**
 * `loopix`: the Node entry point — everything an application or an operator's tooling needs.
 *
 * - the client library (`LoopixClient`, also in `loopix/client`) and what its options take;
 * - the local client API server behind `loopix client serve` (`ClientApiServer`, docs/client-api.md);
 * - the Sphinx packet format: `loadSphinx()` picks the native addon (or the TypeScript twin, also in
 *   `loopix/sphinx`);
 * - topology documents, configs, addresses, the geometry, errors;
 * - a whole local network in one call (`runTestnet`, what `loopix testnet` runs).
 *
 * ```ts
 * import { clientFromConfigFile } from 'loopix';
 * const client = clientFromConfigFile('first-net/clients/alice.json');
 * client.start();
 * ```
 *
 * @module loopix
 */
export * from './entries/client.js';
// The Node defaults of the client: the `ws` WebSocket, SQLite store, key and topology files, the native addon.
export { clientFromConfigFile, createNodeClient, nodeWebSocket, readKeyPairFile, wsTransport } from './client/node.js';
export { prepareClientDirectory } from './directory/client-setup.js';
export type { NodeClientOptions } from './client/node.js';
export { SqliteStore } from './client/sqlite-store.js';
// Node's verifier (OpenSSL for a single authority); `loopix/client` exports the @noble one under the same name.
export { verifyTopology } from './topology/document.js';
export type { TopologyTrust } from './topology/document.js';
export { loadSphinx, loadSphinxUncached } from './sphinx/loader.js';
export type { LoadedSphinx, LoadOptions } from './sphinx/loader.js';
export { tsBackend } from './sphinx/ts/index.js';
export { Command, ResultKind, INVALID_REASONS, MAX_DELAY_US } from './sphinx/types.js';
export type {
  HopSpec,
  InvalidReason,
  PacketSpec,
  SphinxBackend,
  Surb,
  SurbSpec,
  UnwrapResult,
} from './sphinx/types.js';
export { DEFAULT_GEOMETRY_PARAMS } from './geometry.js';
export { generateAuthorityKey, loadTopologyFile, signTopology } from './topology/document.js';
export type { AuthorityKey } from './topology/document.js';
export {
  ClientConfigSchema,
  ConfigError,
  loadConfigFile,
  NetworkParamsSchema,
  NodeConfigSchema,
  parseConfig,
} from './config/schema.js';
export type { NodeConfig } from './config/schema.js';
export { ClientApiServer, DEFAULT_API_PORT } from './client-api/server.js';
export type { ApiClient, ClientApiServerOptions, ClientApiStats } from './client-api/server.js';
export {
  ApiErrorCode,
  BinaryKind,
  BINARY_HEADER_BYTES,
  encodeEvent,
  parseBinaryRequest,
  parseJsonRequest,
} from './client-api/protocol.js';
export type { ApiError, ApiEvent, ApiRequest, Framing } from './client-api/protocol.js';
export { isLoopbackHost } from './client-api/bind.js';
export { runTestnet } from './testnet/run.js';
export type { TestnetOptions, TestnetSummary } from './testnet/run.js';
export { packageVersion } from './version.js';
