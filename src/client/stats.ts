/** The client's counters and latency samples (what `LoopixClient.stats()` reports). */
import type { ConnectionStats } from './connection.js';

export interface Percentiles {
  count: number;
  mean: number | null;
  min: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

/** A bounded ring of the most recent samples, with percentiles over what it holds. */
export class Samples {
  private readonly buf: number[] = [];
  private at = 0;
  count = 0;
  constructor(private readonly limit: number) {}
  add(v: number): void {
    this.count++;
    if (this.buf.length < this.limit) this.buf.push(v);
    else {
      this.buf[this.at] = v;
      this.at = (this.at + 1) % this.limit;
    }
  }
  values(): number[] {
    return this.buf.slice();
  }
  summary(): Percentiles {
    const s = this.buf.slice().sort((a, b) => a - b);
    if (s.length === 0) return { count: this.count, mean: null, min: null, p50: null, p90: null, p99: null, max: null };
    const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
    const r = (x: number) => Math.round(x * 1000) / 1000;
    return {
      count: this.count,
      mean: r(s.reduce((a, b) => a + b, 0) / s.length),
      min: r(s[0]!),
      p50: r(q(0.5)),
      p90: r(q(0.9)),
      p99: r(q(0.99)),
      max: r(s[s.length - 1]!),
    };
  }
}

/** Counters the client increments; stats() copies them. */
export function newCounters() {
  return {
    /** Real message fragments sent (λP stream, buffer non-empty), first transmissions and retransmissions. */
    sent_real: 0,
    /** Of sent_real: retransmissions of a fragment (or post office push) whose ack did not come in time. */
    retransmissions: 0,
    /** Acknowledgements sent in the λP stream (each replaces a drop cover packet). */
    acks_sent: 0,
    /** Acknowledgements received for our fragments and pushes (the first of each; late duplicates not counted). */
    acks_received: 0,
    /** Drop cover sent by the λP stream because the buffer was empty. */
    sent_drop_cover: 0,
    loops_sent: 0,
    loops_returned: 0,
    loops_lost: 0,
    drops_sent: 0,
    build_errors: 0,
    packets_received: 0,
    fragments_received: 0,
    received_real: 0,
    duplicates_ignored: 0,
    dummies_discarded: 0,
    messages_dropped_backlog: 0,
    /** Messages whose send() resolved (every fragment acknowledged). */
    messages_acked: 0,
    /** Messages whose send() rejected (attempts exhausted, or a reply's SURBs expired). */
    messages_failed: 0,
    /** Replies received through our SURBs. */
    replies_received: 0,
    /** Post office: PUSHes sent to anonymous addresses (each in a λP slot), first transmissions and retransmissions. */
    po_pushes_sent: 0,
    /** Post office: pull requests deposited in our provider's request pool (each in a λD slot). */
    po_pool_deposits: 0,
    /** Post office: pull answers that carried an envelope for one of our mailboxes. */
    po_answers_real: 0,
    /** Post office: pull answers that were the PO's dummy (empty mailbox). */
    po_answers_dummy: 0,
    /** Post office: reconnects after longer than the request pool covered (the pull pattern showed a gap). */
    po_pull_gaps: 0,
    /** Post office: rounds without a pooled pull request, summed over those gaps. */
    po_gap_rounds: 0,
  };
}
export type ClientCounters = ReturnType<typeof newCounters>;

export interface ClientStats extends ClientCounters {
  address: string;
  connected: boolean;
  loops_outstanding: number;
  loop_rtt_ms: Percentiles;
  /** Stream events that found the provider unreachable and sent nothing. */
  skipped_offline: { payload: number; loop: number; drop: number };
  /** Fragments and acks waiting in the λP buffer. */
  send_buffer: number;
  /** Fragments sent and not yet acknowledged. */
  unacked_fragments: number;
  messages_queued: number;
  message_latency_ms: Percentiles;
  /** Everything else that was not usable, by reason (unwrap reasons, unknown_loop, fragment_*, unexpected_*). */
  invalid_received: Record<string, number>;
  reassembly: { incomplete: number; incomplete_bytes: number; discarded: number };
  connection?: ConnectionStats;
}
