/**
 * `loopix/client`: the client library — `LoopixClient` (three Poisson streams, pulls, fragmentation), the
 * pieces it is built from, and what its options need: the topology index and a verifier, recipient
 * addresses, the geometry, the store interface.
 *
 * Free of Node built-ins, so it bundles for browsers with no plugin or polyfill (test/browser-bundle.test.ts
 * scans the bundle): the client takes its transport (a WebSocket factory), store, Sphinx backend and clocks
 * by injection. The Node defaults (`ws`, SQLite, key and topology files, the native addon) are in the `loopix`
 * entry point (`createNodeClient`, `clientFromConfigFile`); the browser's (its WebSocket, IndexedDB, the
 * TypeScript Sphinx twin) in `loopix/browser` (`createBrowserClient`). See docs/client-api.md.
 *
 * @module loopix/client
 */
export * from '../client/index.js';
export { TopologyIndex } from '../topology/topology-index.js';
export { verifyTopologyPortable as verifyTopology } from '../topology/portable-verify.js';
export type { PortableDirectoryTrust, PortableTopologyTrust as TopologyTrust } from '../topology/portable-verify.js';
export { TopologyError } from '../errors.js';
export type { AnyTopology, NodeEntry, Role, SignedTopology, TopologyBody } from '../topology/types.js';
export { clientIdOf, formatAddress, parseAddress } from '../address.js';
export type { RecipientAddress } from '../address.js';
export { DEFAULT_GEOMETRY, makeGeometry } from '../geometry.js';
export type { Geometry, GeometryParams } from '../geometry.js';
export { LoopixError, isLoopixError } from '../errors.js';
export type { ClientConfig, NetworkParams } from '../config/schema.js';
