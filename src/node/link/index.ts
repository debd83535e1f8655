/**
 * The node ↔ node link layer: every datagram between two nodes is encrypted and authenticated
 * (AnonPoP §4: "all the communication between every pair of adjacent entities is authenticated and
 * encrypted"), and a node accepts datagrams only from the nodes of the layer before its own (Loopix §2.1,
 * stratified topology). Wire format and key schedule: docs/packet-format.md "Link layer"; where it sits in
 * the packet path: docs/pipeline.md "Link layer".
 *
 * Interface contract (what a packet path — the main thread today, one worker per socket tomorrow — may rely on):
 *
 *  - Construction: `new LinkLayer({ geometry, topology, selfId, ownKey, currentEpoch, x25519, cipher, shared? })`.
 *    Everything it needs is plain data or a function of this thread: `ownKey(epoch)` reads this node's live
 *    private key (SharedKeyTable.lookup, so a worker uses its own reader), `cipher` is `nativeLinkCipher()`
 *    (or `tsLinkCipher`), `x25519` a Sphinx backend's. No event loop, timer or main-thread object is used.
 *  - Sharing between threads of one node: `layer.shared()` returns two SharedArrayBuffers (sequence counters,
 *    replay windows); pass them as `shared` to the LinkLayer of every other thread. Then
 *      · sequence numbers of a directed link are unique across all threads (Atomics.add on one counter), so
 *        any number of threads may seal for the same peer;
 *      · a sequence number is accepted once across all threads (per-peer window with an atomic lock).
 *    Derived keys are per thread; each thread calls `sweep()` after a batch (or once a second) so keys of a
 *    retired epoch are wiped everywhere, and `setTopology()` when a newer document is adopted.
 *  - Receive: `slotOf(host, port)` resolves the source address (-1: not a node), then
 *    `open(datagram, host, port)` (one) or `openBatch(datagrams, count, slots, verdicts)` (back to back,
 *    geometry.datagramBytes each) decrypt in place. A datagram is accepted only when its source is a node of
 *    the previous layer (else `wrong_layer`; unknown source: `link_unauthenticated`), its tag verifies under
 *    the key of that source, this node and the header's epoch (else `link_unauthenticated`) and its sequence
 *    number was not accepted before (else `link_replay`). The Sphinx packet is then at
 *    `linkHeaderBytes` inside the datagram. Nothing throws; the caller counts the drop reason.
 *  - Send: `seal(packet, to)` (one, returns a new datagram) or `sealBatch(packets, count, slots, out,
 *    verdicts)` with `slotOfNode(entry)`. `link_no_key` when this node has no key for the peer (its public
 *    key for every live epoch is unknown) or the peer is not in the next layer.
 *  - Cost: one AES-128-GCM pass over the packet per direction (≈ 1 µs for 1.3 KB with AES-NI), a header of
 *    12 bytes and a tag of 16 (geometry.linkOverheadBytes).
 */
export { sendsTo } from './adjacency.js';
export {
  defaultLinkCipher,
  LINK_KEY_BYTES,
  LINK_SKIP,
  nativeLinkCipher,
  tsLinkCipher,
  type LinkCipher,
} from './cipher.js';
export { deriveLinkKey, type X25519 } from './keys.js';
export {
  LINK_NO_KEY,
  LINK_OK,
  LINK_REPLAY,
  LINK_UNAUTHENTICATED,
  LINK_WRONG_LAYER,
  LinkLayer,
  linkVerdictReason,
  type LinkLayerOptions,
  type LinkOpenDrop,
  type LinkSealDrop,
  type LinkSharedState,
} from './link.js';
export { LinkSequences } from './sequence.js';
export { LinkReplayWindows, WINDOW_BITS } from './window.js';
