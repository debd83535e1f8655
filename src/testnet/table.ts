/**
 * The testnet's live view: once a second, per node what it received, forwarded and dropped in that second,
 * and network-wide what the clients sent and got back. On a terminal the block is redrawn in place; otherwise
 * one summary line per second is written (CI logs, --json runs).
 */
import type { NodeSnapshot } from '../node/pipeline.js';
import { loopPathReport, type LoopObservation } from './loop-report.js';
import type { NodeProcess } from './processes.js';
import type { DemoTraffic } from './traffic.js';

const pad = (v: number | string | boolean | null | undefined, n: number) => String(v ?? '-').padStart(n);

export class LiveTable {
  private previous = new Map<string, NodeSnapshot>();
  private linesDrawn = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly redraw: boolean,
  ) {}

  render(elapsedS: number, phase: string, nodes: readonly NodeProcess[], traffic: DemoTraffic): void {
    const rows: string[] = [];
    let forwardedPerS = 0;
    let droppedTotal = 0;
    rows.push(`loopix testnet — ${phase}, ${elapsedS.toFixed(0)} s`);
    rows.push(
      `${'node'.padEnd(12)} ${pad('recv/s', 8)} ${pad('fwd/s', 8)} ${pad('queue', 6)} ${pad('dropped', 8)} ${pad('loops', 6)} ${pad('back', 6)}  top drop reason`,
    );
    for (const n of nodes) {
      const s = n.last;
      const p = this.previous.get(n.node.name);
      const rate = (k: string) => (s && p ? (s.counters[k] ?? 0) - (p.counters[k] ?? 0) : 0);
      forwardedPerS += rate('forwarded');
      droppedTotal += s?.dropped_total ?? 0;
      const top = s ? Object.entries(s.dropped).sort((a, b) => b[1] - a[1])[0] : undefined;
      const status = n.running ? '' : ` (exited ${n.exitCode})`;
      rows.push(
        `${n.node.name.padEnd(12)} ${pad(rate('received'), 8)} ${pad(rate('forwarded'), 8)} ${pad(s?.gauges.queue_packets, 6)} ${pad(s?.dropped_total, 8)} ${pad(s?.counters.loops_sent, 6)} ${pad(s?.counters.loops_returned, 6)}  ${top ? `${top[0]} ${top[1]}` : ''}${status}`,
      );
      if (s) this.previous.set(n.node.name, s);
    }
    const c = traffic.clients.map((x) => x.stats());
    const sum = (f: (s: (typeof c)[number]) => number) => c.reduce((a, s) => a + f(s), 0);
    const lat = traffic.latency();
    const summary =
      `messages sent ${traffic.sentMessages}, delivered ${traffic.deliveredMessages} (intact ${traffic.deliveredIntact}) | ` +
      `client loops ${sum((s) => s.loops_returned)}/${sum((s) => s.loops_sent)} back | drops sent ${sum((s) => s.drops_sent + s.sent_drop_cover)} | ` +
      `network fwd ${forwardedPerS}/s, dropped ${droppedTotal} | e2e p50 ${lat.p50 ?? '-'} ms, p99 ${lat.p99 ?? '-'} ms` +
      worstLoopPath(nodes);
    rows.push(summary);
    if (this.redraw) {
      if (this.linesDrawn) this.out.write(`\x1b[${this.linesDrawn}A\x1b[0J`);
      this.out.write(`${rows.join('\n')}\n`);
      this.linesDrawn = rows.length;
    } else {
      this.out.write(`[${elapsedS.toFixed(0).padStart(4)} s ${phase}] ${summary}\n`);
    }
  }
}

/**
 * The node through which the fewest of the nodes' own loops came back within the alarm's window
 * (src/testnet/loop-report.ts), e.g. " | loops via mix-2.0: 3/20 back, suspect"; empty while no loop is due.
 */
function worstLoopPath(nodes: readonly NodeProcess[]): string {
  const observations: LoopObservation[] = [];
  for (const n of nodes)
    if (n.running && n.last?.loop_paths)
      observations.push({ sender: n.node.entry.id, tally: n.last.loop_paths.window });
  const r = loopPathReport(observations, new Map(nodes.map((n) => [n.node.entry.id, n.node.name] as const)));
  const w = r.rows[0];
  if (!w || w.fraction === null) return '';
  return ` | worst loops via ${w.name}: ${w.returned}/${w.due} back${w.suspect ? ', suspect' : ''}`;
}
