/**
 * The native Sphinx backend: a thin TypeScript wrapper around the C++ N-API addon
 * (build/Release/loopix_sphinx.node, sources in native/, built by `npx node-gyp rebuild`).
 *
 * The addon's surface is flat — geometry travels as (maxHops, addressBytes, contentBytes), paths as two
 * contiguous byte strings, and packet-path results as fixed-size records (docs/packet-format.md §9) written
 * into caller-provided buffers — so the hot path creates no JS objects on the native side. This wrapper
 * checks arguments (cheaply, with messages naming the argument and the expected length), encodes paths,
 * allocates outputs and decodes records with `decodeRecord`. The addon checks every argument again, so a
 * direct call with bad arguments throws instead of crashing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { FORMAT, MAX_RECORD_BYTES, ROUTING, type Geometry } from '../geometry.js';
import { decodeRecord } from './records.js';
import {
  Command,
  MAX_DELAY_US,
  type HopSpec,
  type PacketSpec,
  type SphinxBackend,
  type Surb,
  type SurbSpec,
  type UnwrapResult,
} from './types.js';

/** The raw addon exports (see native/binding.cc). */
interface NativeAddon {
  readonly x25519Impl: string;
  /** The constants of native/format.h (the C++ twin of src/geometry.ts's format constants). */
  readonly format: Readonly<Record<string, number>>;
  x25519(scalar: Uint8Array, point: Uint8Array): Uint8Array;
  x25519Base(scalar: Uint8Array): Uint8Array;
  x25519Evp(scalar: Uint8Array, point: Uint8Array): Uint8Array;
  aes128Ctr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  hkdfSha256(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  linkSealBatch(this: void, keys: Uint8Array, datagrams: Uint8Array, payloadBytes: number, count: number): void;
  linkOpenBatch(
    this: void,
    keys: Uint8Array,
    datagrams: Uint8Array,
    payloadBytes: number,
    count: number,
    ok: Uint8Array,
  ): void;
  lionessEncrypt(key: Uint8Array, block: Uint8Array): Uint8Array;
  lionessDecrypt(key: Uint8Array, block: Uint8Array): Uint8Array;
  createPacket(
    maxHops: number,
    addressBytes: number,
    contentBytes: number,
    epoch: number,
    publicKeys: Uint8Array,
    routing: Uint8Array,
    content: Uint8Array,
    seed: Uint8Array,
    out: Uint8Array,
  ): void;
  unwrap(
    maxHops: number,
    addressBytes: number,
    contentBytes: number,
    privateKey: Uint8Array,
    packet: Uint8Array,
    record: Uint8Array,
  ): number;
  unwrapBatch(
    maxHops: number,
    addressBytes: number,
    contentBytes: number,
    privateKey: Uint8Array,
    packets: Uint8Array,
    records: Uint8Array,
  ): number;
  createSurb(
    maxHops: number,
    addressBytes: number,
    contentBytes: number,
    epoch: number,
    publicKeys: Uint8Array,
    routing: Uint8Array,
    firstHop: Uint8Array,
    seed: Uint8Array,
    surbOut: Uint8Array,
    keysOut: Uint8Array,
  ): void;
  createSurbReply(
    maxHops: number,
    addressBytes: number,
    contentBytes: number,
    surb: Uint8Array,
    content: Uint8Array,
    out: Uint8Array,
  ): void;
  openSurbReply(
    maxHops: number,
    addressBytes: number,
    contentBytes: number,
    decryptionKeys: Uint8Array,
    payload: Uint8Array,
    contentOut: Uint8Array,
  ): boolean;
}

const ADDON_RELATIVE_PATH = join('build', 'Release', 'loopix_sphinx.node');
const KEY_BYTES = FORMAT.keyBytes;
const SEED_BYTES = FORMAT.seedBytes;
const LIONESS_KEY_BYTES = FORMAT.lionessKeyBytes;
const LIONESS_MIN_BLOCK = FORMAT.lionessMinBlockBytes;
const HKDF_MAX_BYTES = FORMAT.hkdfMaxBytes;
/** New seeds drawn when a random seed happens to give an unliftable scalar (probability ~2^-125 each). */
const SEED_RETRIES = 4;

let cachedAddon: NativeAddon | undefined;

/** Finds the addon relative to the repository root, from src/sphinx/ (vitest) or dist/src/sphinx/ (tsc). */
function addonPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '..', '..'), resolve(here, '..', '..', '..')].map((root) =>
    join(root, ADDON_RELATIVE_PATH),
  );
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(`native Sphinx addon not found (run \`npx node-gyp rebuild\`); looked at ${candidates.join(', ')}`);
  }
  return found;
}

/** The loaded addon's raw exports, for the other native surfaces it carries (src/node/udp-batch.ts). */
export function nativeAddonExports(): Record<string, unknown> {
  return addon() as unknown as Record<string, unknown>;
}

function addon(): NativeAddon {
  if (cachedAddon === undefined) {
    const require = createRequire(import.meta.url);
    cachedAddon = require(addonPath()) as NativeAddon;
  }
  return cachedAddon;
}

// ---- argument checks ------------------------------------------------------------------------------------

function bytes(name: string, value: unknown, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
  }
  return value;
}

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${String(value)}`);
  }
  if (value < min || value > max) throw new RangeError(`${name} must be in [${min}, ${max}], got ${value}`);
  return value;
}

function geometry(g: unknown): Geometry {
  if (typeof g !== 'object' || g === null) throw new TypeError('g must be a Geometry');
  return g as Geometry;
}

function contentArg(g: Geometry, content: unknown): Uint8Array {
  const c = bytes('content', content);
  if (c.length > g.contentBytes)
    throw new RangeError(`content must be at most ${g.contentBytes} bytes, got ${c.length}`);
  return c;
}

const COMMAND_VALUES: ReadonlySet<number> = new Set(Object.values(Command));

/** Encodes a path as the addon wants it: hops × KEY_BYTES public-key bytes, hops × t routing bytes. */
function encodePath(g: Geometry, hops: unknown): { publicKeys: Uint8Array; routing: Uint8Array } {
  if (!Array.isArray(hops)) throw new TypeError('hops must be an array');
  integer('hops.length', hops.length, 1, g.maxHops);
  const t = g.routingBytes;
  const publicKeys = new Uint8Array(hops.length * KEY_BYTES);
  const routing = new Uint8Array(hops.length * t);
  const view = new DataView(routing.buffer);
  (hops as readonly HopSpec[]).forEach((hop, i) => {
    if (typeof hop !== 'object' || hop === null) throw new TypeError(`hops[${i}] must be an object`);
    publicKeys.set(bytes(`hops[${i}].publicKey`, hop.publicKey, KEY_BYTES), i * KEY_BYTES);
    const command = integer(`hops[${i}].command`, hop.command, 0, 255);
    if (!COMMAND_VALUES.has(command))
      throw new RangeError(`hops[${i}].command must be in [${Command.RELAY}, ${Command.SURB_REPLY}], got ${command}`);
    routing[i * t] = command;
    view.setUint32(i * t + ROUTING.delay, integer(`hops[${i}].delayUs`, hop.delayUs, 0, MAX_DELAY_US), false);
    routing.set(bytes(`hops[${i}].address`, hop.address, g.addressBytes), i * t + ROUTING.address);
  });
  return { publicKeys, routing };
}

/** Runs `create` with the caller's seed, or with fresh random seeds (retrying an unliftable scalar). */
function withSeed(seed: unknown, create: (seed: Uint8Array) => void): void {
  if (seed !== undefined) {
    create(bytes('seed', seed, SEED_BYTES));
    return;
  }
  for (let attempt = 0; ; attempt++) {
    try {
      create(new Uint8Array(randomBytes(SEED_BYTES)));
      return;
    } catch (err) {
      if (attempt >= SEED_RETRIES || !(err instanceof Error) || err.message !== 'unliftable scalar') throw err;
    }
  }
}

// ---- the backend ------------------------------------------------------------------------------------------

function makeBackend(native: NativeAddon): SphinxBackend {
  // One record's scratch space for single-packet unwraps (decodeRecord copies what it returns).
  const record = new Uint8Array(MAX_RECORD_BYTES);

  return Object.freeze({
    name: 'native' as const,
    /** Which X25519 path the addon uses (reported by benchmarks). */
    x25519Impl: native.x25519Impl,

    x25519: (scalar: Uint8Array, point: Uint8Array): Uint8Array =>
      native.x25519(bytes('scalar', scalar, KEY_BYTES), bytes('point', point, KEY_BYTES)),

    x25519Base: (scalar: Uint8Array): Uint8Array => native.x25519Base(bytes('scalar', scalar, KEY_BYTES)),

    aes128Ctr: (key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array =>
      native.aes128Ctr(bytes('key', key, FORMAT.aesKeyBytes), bytes('iv', iv, FORMAT.aesIvBytes), bytes('data', data)),

    hmacSha256: (key: Uint8Array, data: Uint8Array): Uint8Array =>
      native.hmacSha256(bytes('key', key), bytes('data', data)),

    hkdfSha256: (salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array =>
      native.hkdfSha256(
        bytes('salt', salt),
        bytes('ikm', ikm),
        bytes('info', info),
        integer('length', length, 0, HKDF_MAX_BYTES),
      ),

    lionessEncrypt: (key: Uint8Array, block: Uint8Array): Uint8Array =>
      native.lionessEncrypt(bytes('key', key, LIONESS_KEY_BYTES), lionessBlock(block)),

    lionessDecrypt: (key: Uint8Array, block: Uint8Array): Uint8Array =>
      native.lionessDecrypt(bytes('key', key, LIONESS_KEY_BYTES), lionessBlock(block)),

    createPacket(gArg: Geometry, spec: PacketSpec): Uint8Array {
      const g = geometry(gArg);
      if (typeof spec !== 'object' || spec === null) throw new TypeError('spec must be an object');
      const epoch = integer('epoch', spec.epoch, 0, FORMAT.maxPrefixEpoch);
      const { publicKeys, routing } = encodePath(g, spec.hops);
      const content = contentArg(g, spec.content);
      const out = new Uint8Array(g.packetBytes);
      withSeed(spec.seed, (seed) =>
        native.createPacket(g.maxHops, g.addressBytes, g.contentBytes, epoch, publicKeys, routing, content, seed, out),
      );
      return out;
    },

    unwrap(gArg: Geometry, privateKey: Uint8Array, packet: Uint8Array): UnwrapResult {
      const g = geometry(gArg);
      bytes('privateKey', privateKey, KEY_BYTES);
      bytes('packet', packet);
      if (packet.length !== g.packetBytes) return { kind: 'invalid', reason: 'length' };
      native.unwrap(g.maxHops, g.addressBytes, g.contentBytes, privateKey, packet, record);
      return decodeRecord(g, record, 0, packet);
    },

    unwrapBatch(gArg: Geometry, privateKey: Uint8Array, packets: Uint8Array, records: Uint8Array): number {
      const g = geometry(gArg);
      bytes('privateKey', privateKey, KEY_BYTES);
      bytes('packets', packets);
      bytes('records', records);
      if (packets.length % g.packetBytes !== 0) {
        throw new RangeError(`packets must be a multiple of ${g.packetBytes} bytes, got ${packets.length}`);
      }
      const count = packets.length / g.packetBytes;
      if (records.length < count * g.recordBytes) {
        throw new RangeError(
          `records must be at least ${count * g.recordBytes} bytes (${count} records of ${g.recordBytes}), got ${records.length}`,
        );
      }
      return native.unwrapBatch(g.maxHops, g.addressBytes, g.contentBytes, privateKey, packets, records);
    },

    createSurb(gArg: Geometry, spec: SurbSpec): Surb {
      const g = geometry(gArg);
      if (typeof spec !== 'object' || spec === null) throw new TypeError('spec must be an object');
      const epoch = integer('epoch', spec.epoch, 0, FORMAT.maxPrefixEpoch);
      const { publicKeys, routing } = encodePath(g, spec.hops);
      if (routing[(spec.hops.length - 1) * g.routingBytes] !== Command.SURB_REPLY) {
        throw new RangeError(`the last hop of a SURB path must have command SURB_REPLY (${Command.SURB_REPLY})`);
      }
      const firstHop = bytes('firstHop', spec.firstHop, g.addressBytes);
      const surb = new Uint8Array(g.surbBytes);
      const decryptionKeys = new Uint8Array((spec.hops.length + 1) * LIONESS_KEY_BYTES);
      withSeed(spec.seed, (seed) =>
        native.createSurb(
          g.maxHops,
          g.addressBytes,
          g.contentBytes,
          epoch,
          publicKeys,
          routing,
          firstHop,
          seed,
          surb,
          decryptionKeys,
        ),
      );
      return { surb, decryptionKeys };
    },

    createSurbReply(
      gArg: Geometry,
      surb: Uint8Array,
      content: Uint8Array,
    ): { firstHop: Uint8Array; packet: Uint8Array } {
      const g = geometry(gArg);
      bytes('surb', surb, g.surbBytes);
      const c = contentArg(g, content);
      const packet = new Uint8Array(g.packetBytes);
      native.createSurbReply(g.maxHops, g.addressBytes, g.contentBytes, surb, c, packet);
      return { firstHop: surb.slice(0, g.addressBytes), packet };
    },

    openSurbReply(gArg: Geometry, decryptionKeys: Uint8Array, payload: Uint8Array): Uint8Array | null {
      const g = geometry(gArg);
      bytes('decryptionKeys', decryptionKeys);
      const n = decryptionKeys.length;
      if (n % LIONESS_KEY_BYTES !== 0 || n < 2 * LIONESS_KEY_BYTES || n > (g.maxHops + 1) * LIONESS_KEY_BYTES) {
        throw new RangeError(
          `decryptionKeys must be (hops + 1) * ${LIONESS_KEY_BYTES} bytes with 1 <= hops <= ${g.maxHops}, got ${n}`,
        );
      }
      bytes('payload', payload);
      if (payload.length !== g.payloadBytes) return null;
      const content = new Uint8Array(g.contentBytes);
      return native.openSurbReply(g.maxHops, g.addressBytes, g.contentBytes, decryptionKeys, payload, content)
        ? content
        : null;
    },
  });
}

function lionessBlock(block: Uint8Array): Uint8Array {
  const b = bytes('block', block);
  if (b.length < LIONESS_MIN_BLOCK)
    throw new RangeError(`block must be more than ${LIONESS_MIN_BLOCK - 1} bytes, got ${b.length}`);
  return b;
}

/** Loads the addon and returns the native SphinxBackend; throws if the addon cannot be loaded. */
export function loadNativeBackend(): SphinxBackend {
  return makeBackend(addon());
}

/**
 * The addon's node ↔ node link AEAD in batch form (native/link.h; wrapped by src/node/link/cipher.ts).
 * Throws when the addon cannot be loaded.
 */
export function nativeLinkBatch(): Pick<NativeAddon, 'linkSealBatch' | 'linkOpenBatch'> {
  const a = addon();
  return { linkSealBatch: a.linkSealBatch, linkOpenBatch: a.linkOpenBatch };
}

/** The format constants the addon was compiled with (native/format.h), by name. */
export function nativeFormatConstants(): Readonly<Record<string, number>> {
  return addon().format;
}

/** Which X25519 path the addon uses: 'openssl-internal' (ossl_x25519, no allocation) or 'openssl-evp'. */
export function nativeX25519Impl(): string {
  return addon().x25519Impl;
}

/** X25519 through OpenSSL's EVP_PKEY_derive, always (for cross-checking the fast path). */
export function nativeX25519Evp(scalar: Uint8Array, point: Uint8Array): Uint8Array {
  return addon().x25519Evp(bytes('scalar', scalar, KEY_BYTES), bytes('point', point, KEY_BYTES));
}
