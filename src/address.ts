/**
 * Client identities and recipient addresses. A client is known by its X25519 public key; its provider files
 * packets under a short client id (geometry.addressBytes bytes) derived from that key, which is what a DELIVER
 * routing command names. A recipient address names the provider and the client's public key (issue 3):
 *
 *   loopix1:<provider id hex>:<client public key hex>
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { Geometry } from './geometry.js';

const CLIENT_ID_LABEL = new TextEncoder().encode('loopix-client-id-v1');

/** The DELIVER address of a client: SHA-256(label || publicKey) truncated to addressBytes. */
export function clientIdOf(g: Geometry, publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== g.publicKeyBytes)
    throw new RangeError(`publicKey must be ${g.publicKeyBytes} bytes, got ${publicKey.length}`);
  const input = new Uint8Array(CLIENT_ID_LABEL.length + publicKey.length);
  input.set(CLIENT_ID_LABEL);
  input.set(publicKey, CLIENT_ID_LABEL.length);
  return sha256(input).subarray(0, g.addressBytes);
}

export interface RecipientAddress {
  readonly providerId: string;
  readonly publicKey: Uint8Array;
}

export function formatAddress(a: RecipientAddress): string {
  return `loopix1:${a.providerId}:${bytesToHex(a.publicKey)}`;
}

export function parseAddress(g: Geometry, text: string): RecipientAddress {
  const m = /^loopix1:([0-9a-f]+):([0-9a-f]{64})$/.exec(text);
  if (!m || m[1]!.length !== g.addressBytes * 2) {
    throw new RangeError(
      `address must look like loopix1:<${g.addressBytes}-byte provider id hex>:<32-byte public key hex>, got ${JSON.stringify(text)}`,
    );
  }
  return { providerId: m[1]!, publicKey: hexToBytes(m[2]!) };
}
