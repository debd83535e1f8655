/**
 * Issue 6 "Hardening", item "Failures", as a user runs it: a mix killed during a testnet run. The real
 * network of node processes (3 layers × 2 mixes, 2 providers) sends for DURATION_S; mix-2.0 gets SIGKILL at
 * KILL_AT_S and is restarted (same key, same UDP port) at RESTART_AT_S. The summary must count the loss (not
 * hide it), the loop statistics must name mix-2.0 as the node loops stopped coming back through (Loopix
 * §4.2.1), and after the restart delivery must resume: every message sent once the node was up again
 * arrives, and the restarted node forwards and gets its own loops back.
 *
 * Shape of the run: six clients at the default message interval (messages and their acks fill half of the λP
 * slots, src/testnet/traffic.ts) keep the send buffers short, so the drain — during which loops keep flowing
 * and dilute the failure's share of the totals — stays short (the whole run ≈ 60 s). While it is
 * down for 9 s, ≈ 50 client loops (λL = 1/s × 6) and ≈ 50 mix loops (λM = 1/s × the 6 nodes outside layer
 * 2) pass through layer 2, half of them through mix-2.0: a verdict far beyond chance. The restarted node is
 * up ≈ 2 s after RESTART_AT_S; the ≈ 10 s of sending after that carry ≈ 7 messages to show delivery resumed.
 */
import { describe, expect, it } from 'vitest';
import { runTestnetCli } from './helpers/testnet-run.js';

const DURATION_S = 26;
const KILL_AT_S = 5;
const RESTART_AT_S = 14;
const CLIENTS = 6;
const VICTIM = 'mix-2.0';
const SAME_LAYER = 'mix-2.1';

describe('loopix testnet --kill', () => {
  it('counts the loss of a killed mix, names it in the loop statistics, and delivers again after its restart', () => {
    const r = runTestnetCli(
      [
        '--duration',
        String(DURATION_S),
        '--json',
        '--clients',
        String(CLIENTS),
        '--kill',
        VICTIM,
        '--kill-at',
        String(KILL_AT_S),
        '--restart-at',
        String(RESTART_AT_S),
      ],
      { timeoutMs: 120_000 },
    );
    expect(r.last, `no summary (exit ${r.status}): ${r.stderr.slice(-3000)}`).toMatch(/^\{/);
    const s = r.summary();
    const { rows: _rows, ...verdict } = s.loop_paths;
    console.log(
      JSON.stringify({
        wall_s: Math.round(r.wallS),
        sent_real: s.sent_real,
        delivered_real: s.delivered_real,
        loops: [s.loops_sent, s.loops_returned],
        mix_loops: [s.mix_loops_sent, s.mix_loops_returned],
        loss: { ...s.loss, lost_messages: s.loss.lost_messages.map((m: { sent_at_s: number }) => m.sent_at_s) },
        failures: s.failures,
        after: s.delivery_after_restart,
        drain: [s.drain_s, s.drain_end],
        dropped: s.dropped,
        verdict,
        fractions: Object.fromEntries(
          _rows.map((x: { name: string; fraction: number; due: number }) => [x.name, `${x.fraction} of ${x.due}`]),
        ),
      }),
    );

    expect(r.status, r.stderr.slice(-3000)).toBe(0);

    // The kill and the restart happened, on time (a slow host may be a second or two late, never early).
    expect(s.failures).toHaveLength(1);
    const f = s.failures[0];
    expect(f.node).toBe(VICTIM);
    expect(f.kill_signal).toBe('SIGKILL');
    expect(f.killed_at_s).toBeGreaterThanOrEqual(KILL_AT_S);
    expect(f.killed_at_s).toBeLessThan(KILL_AT_S + 3);
    expect(f.restart_error).toBeNull();
    expect(f.restarted_at_s).toBeGreaterThanOrEqual(RESTART_AT_S);
    expect(f.restarted_at_s).toBeLessThan(RESTART_AT_S + 10);
    // 8 nodes and 3 directory authorities; the restarted incarnation stopped cleanly too.
    expect(Object.values(s.node_exits)).toEqual(Array(11).fill(0));

    // The loss is counted, consistently, and nothing arrived corrupted.
    expect(s.delivered_corrupt).toBe(0);
    expect(s.loss.messages_lost).toBe(s.sent_real - s.delivered_real);
    expect(s.loss.lost_messages).toHaveLength(s.loss.messages_lost);
    expect(s.loss.client_loops_lost).toBe(s.loops_sent - s.loops_returned);
    expect(s.loss.client_loops_lost).toBeGreaterThan(0);
    expect(s.loss.mix_loops_not_returned).toBeGreaterThan(0);
    expect(s.drain_end).toBe('quiet'); // the drain did not wait for the timeout for what cannot arrive

    // … and bounded: only what was sent before the node was up again is lost; client loops lost are at most
    // those sent while it was down (plus the ≈ 2 s a loop needs to reach layer 2), of which about half
    // (one of the layer's two mixes) went through it.
    for (const m of s.loss.lost_messages) expect(m.sent_at_s).toBeLessThan(f.restarted_at_s);
    expect(s.loss.messages_lost).toBeLessThan(s.sent_real);
    const downS = f.restarted_at_s - f.killed_at_s;
    const loopsPerS = s.loops_sent / s.duration_s;
    expect(s.loss.client_loops_lost).toBeLessThan(loopsPerS * (downS + 2));

    // The loop statistics name the killed mix: worst, the only suspect (its loops return far less often than
    // the loops avoiding it), markedly lower than every other node — whose loops pass through it only half the
    // time, or never: its same-layer twin's loops all but always came back.
    type Row = {
      name: string;
      fraction: number;
      due: number;
      z: number;
      suspect: boolean;
      avoiding: { fraction: number };
    };
    const rows = s.loop_paths.rows as Row[];
    expect(s.loop_paths.worst).toBe(VICTIM);
    expect(s.loop_paths.suspects).toEqual([VICTIM]);
    const victim = rows.find((x) => x.name === VICTIM)!;
    expect(victim.avoiding.fraction - victim.fraction).toBeGreaterThan(0.1);
    const others = rows.filter((x) => x.name !== VICTIM);
    expect(others).toHaveLength(7);
    for (const o of others)
      expect(o.fraction - victim.fraction, `${o.name} ${o.fraction} vs ${victim.fraction}`).toBeGreaterThan(0.05);
    expect(rows.find((x) => x.name === SAME_LAYER)!.fraction).toBeGreaterThan(0.95);

    // Delivery resumed: every message sent after the restart arrived; the restarted node forwards and its own
    // loops come back.
    const after = s.delivery_after_restart;
    expect(after.since_s).toBe(f.restarted_at_s);
    expect(after.sent).toBeGreaterThan(0);
    expect(after.delivered).toBe(after.sent);
    expect(f.after_restart.forwarded).toBeGreaterThan(0);
    expect(f.after_restart.loops_due).toBeGreaterThan(3);
    expect(f.after_restart.loops_returned / f.after_restart.loops_due).toBeGreaterThan(0.9);
  }, 130_000);
});
