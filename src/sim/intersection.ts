/**
 * `sim intersection`: the sender–mailbox intersection attack of AnonPoP Appendix A (and §6.2), with fixed
 * mailboxes and with per-epoch mailboxes (PEM).
 *
 * Model (Appendix A.2): time runs in slots of 60 s; every round of 5 slots each online client sends exactly
 * one push envelope (to a correspondent's mailbox when it has a message queued, else to a dummy mailbox)
 * through one mix that hides the order within the round. Each client is a two-state machine that starts On
 * and at each slot goes Off with probability 1/300 and back On with probability 1/60. Clients are paired into
 * correspondents, and as many random pairs again are added (so ≈ 2 correspondents each). An online client
 * starts 3 conversations per hour (Poisson) with a random correspondent; whoever pulls a message replies with
 * probability 1/2, so conversations are geometric with mean 2 messages. Messages pushed in a round are pulled
 * by their recipient in a later round in which it is online.
 *
 * Attack (Appendix A.1): the post office sees which mailboxes receive pushes each round; the eavesdropper sees
 * which clients were online (sent an envelope). For a target mailbox the candidate senders start as all
 * clients; each round the mailbox receives a push, the candidates are intersected with that round's online
 * clients — but, as the paper's conservative "hint", only when the result would still contain a client that
 * really pushed to this mailbox (otherwise the round is skipped). The attack is complete when one candidate is
 * left. Every client's mailbox is attacked at once; with PEM the mailboxes change every `epochSlots` slots and
 * each epoch's attack starts afresh. The anonymity set of a client is the smallest candidate set reached for
 * any of its mailboxes so far (Figures 9 and 10 show its distribution as a fraction of the clients).
 */
import { EventHeap } from './heap.js';
import type { Rng } from '../util/random.js';

export interface IntersectionParams {
  readonly clients: number;
  /** Mailbox lifetime in slots (PEM), or null for fixed mailboxes. */
  readonly epochSlots: number | null;
  /** Slots simulated. */
  readonly slots: number;
  /** Completed attacks are counted every `recordEvery` slots. */
  readonly recordEvery: number;
  /** Slots after which the anonymity-set distribution is recorded (each at most `slots`). */
  readonly snapshots: readonly number[];
  readonly slotsPerRound?: number;
  /** Per-slot probability On → Off. */
  readonly pOff?: number;
  /** Per-slot probability Off → On. */
  readonly pOn?: number;
  readonly conversationsPerHour?: number;
  readonly slotSeconds?: number;
  readonly replyProbability?: number;
}

/** Bins of the anonymity-set histograms: fraction of clients in (i/BINS, (i+1)/BINS]. */
export const ANON_BINS = 400;

export interface IntersectionRun {
  readonly attacks: number;
  /** Attacks (clients) completed by slot (i + 1)·recordEvery. */
  readonly completed: number[];
  /** One histogram (ANON_BINS counts) per snapshot slot, in the order of `snapshots`. */
  readonly histograms: number[][];
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** The correspondents: a random perfect matching plus as many random pairs again (no self or repeat pairs). */
export function correspondents(n: number, rng: Rng): number[][] {
  const adj: number[][] = Array.from({ length: n }, () => []);
  const link = (a: number, b: number): boolean => {
    if (a === b || adj[a]!.includes(b)) return false;
    adj[a]!.push(b);
    adj[b]!.push(a);
    return true;
  };
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (let i = 0; i + 1 < n; i += 2) link(order[i]!, order[i + 1]!);
  if (n % 2 === 1) link(order[n - 1]!, order[rng.int(n - 1)]!);
  let extra = Math.floor(n / 2);
  while (extra > 0) if (link(rng.int(n), rng.int(n))) extra--;
  return adj;
}

export function simulateIntersection(p: IntersectionParams, rng: Rng): IntersectionRun {
  const n = p.clients;
  const slotsPerRound = p.slotsPerRound ?? 5;
  const pOff = p.pOff ?? 1 / 300;
  const pOn = p.pOn ?? 1 / 60;
  const convPerSlot = ((p.conversationsPerHour ?? 3) * (p.slotSeconds ?? 60)) / 3600;
  const replyProbability = p.replyProbability ?? 0.5;
  const words = (n + 31) >>> 5;
  const lastMask = n % 32 === 0 ? 0xffffffff : (1 << (n % 32)) - 1;

  const adj = correspondents(n, rng);
  const online = new Uint8Array(n).fill(1);
  const queue: number[][] = Array.from({ length: n }, () => []); // recipients of queued messages, FIFO
  const inbox: number[][] = Array.from({ length: n }, () => []); // senders of messages waiting to be pulled
  const deliveries: number[] = []; // (recipient, sender) pairs pushed this round, delivered after the pulls

  // Per-slot state changes come from geometric waiting times in an event queue, not a draw per client and slot.
  const changes = new EventHeap(n);
  const nextChange = (c: number, slot: number) => changes.push(slot + rng.geometric(online[c] ? pOff : pOn), c);
  for (let c = 0; c < n; c++) nextChange(c, 0);
  // Conversation starts: one Poisson process of rate n·convPerSlot, thinned to the clients that are online.
  let nextConversation = rng.exp(n * convPerSlot);

  // The attack: candidate bitsets per mailbox owner (the current mailbox), their sizes, and the true pushers.
  const cand = new Uint32Array(n * words);
  const candCount = new Int32Array(n);
  const pushers: number[][] = Array.from({ length: n }, () => []);
  const resetAttacks = () => {
    cand.fill(0xffffffff);
    if (lastMask !== 0xffffffff) for (let c = 0; c < n; c++) cand[c * words + words - 1] = lastMask;
    candCount.fill(n);
    for (const list of pushers) list.length = 0;
  };
  resetAttacks();
  const minAnon = new Int32Array(n).fill(n);
  const done = new Uint8Array(n);
  let completedCount = 0;
  const onlineBits = new Uint32Array(words);
  const touched = new Int32Array(n).fill(-1);
  const touchedList: number[] = [];

  const completed: number[] = [];
  const histograms: number[][] = p.snapshots.map(() => []);

  for (let slot = 0; slot < p.slots; slot++) {
    if (p.epochSlots !== null && slot > 0 && slot % p.epochSlots === 0) resetAttacks(); // new mailboxes

    while (changes.peekTime() <= slot) {
      const c = changes.peekId();
      changes.pop();
      online[c] = online[c] ? 0 : 1;
      nextChange(c, slot);
    }
    while (nextConversation < slot + 1) {
      const c = rng.int(n);
      if (online[c]) {
        const peers = adj[c]!;
        queue[c]!.push(peers[rng.int(peers.length)]!);
      }
      nextConversation += rng.exp(n * convPerSlot);
    }

    if (slot % slotsPerRound === 0) {
      const round = slot / slotsPerRound;
      onlineBits.fill(0);
      for (let c = 0; c < n; c++) if (online[c]) onlineBits[c >>> 5]! |= 1 << (c & 31);
      // Pushes: one envelope per online client; real ones land in the recipient's current mailbox.
      touchedList.length = 0;
      for (let c = 0; c < n; c++) {
        if (!online[c] || queue[c]!.length === 0) continue;
        const to = queue[c]!.shift()!;
        deliveries.push(to, c);
        if (!pushers[to]!.includes(c)) pushers[to]!.push(c);
        if (touched[to] !== round) {
          touched[to] = round;
          touchedList.push(to);
        }
      }
      // The attack step for every mailbox that received a push this round.
      for (const owner of touchedList) {
        if (candCount[owner] === 1) continue; // already down to one sender in this epoch
        const base = owner * words;
        let hint = false; // does candidates ∩ online still hold a true pusher?
        for (const s of pushers[owner]!) {
          const w = s >>> 5;
          const bit = 1 << (s & 31);
          if (cand[base + w]! & onlineBits[w]! & bit) {
            hint = true;
            break;
          }
        }
        if (!hint) continue;
        let count = 0;
        for (let w = 0; w < words; w++) {
          const x = cand[base + w]! & onlineBits[w]!;
          cand[base + w] = x;
          if (x !== 0) count += popcount(x);
        }
        candCount[owner] = count;
        if (count < minAnon[owner]!) minAnon[owner] = count;
        if (count === 1 && !done[owner]) {
          done[owner] = 1;
          completedCount++;
        }
      }
      // Pulls: online clients fetch what earlier rounds delivered and reply with probability 1/2.
      for (let c = 0; c < n; c++) {
        if (!online[c] || inbox[c]!.length === 0) continue;
        for (const from of inbox[c]!) if (rng.random() < replyProbability) queue[c]!.push(from);
        inbox[c]!.length = 0;
      }
      for (let i = 0; i < deliveries.length; i += 2) inbox[deliveries[i]!]!.push(deliveries[i + 1]!);
      deliveries.length = 0;
    }

    const elapsed = slot + 1;
    if (elapsed % p.recordEvery === 0) completed.push(completedCount);
    p.snapshots.forEach((at, i) => {
      if (at !== elapsed) return;
      const h = new Array<number>(ANON_BINS).fill(0);
      for (let c = 0; c < n; c++) h[Math.min(ANON_BINS - 1, Math.ceil((minAnon[c]! / n) * ANON_BINS) - 1)]!++;
      histograms[i] = h;
    });
  }
  return { attacks: n, completed, histograms };
}
