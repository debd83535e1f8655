/**
 * `loopix/sphinx`: the Sphinx packet format (docs/packet-format.md) as the pure TypeScript implementation over
 * the `@noble` libraries, with no Node built-in reachable, so it bundles for browsers as it is. The geometry object, the
 * backend interface both implementations satisfy, and the result types.
 *
 * The native addon (Node only, ~30× faster) is in the `loopix` entry point: `loadSphinx()`.
 *
 * @module loopix/sphinx
 */
export { tsBackend } from '../sphinx/ts/index.js';
export { Command, ResultKind, INVALID_REASONS, MAX_DELAY_US } from '../sphinx/types.js';
export type {
  CommandCode,
  HopSpec,
  InvalidReason,
  PacketSpec,
  ResultKindName,
  SphinxBackend,
  Surb,
  SurbSpec,
  UnwrapResult,
} from '../sphinx/types.js';
export { DEFAULT_GEOMETRY, DEFAULT_GEOMETRY_PARAMS, makeGeometry, UDP_PAYLOAD_LIMIT_MTU1500 } from '../geometry.js';
export type { Geometry, GeometryParams } from '../geometry.js';
