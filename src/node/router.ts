/**
 * Turns one unwrap result into an action (docs/pipeline.md "router"). Pure: it decides, the glue acts.
 *
 * Stratified topology (Loopix §2): a node only sends to the adjacent layer — provider (layer 0) → layer 1,
 * layer k → layer k+1, the last mix layer → a provider. That one rule also covers a provider's client
 * packets (first hop provider → layer 1). A RELAY to an id the topology does not know is "unknown_next"; to
 * a known node outside the adjacent layer "bad_layer". DELIVER is meaningful only at a provider, LOOP only
 * when it returns to its sender, FINAL and SURB_REPLY only at a client —
 * except FINAL at a provider that serves as a post office, where it is a mailbox request.
 */
import type { NodeEntry, Role } from '../topology/types.js';
import type { TopologyIndex } from '../topology/document.js';
import type { UnwrapResult } from '../sphinx/types.js';
import type { DropReason } from './metrics.js';

export type RouteAction =
  | { readonly kind: 'forward'; readonly next: NodeEntry; readonly delayUs: number }
  | { readonly kind: 'deliver'; readonly client: Uint8Array; readonly delayUs: number }
  | { readonly kind: 'loop'; readonly id: Uint8Array }
  /** A post office request (FINAL at a provider that serves as post office, src/postoffice/office.ts). */
  | { readonly kind: 'postOffice'; readonly address: Uint8Array; readonly content: Uint8Array }
  | { readonly kind: 'drop'; readonly reason: DropReason };

export interface RouterOptions {
  readonly topology: TopologyIndex;
  readonly role: Role;
  /** 0 for providers, 1..layers for mixes. */
  readonly layer: number;
  /** This provider is a post office: FINAL hops are its requests (AnonPoP §4) instead of unexpected_final. */
  readonly postOffice?: boolean;
}

/** What `nextHopAt` decides for a RELAY: the next node, or why not. */
export type NextHop = NodeEntry | 'unknown_next' | 'bad_layer';

export class Router {
  private readonly nextLayer: number;
  /** Node ids by their first 4 bytes (little-endian uint32): the relay hot path looks ids up without strings. */
  private readonly byPrefix = new Map<number, { id: Uint8Array; node: NodeEntry }[]>();

  constructor(private readonly o: RouterOptions) {
    this.nextLayer = (o.layer + 1) % (o.topology.doc.layers + 1);
    for (const node of o.topology.doc.nodes) {
      const id = Uint8Array.from(Buffer.from(node.id, 'hex'));
      if (id.length < 4) continue;
      const key = prefixKey(id, 0);
      const list = this.byPrefix.get(key) ?? [];
      list.push({ id, node });
      this.byPrefix.set(key, list);
    }
  }

  /**
   * The RELAY decision for the next-node id at `bytes[offset .. offset + id length)` (a worker's result
   * record): the same rules as `route`, without building a result object or a hex string.
   */
  nextHopAt(bytes: Uint8Array, offset: number, idBytes: number): NextHop {
    const list = this.byPrefix.get(prefixKey(bytes, offset));
    if (list !== undefined) {
      for (const { id, node } of list) {
        if (id.length !== idBytes) continue;
        let same = true;
        for (let k = 4; k < idBytes; k++) {
          if (id[k] !== bytes[offset + k]) {
            same = false;
            break;
          }
        }
        if (same) return node.layer === this.nextLayer ? node : 'bad_layer';
      }
    }
    return 'unknown_next';
  }

  route(result: UnwrapResult): RouteAction {
    switch (result.kind) {
      case 'relay': {
        const next = this.lookup(result.next);
        if (next === null) return { kind: 'drop', reason: 'unknown_next' };
        if (next.layer !== this.nextLayer) return { kind: 'drop', reason: 'bad_layer' };
        return { kind: 'forward', next, delayUs: result.delayUs };
      }
      case 'deliver':
        if (this.o.role !== 'provider') return { kind: 'drop', reason: 'deliver_at_mix' };
        return { kind: 'deliver', client: result.client, delayUs: result.delayUs };
      case 'drop':
        return { kind: 'drop', reason: this.o.role === 'provider' ? 'drop_cover' : 'drop_at_mix' };
      case 'loop':
        return { kind: 'loop', id: result.id };
      case 'final':
        if (this.o.postOffice && this.o.role === 'provider')
          return { kind: 'postOffice', address: result.id, content: result.content };
        return { kind: 'drop', reason: 'unexpected_final' };
      case 'surbReply':
        return { kind: 'drop', reason: 'unexpected_final' };
      case 'invalid':
        return { kind: 'drop', reason: `invalid_${result.reason}` };
    }
  }

  private lookup(id: Uint8Array): NodeEntry | null {
    return this.o.topology.node(Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')) ?? null;
  }
}

function prefixKey(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}
