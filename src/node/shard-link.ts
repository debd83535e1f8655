/**
 * The link stage slots of the sharded packet path (docs/pipeline.md "Sharded packet path"): "link open" right
 * after a datagram is received and "link seal" right before it is sent. A link stage authenticates and
 * decrypts what arrives from an adjacent node and encrypts what leaves for one (AnonPoP §4: all communication
 * between adjacent entities is authenticated and encrypted); both run in the worker that owns the socket, so
 * the cost per packet is paid on every core in parallel.
 *
 * `plainLink` is the stage for a network without link encryption: a datagram is the Sphinx packet.
 */
import type { Geometry } from '../geometry.js';
import type { DropReason } from './metrics.js';
import type { LinkLayer } from './link/index.js';
import { decodeUdpAddress } from './udp-batch.js';

export interface LinkStage {
  /** Bytes of one datagram on the wire (the packet plus the link's header and tag). */
  readonly datagramBytes: number;
  /**
   * Opens the datagram of `length` bytes at `slab[offset..]`, received from the address encoded at
   * `addrs[addrOffset..]` (src/node/udp-batch.ts). Returns the Sphinx packet (a view; may be decrypted in
   * place), or why the datagram is refused. Never throws.
   */
  open(
    slab: Uint8Array,
    offset: number,
    length: number,
    addrs: Uint8Array,
    addrOffset: number,
  ): Uint8Array | DropReason;
  /** Writes the datagram for `packet` to the node at the encoded address `to` into `out[offset..]`. */
  seal(packet: Uint8Array, to: Uint8Array, out: Uint8Array, offset: number): true | DropReason;
}

/** No link layer: the datagram is the packet (length checks happen in the caller). */
export function plainLink(g: Geometry): LinkStage {
  return {
    datagramBytes: g.packetBytes,
    open: (slab, offset, length) => slab.subarray(offset, offset + length),
    seal: (packet, _to, out, offset) => {
      out.set(packet, offset);
      return true;
    },
  };
}

/**
 * The node-to-node link layer (src/node/link/: AES-128-GCM per adjacent pair, sequence windows shared by
 * every thread of the node) in the two slots: `open` authenticates and decrypts a datagram from an adjacent
 * node, `seal` encrypts a packet for the next one.
 */
export function linkLayerStage(g: Geometry, layer: LinkLayer): LinkStage {
  return {
    datagramBytes: g.datagramBytes,
    open: (slab, offset, length, addrs, addrOffset) => {
      const from = decodeUdpAddress(addrs, addrOffset);
      return layer.open(slab.subarray(offset, offset + length), from.host, from.port);
    },
    seal: (packet, to, out, offset) => {
      const sealed = layer.seal(packet, decodeUdpAddress(to));
      if (typeof sealed === 'string') return sealed;
      out.set(sealed, offset);
      return true;
    },
  };
}
