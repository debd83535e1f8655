/**
 * Dummy packets of a pull reply (Loopix §3.2: a pull always returns a constant number of messages, real or
 * dummy; §4.1.2 receiver unobservability). A dummy must not be told apart from a stored packet by the
 * provider's own code, by the client's parser, or by anyone who later sees it in the clear: so it has the
 * stored packet's layout (docs/packet-format.md §2) —
 *
 *   prefix  version (geometry.version) || reserved 0 || key epoch (uint16 BE, the network's current epoch)
 *   alpha   a real X25519 public key (a fresh key pair's, like the blinded α of a real packet: top bit 0)
 *   rest    uniformly random bytes (beta, gamma and the LIONESS payload of a real packet are pseudo-random)
 *
 * The client's unwrap of a dummy fails at the header MAC, exactly like a packet not meant for it.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Geometry } from '../geometry.js';
import { fillRandom } from '../protocol/channel.js';

/** Offset of the reserved byte and of the epoch in the prefix (docs/packet-format.md §2). */
const RESERVED_OFFSET = 1;
const EPOCH_OFFSET = 2;

/** A fresh X25519 public key (32 bytes, RFC 7748) from Node's OpenSSL; the private key is dropped unused. */
export function randomGroupElement(): Uint8Array {
  const der = generateKeyPairSync('x25519').publicKey.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** A dummy maker for geometry `g`; `epoch()` is the network's current key epoch. */
export function dummyPackets(
  g: Geometry,
  epoch: () => number,
  groupElement: () => Uint8Array = randomGroupElement,
): () => Uint8Array {
  return () => {
    const p = fillRandom(new Uint8Array(g.packetBytes));
    const e = epoch() & 0xffff;
    p[0] = g.version;
    p[RESERVED_OFFSET] = 0;
    p[EPOCH_OFFSET] = e >> 8;
    p[EPOCH_OFFSET + 1] = e & 0xff;
    p.set(groupElement(), g.offsets.alpha);
    return p;
  };
}
