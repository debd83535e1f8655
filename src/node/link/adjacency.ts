/**
 * Who may talk to whom on the stratified topology (Loopix §2.1): providers (layer 0) send to layer 1, layer
 * i to layer i + 1, the last mix layer to the providers. The same rule as the router's next-hop check
 * (src/node/router.ts), read from the receiving side: a node accepts datagrams only from the layer before
 * its own. A node's own loops follow it too (its first hop is the next layer, src/node/loops.ts).
 */
import type { NodeEntry } from '../../topology/types.js';

/** Whether `from` may send to `to` in a network of `layers` mix layers. */
export function sendsTo(from: Pick<NodeEntry, 'layer'>, to: Pick<NodeEntry, 'layer'>, layers: number): boolean {
  return to.layer === (from.layer + 1) % (layers + 1);
}
