/**
 * Key schedules (docs/packet-format.md §3, §5, §7): what one hop derives from its shared secret, what a
 * sender derives from its seed, and the SURB payload key.
 *
 * Why a module of its own: the labels are the domain separation of the whole format; keeping them and the
 * expansions next to each other makes a mismatch with the native twin easy to spot.
 */
import type { Geometry } from '../../geometry.js';
import { AES128_KEY_BYTES, SHA256_BYTES, X25519_BYTES, hkdfExpand, hkdfExtract, wipe } from './primitives.js';

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** HKDF salt of every extraction (ASCII, no terminating zero). */
export const SALT = ascii('loopix-sphinx-v1');

/** HKDF-Expand info labels. */
export const LABEL = Object.freeze({
  headerStream: ascii('loopix-sphinx-v1 header-stream'),
  headerMac: ascii('loopix-sphinx-v1 header-mac'),
  payload: ascii('loopix-sphinx-v1 payload'),
  blind: ascii('loopix-sphinx-v1 blind'),
  replay: ascii('loopix-sphinx-v1 replay'),
  createScalar: ascii('loopix-sphinx-v1 create-scalar'),
  createPadding: ascii('loopix-sphinx-v1 create-padding'),
  surbKey: ascii('loopix-sphinx-v1 surb-key'),
  surbPayload: ascii('loopix-sphinx-v1 surb-payload'),
});

/** rho: AES-128 key of the header stream. */
export const RHO_BYTES = AES128_KEY_BYTES;
/** mu: HMAC key of the header MAC. */
export const MU_BYTES = SHA256_BYTES;
/** b: blinding scalar (an X25519 scalar, clamped by X25519). */
export const BLIND_BYTES = X25519_BYTES;

/** PRK = HKDF-Extract("loopix-sphinx-v1", α || s): the root of one hop's keys. Caller wipes. */
export function hopPrk(alpha: Uint8Array, sharedSecret: Uint8Array): Uint8Array {
  const ikm = new Uint8Array(alpha.length + sharedSecret.length);
  ikm.set(alpha, 0);
  ikm.set(sharedSecret, alpha.length);
  const prk = hkdfExtract(SALT, ikm);
  wipe(ikm);
  return prk;
}

/** The header keys of one hop: needed first, to check the MAC before anything else is derived. */
export interface HeaderKeys {
  /** AES-128 key of the header stream. */
  readonly rho: Uint8Array;
  /** HMAC key of the header MAC. */
  readonly mu: Uint8Array;
}

/** The keys a hop derives once the MAC has checked out. */
export interface PayloadKeys {
  /** LIONESS key K1 || K2 || K3 || K4. */
  readonly pi: Uint8Array;
  /** Blinding scalar. */
  readonly b: Uint8Array;
}

export function headerKeys(prk: Uint8Array): HeaderKeys {
  return { rho: hkdfExpand(prk, LABEL.headerStream, RHO_BYTES), mu: hkdfExpand(prk, LABEL.headerMac, MU_BYTES) };
}

export function payloadKeys(g: Geometry, prk: Uint8Array): PayloadKeys {
  return { pi: hkdfExpand(prk, LABEL.payload, g.lionessKeyBytes), b: hkdfExpand(prk, LABEL.blind, BLIND_BYTES) };
}

export function replayTag(g: Geometry, prk: Uint8Array): Uint8Array {
  return hkdfExpand(prk, LABEL.replay, g.replayTagBytes);
}

/** What a sender derives from its 32-byte seed (§5). */
export interface SeedKeys {
  /** x: the first secret scalar, e_0 = clamp(x) mod ℓ. */
  readonly x: Uint8Array;
  /** AES-128-CTR key of the padding stream. */
  readonly padKey: Uint8Array;
  /** The SURB key handed to the replier (SURBs only). */
  readonly surbKey: Uint8Array;
}

export function seedKeys(g: Geometry, seed: Uint8Array): SeedKeys {
  const prk = hkdfExtract(SALT, seed);
  const keys = {
    x: hkdfExpand(prk, LABEL.createScalar, X25519_BYTES),
    padKey: hkdfExpand(prk, LABEL.createPadding, AES128_KEY_BYTES),
    surbKey: hkdfExpand(prk, LABEL.surbKey, g.surbKeyBytes),
  };
  wipe(prk);
  return keys;
}

/** piSurb = HKDF-Expand(HKDF-Extract("loopix-sphinx-v1", surbKey), "… surb-payload", 128) (§7). */
export function surbPayloadKey(g: Geometry, surbKey: Uint8Array): Uint8Array {
  const prk = hkdfExtract(SALT, surbKey);
  const pi = hkdfExpand(prk, LABEL.surbPayload, g.lionessKeyBytes);
  wipe(prk);
  return pi;
}
