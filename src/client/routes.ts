/**
 * Path construction for client packets (docs/pipeline.md "Paths", Loopix §2 and §3.2): a fresh random path
 * per packet through the stratified topology, one node per mix layer, with per-hop delays drawn by the sender
 * from Exp(µ). Commands and addresses follow docs/packet-format.md §2:
 *
 *   message  P_s, L1..Ll, P_r, recipient   RELAY ×(l+1), DELIVER(client id), FINAL(message id)
 *   loop     P_s, L1..Ll, P_s, self        RELAY ×(l+1), DELIVER(own client id), LOOP(loop id)
 *   drop     P_s, L1..Ll, P_random         RELAY ×(l+1), DROP
 *   post     P_s, L1..Ll, PO               RELAY ×(l+1), FINAL(zero): a post office request (src/postoffice/wire.ts)
 *
 * Every hop that forwards or stores (RELAY, DELIVER) carries an Exp(µ) delay; FINAL, LOOP and DROP carry 0.
 */
import { clientIdOf, type RecipientAddress } from '../address.js';
import type { Geometry } from '../geometry.js';
import { effectiveMaxDelayUs } from '../max-delay.js';
import { Command, MAX_DELAY_US, type HopSpec } from '../sphinx/types.js';
import type { TopologyIndex } from '../topology/topology-index.js';
import type { NodeEntry } from '../topology/types.js';
import { hexToBytes } from './bytes.js';
import { uniformValidPath } from '../directory/paths.js';
import { cryptoUniform, pick, sampleExp, type RandomSource } from './streams.js';

export type RouteKind = 'message' | 'loop' | 'drop';

export interface Route {
  readonly kind: RouteKind;
  /** Key epoch of every hop's key (uint16, as the packet prefix carries it). */
  readonly epoch: number;
  /** The node hops in order: the sender's provider, one mix per layer, the last provider. */
  readonly nodes: readonly NodeEntry[];
  /** What createPacket needs: one HopSpec per hop (node hops, then the recipient for message and loop). */
  readonly hops: readonly HopSpec[];
}

export interface RouteOptions {
  /** µ (1/s): per-hop delays are Exp(µ) seconds. */
  readonly mu: number;
  readonly random?: RandomSource;
  /** Unix ms that picks the key epoch (default Date.now(); TopologyIndex.senderEpoch). */
  readonly nowMs?: number;
}

/**
 * Redraws before sampleDelayUs gives up and returns the bound itself. At the default bound a redraw happens
 * with probability 10⁻⁶, so 64 in a row never happen with a sound random source; the cap only stops a
 * broken source (a constant) or a µ far below the bound's from looping forever.
 */
const MAX_DELAY_REDRAWS = 64;

/**
 * An Exp(µ) delay in whole microseconds, at most `maxUs` (the network's per-hop bound, src/max-delay.ts): a
 * larger sample is drawn again (probability 10⁻⁶ at the default bound), so no node drops the packet as
 * `excessive_delay` and the delays stay Exp(µ) truncated at the bound.
 */
export function sampleDelayUs(mu: number, random: RandomSource = cryptoUniform, maxUs: number = MAX_DELAY_US): number {
  for (let i = 0; i < MAX_DELAY_REDRAWS; i++) {
    const us = Math.max(0, Math.round(sampleExp(mu, random) * 1e6));
    if (us <= maxUs) return us;
  }
  return maxUs;
}

export { hexToBytes };

/** `bytes` fitted into an A-byte address field: zero-padded or truncated. */
export function toAddress(g: Geometry, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(g.addressBytes);
  out.set(bytes.subarray(0, g.addressBytes));
  return out;
}

function providerById(topo: TopologyIndex, id: string, what: string): NodeEntry {
  const node = topo.node(id);
  if (!node || node.role !== 'provider')
    throw new RangeError(`${what} ${id} is not a provider in the topology (epoch ${topo.doc.epoch})`);
  return node;
}

function mixPath(topo: TopologyIndex, random: RandomSource): NodeEntry[] {
  const mixes: NodeEntry[] = [];
  for (let layer = 1; layer < topo.layerNodes.length; layer++) mixes.push(pick(topo.layerNodes[layer]!, random));
  return mixes;
}

/**
 * first → one mix per layer → one of `lasts`, uniformly among the paths that use no removed link and no
 * excluded node of a directory document (AnonPoP §2; src/directory/paths.ts). Without such a path (or a
 * document without isolation lists) every path is allowed, as before.
 */
function routeNodes(
  topo: TopologyIndex,
  first: NodeEntry,
  lasts: readonly NodeEntry[],
  random: RandomSource,
): NodeEntry[] {
  if (topo.excluded.size > 0 || topo.removedLinks.size > 0) {
    const valid = uniformValidPath([[first], ...topo.layerNodes.slice(1), lasts], (a, b) => topo.usable(a, b), random);
    if (valid) return valid;
  }
  return [first, ...mixPath(topo, random), pick(lasts, random)];
}

function checkAddress(g: Geometry, name: string, a: Uint8Array): void {
  if (a.length !== g.addressBytes) throw new RangeError(`${name} must be ${g.addressBytes} bytes, got ${a.length}`);
}

/**
 * The route over `nodes` under the sender's current epoch: RELAY commands to each next node with Exp(µ)
 * delays; the last node hop gets `last` (DELIVER/client id with a delay, or DROP or FINAL/zero with delay 0);
 * then `tail`, the hop the recipient itself unwraps (FINAL, LOOP or SURB_REPLY; no delay), if any.
 */
function assemble(
  topo: TopologyIndex,
  kind: RouteKind,
  nodes: NodeEntry[],
  last: { command: HopSpec['command']; address: Uint8Array; delayed: boolean },
  o: RouteOptions,
  tail?: HopSpec,
): Route {
  const random = o.random ?? cryptoUniform;
  const maxUs = effectiveMaxDelayUs(topo.doc, o.mu);
  const epoch = topo.senderEpoch(o.nowMs ?? Date.now());
  const hops = nodes.map((node, i): HopSpec => {
    const isLast = i === nodes.length - 1;
    return {
      // senderEpoch only returns an epoch the document has every node's key for.
      publicKey: hexToBytes(topo.keyFor(node, epoch)!),
      command: isLast ? last.command : Command.RELAY,
      address: isLast ? last.address : hexToBytes(nodes[i + 1]!.id),
      delayUs: isLast && !last.delayed ? 0 : sampleDelayUs(o.mu, random, maxUs),
    };
  });
  if (tail) hops.push(tail);
  return { kind, epoch: epoch & 0xffff, nodes, hops };
}

function checkLength(topo: TopologyIndex, kind: RouteKind, hops: number): void {
  const g = topo.geometry;
  if (hops > g.maxHops) {
    throw new RangeError(
      `a ${kind} path through ${topo.layerNodes.length - 1} mix layers needs ${hops} hops but geometry.maxHops is ${g.maxHops}`,
    );
  }
}

/**
 * first → L1..Ll → `to` (DELIVER to the client id of `recipientKey`, with a delay) → the recipient, who
 * unwraps `tail` (FINAL, LOOP or SURB_REPLY with an A-byte id; no delay). The shape of messages, loops and
 * SURBs (docs/packet-format.md §2).
 */
function deliveredRoute(
  topo: TopologyIndex,
  kind: RouteKind,
  ends: { readonly first: readonly [id: string, what: string]; readonly to: readonly [id: string, what: string] },
  recipientKey: Uint8Array,
  tail: { readonly command: HopSpec['command']; readonly address: Uint8Array; readonly name: string },
  o: RouteOptions,
): Route {
  const g = topo.geometry;
  checkAddress(g, tail.name, tail.address);
  const random = o.random ?? cryptoUniform;
  const nodes = routeNodes(topo, providerById(topo, ...ends.first), [providerById(topo, ...ends.to)], random);
  checkLength(topo, kind, nodes.length + 1);
  return assemble(
    topo,
    kind,
    nodes,
    { command: Command.DELIVER, address: clientIdOf(g, recipientKey), delayed: true },
    { ...o, random },
    { publicKey: recipientKey, command: tail.command, address: tail.address, delayUs: 0 },
  );
}

/**
 * own provider → L1..Ll → one of `lasts`, whose hop (zero address, no delay) is `command`: DROP for drop
 * cover, FINAL for a post office request.
 */
function endingRoute(
  topo: TopologyIndex,
  ownProviderId: string,
  lasts: readonly NodeEntry[],
  command: HopSpec['command'],
  o: RouteOptions,
): Route {
  const kind: RouteKind = command === Command.DROP ? 'drop' : 'message';
  const random = o.random ?? cryptoUniform;
  const nodes = routeNodes(topo, providerById(topo, ownProviderId, 'own provider'), lasts, random);
  checkLength(topo, kind, nodes.length);
  return assemble(
    topo,
    kind,
    nodes,
    { command, address: new Uint8Array(topo.geometry.addressBytes), delayed: false },
    { ...o, random },
  );
}

/** P_s → L1..Ll → P_r (DELIVER to the recipient's client id) → recipient (FINAL with `messageId`). */
export function messageRoute(
  topo: TopologyIndex,
  senderProviderId: string,
  recipient: RecipientAddress,
  messageId: Uint8Array,
  o: RouteOptions,
): Route {
  return deliveredRoute(
    topo,
    'message',
    { first: [senderProviderId, 'sender provider'], to: [recipient.providerId, 'recipient provider'] },
    recipient.publicKey,
    { command: Command.FINAL, address: messageId, name: 'messageId' },
    o,
  );
}

/** P_s → L1..Ll → P_s (DELIVER to the sender's own client id) → sender (LOOP with `loopId`). */
export function loopRoute(
  topo: TopologyIndex,
  ownProviderId: string,
  ownPublicKey: Uint8Array,
  loopId: Uint8Array,
  o: RouteOptions,
): Route {
  return deliveredRoute(
    topo,
    'loop',
    { first: [ownProviderId, 'own provider'], to: [ownProviderId, 'own provider'] },
    ownPublicKey,
    { command: Command.LOOP, address: loopId, name: 'loopId' },
    o,
  );
}

/** P_s → L1..Ll → a uniformly random provider, which drops it (DROP, zero address, no delay). */
export function dropRoute(topo: TopologyIndex, ownProviderId: string, o: RouteOptions): Route {
  return endingRoute(topo, ownProviderId, topo.providers, Command.DROP, o);
}

/**
 * A SURB path back to the creator (docs/packet-format.md §7): P_first → L1..Ll → P_own (DELIVER to the
 * creator's client id) → creator (SURB_REPLY with `surbId`). `firstProviderId` is the provider of whoever will
 * use the SURB: its client submits the reply there, and that provider unwraps the first hop.
 */
export function surbRoute(
  topo: TopologyIndex,
  firstProviderId: string,
  ownProviderId: string,
  ownPublicKey: Uint8Array,
  surbId: Uint8Array,
  o: RouteOptions,
): Route {
  return deliveredRoute(
    topo,
    'message',
    { first: [firstProviderId, 'first provider'], to: [ownProviderId, 'own provider'] },
    ownPublicKey,
    { command: Command.SURB_REPLY, address: surbId, name: 'surbId' },
    o,
  );
}

/**
 * P_s → L1..Ll → the post office, whose FINAL hop (zero address, no delay) is a PUSH or PULL request
 * (src/postoffice/wire.ts, AnonPoP §4). The PO is a provider, so the path is as long as a drop's, and like
 * every path it avoids the nodes and links a directory document isolated (AnonPoP §2).
 */
export function postOfficeRoute(
  topo: TopologyIndex,
  ownProviderId: string,
  postOfficeId: string,
  o: RouteOptions,
): Route {
  const po = providerById(topo, postOfficeId, 'post office');
  if (po.postOffice !== true)
    throw new RangeError(
      `post office ${postOfficeId} is not listed as a post office in the topology (epoch ${topo.doc.epoch})`,
    );
  return endingRoute(topo, ownProviderId, [po], Command.FINAL, o);
}
