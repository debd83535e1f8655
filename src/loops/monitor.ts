/**
 * Loop bookkeeping shared by nodes (src/node/loops.ts) and clients (src/client/loop-tracker.ts): which of our
 * own loops are due, which came back, and per node on their paths (Loopix §3.2 and §4.2.1).
 *
 * A loop is *due* once its known total delay plus a generous processing margin has passed (so normal latency
 * is never mistaken for loss). Over a sliding window of due loops the monitor tracks the fraction that came
 * back; below the threshold r (§4.2.1) the alarm stands. At least MIN_DUE_LOOPS due loops are needed to raise
 * or clear it.
 *
 * Attribution: every loop's path is known to its sender, so the monitor also counts due and returned loops per
 * node on the path (the sender itself excluded). src/testnet/loop-report.ts turns the counts of all senders
 * into a verdict.
 *
 * Runtime-neutral (no Node-only module): the browser client uses it too.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { copyLinks, countLinks, type PathCounts } from './link-stats.js';

export type { PathCounts } from './link-stats.js';

/** Fewest due loops in the window on which the alarm may change state. */
export const MIN_DUE_LOOPS = 5;
/** Margin added to a loop's total delay before it counts as due: per-hop processing and network time. */
export const LOOP_MARGIN_BASE_MS = 2000;
export const LOOP_MARGIN_PER_HOP_MS = 250;

interface LoopEntry {
  readonly sentAt: number;
  readonly dueAt: number;
  /** Node ids the loop passes through (its sender excluded), each once. */
  readonly through: readonly string[];
  /** Links the loop took (`from>to`, src/loops/link-stats.ts), from the sender's first link to the link back. */
  readonly links: readonly string[];
  returnedAt?: number;
  /** Already added to the cumulative due counts. */
  countedDue?: boolean;
}

/** Due/returned loops in total and per node id on their paths. */
export interface PathTally {
  readonly due: number;
  readonly returned: number;
  readonly through: Readonly<Record<string, PathCounts>>;
  /** Per link `from>to` (src/loops/link-stats.ts); absent in tallies from senders that do not count links. */
  readonly links?: Readonly<Record<string, PathCounts>>;
}

/** What a node reports as `loop_paths`: the alarm's window and the cumulative counts since start. */
export interface LoopAttribution {
  /** Loops due within the last window (the loops the alarm judges). */
  readonly window: PathTally;
  /** Every loop that has become due since this monitor was created. */
  readonly total: PathTally;
}

type MutableTally = {
  due: number;
  returned: number;
  through: Record<string, PathCounts>;
  links?: Record<string, PathCounts>;
};
const emptyTally = (): MutableTally => ({ due: 0, returned: 0, through: {} });

function countThrough(tally: MutableTally, entry: Pick<LoopEntry, 'through' | 'links'>, field: keyof PathCounts): void {
  for (const id of entry.through) {
    const c = (tally.through[id] ??= { due: 0, returned: 0 });
    c[field]++;
  }
  countLinks(tally, entry.links, field);
}

export interface LoopWindowState {
  /** Loops due within the window. */
  readonly due: number;
  /** Of those, how many came back. */
  readonly returned: number;
  /** returned / due, or null with no due loops. */
  readonly fraction: number | null;
  readonly alarm: boolean;
}

export type LoopReturn = { kind: 'returned'; rttMs: number } | { kind: 'unknown' } | { kind: 'duplicate' };

/** The bookkeeping half, with an explicit clock (ms) so it can be tested without waiting. */
export class LoopMonitor {
  private readonly loops = new Map<string, LoopEntry>();
  private state: LoopWindowState = { due: 0, returned: 0, fraction: null, alarm: false };
  private windowTally: PathTally = emptyTally();
  private readonly totalTally = emptyTally();

  constructor(
    private readonly windowMs: number,
    /** r of §4.2.1. */
    private readonly threshold: number,
  ) {}

  get alarm(): boolean {
    return this.state.alarm;
  }

  get outstanding(): number {
    return this.loops.size;
  }

  get last(): LoopWindowState {
    return this.state;
  }

  /**
   * `through`: the node ids on the loop's path other than the sender (duplicates are counted once); `links`:
   * the links it takes (src/loops/link-stats.ts loopLinks), for per-link statistics.
   */
  sent(
    id: Uint8Array,
    sentAt: number,
    dueAt: number,
    through: readonly string[] = [],
    links: readonly string[] = [],
  ): void {
    this.loops.set(bytesToHex(id), { sentAt, dueAt, through: [...new Set(through)], links: [...new Set(links)] });
  }

  /** Per path-node counts: the window as of the last evaluate(), and the cumulative counts. */
  attribution(): LoopAttribution {
    const t = this.totalTally;
    const through: Record<string, PathCounts> = {};
    for (const [id, c] of Object.entries(t.through)) through[id] = { ...c };
    const links = copyLinks(t.links);
    return {
      window: this.windowTally,
      total: { due: t.due, returned: t.returned, through, ...(links ? { links } : {}) },
    };
  }

  returned(id: Uint8Array, now: number): LoopReturn {
    const entry = this.loops.get(bytesToHex(id));
    if (entry === undefined) return { kind: 'unknown' };
    if (entry.returnedAt !== undefined) return { kind: 'duplicate' };
    entry.returnedAt = now;
    if (entry.countedDue) {
      // Late: counted as due (and missing) earlier; it did come back after all.
      this.totalTally.returned++;
      countThrough(this.totalTally, entry, 'returned');
    }
    return { kind: 'returned', rttMs: now - entry.sentAt };
  }

  /** Recomputes the window at `now`; returns the new state and whether the alarm changed. */
  evaluate(now: number): { state: LoopWindowState; changed: boolean } {
    let due = 0,
      returned = 0;
    const win = emptyTally();
    for (const [key, e] of this.loops) {
      if (e.dueAt > now) continue;
      if (!e.countedDue) {
        e.countedDue = true;
        this.totalTally.due++;
        countThrough(this.totalTally, e, 'due');
        if (e.returnedAt !== undefined) {
          this.totalTally.returned++;
          countThrough(this.totalTally, e, 'returned');
        }
      }
      if (e.dueAt <= now - this.windowMs) {
        this.loops.delete(key);
        continue;
      }
      due++;
      countThrough(win, e, 'due');
      if (e.returnedAt !== undefined) {
        returned++;
        countThrough(win, e, 'returned');
      }
    }
    win.due = due;
    win.returned = returned;
    this.windowTally = win;
    const fraction = due > 0 ? returned / due : null;
    let alarm = this.state.alarm;
    if (due >= MIN_DUE_LOOPS && fraction !== null) alarm = fraction < this.threshold;
    const changed = alarm !== this.state.alarm;
    this.state = { due, returned, fraction, alarm };
    return { state: this.state, changed };
  }
}
