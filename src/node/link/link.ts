/**
 * The node ↔ node link layer (interface contract: ./index.ts). One object per node per thread; the state
 * that must be common to every thread of the node (sequence counters, replay windows) lives in
 * SharedArrayBuffers handed over with `shared()`; derived keys are per thread (derivation is cheap and rare).
 */
import { FORMAT, type Geometry } from '../../geometry.js';
import type { TopologyIndex } from '../../topology/document.js';
import type { NodeEntry } from '../../topology/types.js';
import { sendsTo } from './adjacency.js';
import { LINK_KEY_BYTES, LINK_SKIP, type LinkCipher } from './cipher.js';
import { deriveLinkKey, type X25519 } from './keys.js';
import { LinkSequences, SEQUENCE_SLOT_BYTES } from './sequence.js';
import { LinkReplayWindows, WINDOW_SLOT_BYTES } from './window.js';

/** Why a datagram was refused on receipt (DropReason members, src/node/metrics.ts). */
export type LinkOpenDrop = 'bad_size' | 'link_unauthenticated' | 'link_replay' | 'wrong_layer';
/** Why a packet could not be sealed (DropReason member). */
export type LinkSealDrop = 'link_no_key';

/** Verdict codes of the batch forms. */
export const LINK_OK = 0;
export const LINK_UNAUTHENTICATED = 1;
export const LINK_REPLAY = 2;
export const LINK_WRONG_LAYER = 3;
export const LINK_NO_KEY = 4;
const VERDICT_REASON = [undefined, 'link_unauthenticated', 'link_replay', 'wrong_layer', 'link_no_key'] as const;

/** The reason of a non-zero verdict code. */
export function linkVerdictReason(code: number): LinkOpenDrop | LinkSealDrop {
  return VERDICT_REASON[code] ?? 'link_unauthenticated';
}

/** The state every thread of one node shares (transfer with postMessage / workerData). */
export interface LinkSharedState {
  readonly sequences: SharedArrayBuffer;
  readonly windows: SharedArrayBuffer;
}

export interface LinkLayerOptions {
  readonly geometry: Geometry;
  readonly topology: TopologyIndex;
  /** This node's id (hex). */
  readonly selfId: string;
  /** This node's live private key for a full epoch, or undefined (SharedKeyTable.lookup(epoch & 0xffff)). */
  readonly ownKey: (epoch: number) => Uint8Array | undefined;
  /** The epoch this node seals with when it has a key for it (EpochKeyring.current). */
  readonly currentEpoch: () => number;
  readonly x25519: X25519;
  readonly cipher: LinkCipher;
  /** Another thread's state of this node (absent: fresh state). */
  readonly shared?: LinkSharedState;
}

interface Peer {
  readonly slot: number;
  readonly id: Uint8Array;
  readonly idHex: string;
  /** The peer may send to us / we may send to it. */
  readonly from: boolean;
  readonly to: boolean;
  /** Derived keys by epoch; null: this node has the key of that epoch but no key can be derived (negative cache). */
  readonly keys: Map<number, { readonly send: Uint8Array | null; readonly recv: Uint8Array | null } | null>;
}

const HEADER = FORMAT.linkHeaderBytes;
/** Datagrams per allocation of `seal`'s output buffers (≈ 86 KB with the default geometry). */
const SLAB_DATAGRAMS = 64;

export class LinkLayer {
  readonly geometry: Geometry;
  private topology: TopologyIndex;
  private readonly selfId: Uint8Array;
  private readonly selfIdHex: string;
  private readonly peers: Peer[] = [];
  private readonly bySlotId = new Map<string, Peer>();
  /** "host:port" → peer (one string per datagram; a worker path would key by the binary address). */
  private readonly byAddress = new Map<string, Peer>();
  /** Destination objects of the topology (NodeEntry.udp) → peer, so a send looks up without a string. */
  private byDestination = new WeakMap<object, Peer>();
  /** Peer public keys (hex) of older documents by "id:epoch" (a grace-window epoch's key leaves the new document). */
  private readonly oldPeerKeys = new Map<string, string>();
  private readonly sequences: LinkSequences;
  private readonly windows: LinkReplayWindows;
  private readonly oneKey = new Uint8Array(LINK_KEY_BYTES);
  private readonly oneOk = new Uint8Array(1);
  private readonly D: number;
  private readonly N: number;
  private slab: Uint8Array = new Uint8Array(0);
  private slabUsed = SLAB_DATAGRAMS;

  constructor(private readonly o: LinkLayerOptions) {
    this.geometry = o.geometry;
    this.topology = o.topology;
    this.D = o.geometry.datagramBytes;
    this.N = o.geometry.packetBytes;
    this.selfIdHex = o.selfId;
    this.selfId = Uint8Array.from(Buffer.from(o.selfId, 'hex'));
    const self = o.topology.node(o.selfId);
    if (!self) throw new RangeError(`link layer: node ${o.selfId} is not in the topology`);
    const layers = o.topology.doc.layers;
    for (const n of o.topology.doc.nodes) {
      const peer: Peer = {
        slot: this.peers.length,
        id: Uint8Array.from(Buffer.from(n.id, 'hex')),
        idHex: n.id,
        from: sendsTo(n, self, layers) && n.id !== o.selfId,
        to: sendsTo(self, n, layers) && n.id !== o.selfId,
        keys: new Map(),
      };
      this.peers.push(peer);
      this.bySlotId.set(n.id, peer);
    }
    this.indexAddresses(o.topology);
    const slots = this.peers.length;
    this.sequences = new LinkSequences(slots, o.shared?.sequences);
    this.windows = new LinkReplayWindows(slots, o.shared?.windows);
  }

  /** Bytes of shared state for `slots` peers (docs/operations.md). */
  static sharedBytes(slots: number): number {
    return slots * (SEQUENCE_SLOT_BYTES + WINDOW_SLOT_BYTES);
  }

  shared(): LinkSharedState {
    return { sequences: this.sequences.buffer, windows: this.windows.buffer };
  }

  /** Adopts a newer document (same nodes; new epochs' keys). Keys of the old one stay usable while live. */
  setTopology(next: TopologyIndex): void {
    const old = this.topology;
    for (const n of old.doc.nodes) {
      for (const e of [old.doc.epoch, old.doc.epoch + 1]) {
        const k = old.keyFor(n, e);
        if (k !== undefined) this.oldPeerKeys.set(`${n.id}:${e}`, k);
      }
    }
    this.topology = next;
    this.byDestination = new WeakMap();
    this.byAddress.clear();
    this.indexAddresses(next);
    // Forget negative entries: the new document may carry the missing key.
    for (const p of this.peers) for (const [e, k] of p.keys) if (k === null) p.keys.delete(e);
  }

  /** Wipes derived keys of epochs whose own key was retired (call after each batch or once a second). */
  sweep(): void {
    for (const p of this.peers) {
      for (const [epoch, k] of p.keys) {
        if (this.o.ownKey(epoch) !== undefined) continue;
        k?.send?.fill(0);
        k?.recv?.fill(0);
        p.keys.delete(epoch);
      }
    }
    for (const key of this.oldPeerKeys.keys()) {
      const epoch = Number(key.slice(key.indexOf(':') + 1));
      if (this.o.ownKey(epoch) === undefined && epoch < this.o.currentEpoch()) this.oldPeerKeys.delete(key);
    }
  }

  /** The peer slot of a source address, or -1 when no node of the topology sends from there. */
  slotOf(host: string, port: number): number {
    return this.byAddress.get(`${host}:${port}`)?.slot ?? -1;
  }

  // ---- receive ------------------------------------------------------------------------------------

  /**
   * Opens one datagram in place. Returns the Sphinx packet (a view of `datagram`) or why it is refused.
   * Never throws.
   */
  open(datagram: Uint8Array, host: string, port: number): Uint8Array | LinkOpenDrop {
    if (datagram.length !== this.D) return 'bad_size';
    const slot = this.slotOf(host, port);
    this.oneOk[0] = this.precheck(datagram, 0, slot, this.oneKey, 0);
    if (this.oneOk[0] !== 0)
      return linkVerdictReason(this.oneOk[0] === LINK_SKIP ? LINK_UNAUTHENTICATED : this.oneOk[0]) as LinkOpenDrop;
    const verdict = this.finish(datagram, 0, slot, this.oneKey, 1);
    if (verdict !== LINK_OK) return linkVerdictReason(verdict) as LinkOpenDrop;
    return datagram.subarray(HEADER, HEADER + this.N);
  }

  /**
   * Batch form: opens `count` datagrams laid out back to back in `datagrams` (geometry.datagramBytes each),
   * from the peer slots `slots[i]` (slotOf; -1 unknown). verdicts[i] = LINK_OK (the packet is plaintext at
   * i·D + linkHeaderBytes) or a verdict code (linkVerdictReason). Never throws for bad input.
   */
  openBatch(datagrams: Uint8Array, count: number, slots: ArrayLike<number>, verdicts: Uint8Array): void {
    const keys = new Uint8Array(count * LINK_KEY_BYTES);
    const ok = verdicts;
    const pre = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      pre[i] = this.precheck(datagrams, i * this.D, slots[i]!, keys, i * LINK_KEY_BYTES);
      ok[i] = pre[i] === 0 ? 0 : LINK_SKIP;
    }
    try {
      this.o.cipher.openBatch(keys, datagrams, this.N, count, ok);
    } catch {
      ok.fill(0, 0, count); // an internal OpenSSL failure: nothing counts as authenticated
    }
    for (let i = 0; i < count; i++) {
      if (pre[i] !== 0) ok[i] = pre[i] === LINK_SKIP ? LINK_UNAUTHENTICATED : pre[i]!;
      else if (ok[i] !== 1) ok[i] = LINK_UNAUTHENTICATED;
      else
        ok[i] = this.windows.check(
          slots[i]!,
          readEpoch(datagrams, i * this.D + 4),
          readEpoch(datagrams, i * this.D + 8),
        )
          ? LINK_OK
          : LINK_REPLAY;
    }
    keys.fill(0);
  }

  /** Source and key checks before any AES work: 0, or a verdict code (LINK_SKIP: no key to open with). */
  private precheck(datagrams: Uint8Array, at: number, slot: number, keys: Uint8Array, keyAt: number): number {
    if (slot < 0) return LINK_UNAUTHENTICATED;
    const peer = this.peers[slot]!;
    if (!peer.from) return LINK_WRONG_LAYER;
    const epoch = readEpoch(datagrams, at);
    const k = this.keysOf(peer, epoch)?.recv;
    if (!k) return LINK_SKIP;
    keys.set(k, keyAt);
    return 0;
  }

  private finish(datagram: Uint8Array, at: number, slot: number, key: Uint8Array, count: number): number {
    this.oneOk[0] = 0;
    try {
      this.o.cipher.openBatch(key, datagram.subarray(at, at + this.D), this.N, count, this.oneOk);
    } catch {
      this.oneOk[0] = 0;
    }
    key.fill(0);
    if (this.oneOk[0] !== 1) return LINK_UNAUTHENTICATED;
    return this.windows.check(slot, readEpoch(datagram, at + 4), readEpoch(datagram, at + 8)) ? LINK_OK : LINK_REPLAY;
  }

  // ---- send ---------------------------------------------------------------------------------------

  /** Seals one packet for the node at `to` (its topology udp address). A new datagram, or why not. */
  seal(packet: Uint8Array, to: { readonly host: string; readonly port: number }): Uint8Array | LinkSealDrop {
    const out = this.allocDatagram();
    const code = this.sealOne(packet, this.peerAt(to), out, 0);
    return code === LINK_OK ? out : 'link_no_key';
  }

  /**
   * Batch form: seals `count` packets (back to back in `packets`, geometry.packetBytes each) for the peer
   * slots `slots[i]` into `out` (datagramBytes each). verdicts[i] = LINK_OK or LINK_NO_KEY.
   */
  sealBatch(packets: Uint8Array, count: number, slots: ArrayLike<number>, out: Uint8Array, verdicts: Uint8Array): void {
    const keys = new Uint8Array(count * LINK_KEY_BYTES);
    for (let i = 0; i < count; i++) {
      const peer = this.peers[slots[i]!];
      const at = i * this.D;
      verdicts[i] = peer
        ? this.prepare(packets.subarray(i * this.N, (i + 1) * this.N), peer, out, at, keys, i * LINK_KEY_BYTES)
        : LINK_NO_KEY;
      // A datagram without a key still goes through the cipher (with a zero key) and is then not sent.
    }
    this.o.cipher.sealBatch(keys, out, this.N, count);
    keys.fill(0);
  }

  /**
   * A datagram buffer for `seal`: views into slabs of SLAB_DATAGRAMS datagrams (a fresh ArrayBuffer per
   * datagram costs several times the AEAD). A slab is never written again once handed out in full: each view
   * stays valid for as long as the socket holds it, and the slab is freed with its last view.
   */
  private allocDatagram(): Uint8Array {
    if (this.slabUsed === SLAB_DATAGRAMS) {
      this.slab = new Uint8Array(SLAB_DATAGRAMS * this.D);
      this.slabUsed = 0;
    }
    const at = this.slabUsed++ * this.D;
    return this.slab.subarray(at, at + this.D);
  }

  /** The peer slot of a destination (topology NodeEntry), or -1. */
  slotOfNode(node: Pick<NodeEntry, 'id'>): number {
    return this.bySlotId.get(node.id)?.slot ?? -1;
  }

  private sealOne(packet: Uint8Array, peer: Peer | undefined, out: Uint8Array, at: number): number {
    if (!peer) return LINK_NO_KEY;
    const code = this.prepare(packet, peer, out, at, this.oneKey, 0);
    if (code !== LINK_OK) return code;
    try {
      this.o.cipher.sealBatch(this.oneKey, out.subarray(at, at + this.D), this.N, 1);
    } catch {
      return LINK_NO_KEY;
    } finally {
      this.oneKey.fill(0);
    }
    return LINK_OK;
  }

  /** Header + plaintext into out[at..], the key into keys[keyAt..]. */
  private prepare(
    packet: Uint8Array,
    peer: Peer,
    out: Uint8Array,
    at: number,
    keys: Uint8Array,
    keyAt: number,
  ): number {
    if (!peer.to || packet.length !== this.N) return LINK_NO_KEY;
    const current = this.o.currentEpoch();
    // The current epoch first; around a boundary the next or previous one this node still holds.
    let epoch = current;
    let k = this.keysOf(peer, current)?.send;
    if (!k)
      for (const e of [current + 1, current - 1])
        if ((k = this.keysOf(peer, e)?.send)) {
          epoch = e;
          break;
        }
    if (!k) return LINK_NO_KEY;
    const seq = this.sequences.next(peer.slot);
    writeUint32BE(out, at, epoch >>> 0);
    writeUint32BE(out, at + 4, Number(seq >> 32n));
    writeUint32BE(out, at + 8, Number(seq & 0xffffffffn));
    out.set(packet, at + HEADER);
    keys.set(k, keyAt);
    return LINK_OK;
  }

  private peerAt(to: { readonly host: string; readonly port: number }): Peer | undefined {
    return this.byDestination.get(to) ?? this.byAddress.get(`${to.host}:${to.port}`);
  }

  private keysOf(
    peer: Peer,
    epoch: number,
  ): { readonly send: Uint8Array | null; readonly recv: Uint8Array | null } | null | undefined {
    const have = peer.keys.get(epoch);
    if (have !== undefined) return have;
    const own = this.o.ownKey(epoch);
    if (own === undefined) return undefined; // not cached: the key may be installed later
    const entry = this.topology.node(peer.idHex);
    const pubHex = (entry && this.topology.keyFor(entry, epoch)) ?? this.oldPeerKeys.get(`${peer.idHex}:${epoch}`);
    let derived: { send: Uint8Array | null; recv: Uint8Array | null } | null = null;
    if (pubHex !== undefined && /^[0-9a-f]{64}$/i.test(pubHex)) {
      const pub = Uint8Array.from(Buffer.from(pubHex, 'hex'));
      const send = peer.to ? deriveLinkKey(this.o.x25519, own, pub, epoch, this.selfId, peer.id) : null;
      const recv = peer.from ? deriveLinkKey(this.o.x25519, own, pub, epoch, peer.id, this.selfId) : null;
      derived = send || recv ? { send, recv } : null;
    }
    peer.keys.set(epoch, derived);
    return derived;
  }

  private indexAddresses(t: TopologyIndex): void {
    for (const n of t.doc.nodes) {
      const peer = this.bySlotId.get(n.id);
      if (!peer || n.id === this.selfIdHex) continue;
      this.byAddress.set(`${n.udp.host}:${n.udp.port}`, peer);
      this.byDestination.set(n.udp, peer);
    }
  }
}

/** uint32 big-endian (the epoch, and each half of the sequence number). */
function readEpoch(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function writeUint32BE(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}
