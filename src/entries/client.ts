/**
 * `loopix/client`: the client library — `LoopixClient` (three Poisson streams, pulls, fragmentation), the
 * pieces it is built from, and what its options need: the topology index, recipient addresses, the geometry.
 *
 * Meant to be free of Node built-ins so it bundles for browsers; until the client takes its storage,
 * transport and clock by injection, `LoopixClient` itself still reaches `node:fs`, `node:path`, `ws` and the
 * native addon loader (see docs/client-api.md "Using the library").
 *
 * @module loopix/client
 */
export * from '../client/index.js';
export { TopologyIndex, verifyTopology, TopologyError } from '../topology/document.js';
export type { NodeEntry, Role, SignedTopology, TopologyBody } from '../topology/types.js';
export { clientIdOf, formatAddress, parseAddress } from '../address.js';
export type { RecipientAddress } from '../address.js';
export { DEFAULT_GEOMETRY, makeGeometry } from '../geometry.js';
export type { Geometry, GeometryParams } from '../geometry.js';
export { LoopixError, isLoopixError } from '../errors.js';
export type { ClientConfig, NetworkParams } from '../config/schema.js';
