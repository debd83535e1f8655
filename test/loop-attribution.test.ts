/**
 * Loop attribution (src/node/loops.ts "Attribution", src/testnet/loop-report.ts): per node on their paths,
 * how many loops were due and how many came back — over the alarm's window and since start — and the
 * verdict that names the node through which loops fail while loops avoiding it return (Loopix §4.2.1).
 * Also the failure-injection helpers that need no processes (src/testnet/failures.ts).
 */
import { describe, expect, it } from 'vitest';
import { LoopMonitor, type PathTally } from '../src/node/loops.js';
import { validateFailurePlans, QuietWatch } from '../src/testnet/failures.js';
import { loopPathReport, twoProportionZ } from '../src/testnet/loop-report.js';

const id = (n: number) => Uint8Array.from([n >> 8, n & 0xff]);

describe('LoopMonitor attribution', () => {
  it('counts due and returned loops per node on the path, in the window and in total', () => {
    const m = new LoopMonitor(10_000, 0.7);
    m.sent(id(1), 0, 1000, ['a', 'b']);
    m.sent(id(2), 0, 1000, ['a', 'c']);
    m.sent(id(3), 0, 5000, ['b', 'c']); // not due yet at t = 2000
    m.returned(id(1), 500);
    m.evaluate(2000);
    const { window, total } = m.attribution();
    expect(window).toEqual({
      due: 2,
      returned: 1,
      through: { a: { due: 2, returned: 1 }, b: { due: 1, returned: 1 }, c: { due: 1, returned: 0 } },
    });
    expect(total).toEqual(window);
  });

  it('counts a node once per loop even when the path names it twice', () => {
    const m = new LoopMonitor(10_000, 0.7);
    m.sent(id(1), 0, 100, ['p', 'x', 'p']);
    m.evaluate(200);
    expect(m.attribution().total.through).toEqual({ p: { due: 1, returned: 0 }, x: { due: 1, returned: 0 } });
  });

  it('forgets loops that left the window, but keeps them in the totals', () => {
    const m = new LoopMonitor(10_000, 0.7);
    m.sent(id(1), 0, 1000, ['a']);
    m.returned(id(1), 800);
    m.sent(id(2), 0, 1000, ['b']);
    m.evaluate(2000);
    m.sent(id(3), 15_000, 16_000, ['b']);
    m.returned(id(3), 15_500);
    m.evaluate(20_000); // loops 1 and 2 were due at 1000, outside [10 000, 20 000]
    const { window, total } = m.attribution();
    expect(window).toEqual({ due: 1, returned: 1, through: { b: { due: 1, returned: 1 } } });
    expect(total).toEqual({ due: 3, returned: 2, through: { a: { due: 1, returned: 1 }, b: { due: 2, returned: 1 } } });
  });

  it('counts a loop due before any evaluation inside the window when the clock jumps past it', () => {
    const m = new LoopMonitor(1000, 0.7);
    m.sent(id(1), 0, 100, ['a']);
    m.evaluate(50_000);
    expect(m.attribution().total).toEqual({ due: 1, returned: 0, through: { a: { due: 1, returned: 0 } } });
    expect(m.outstanding).toBe(0);
  });

  it('adds a late return (after the loop was counted as missing) to the returned counts', () => {
    const m = new LoopMonitor(10_000, 0.7);
    m.sent(id(1), 0, 1000, ['a']);
    m.evaluate(1500);
    expect(m.attribution().total.through.a).toEqual({ due: 1, returned: 0 });
    m.returned(id(1), 1700);
    m.evaluate(1800);
    expect(m.attribution().total.through.a).toEqual({ due: 1, returned: 1 });
    expect(m.attribution().window.through.a).toEqual({ due: 1, returned: 1 });
  });

  it('hands out copies: later counting does not change an earlier attribution', () => {
    const m = new LoopMonitor(10_000, 0.7);
    m.sent(id(1), 0, 100, ['a']);
    m.evaluate(200);
    const before = m.attribution();
    m.sent(id(2), 0, 300, ['a']);
    m.evaluate(400);
    expect(before.total.through.a).toEqual({ due: 1, returned: 0 });
    expect(m.attribution().total.through.a).toEqual({ due: 2, returned: 0 });
  });
});

/**
 * A simulated stratified network, 2 layers × 2 mixes: every sender's loops pick one mix per layer uniformly;
 * a loop through a node in `dead` never returns, any other loop returns with probability `ok`.
 */
function simulate(
  senders: string[],
  loopsEach: number,
  dead: Set<string>,
  ok: number,
  seed = 1,
): { sender: string; tally: PathTally }[] {
  let x = seed;
  const rnd = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const layers = [
    ['m1a', 'm1b'],
    ['m2a', 'm2b'],
  ];
  return senders.map((sender) => {
    const m = new LoopMonitor(1e12, 0.7);
    for (let i = 0; i < loopsEach; i++) {
      const path = layers.map((l) => l[Math.floor(rnd() * l.length)]!).filter((n) => n !== sender);
      m.sent(id(i), 0, 1, path);
      if (!path.some((n) => dead.has(n)) && rnd() < ok) m.returned(id(i), 0.5);
    }
    m.evaluate(2);
    return { sender, tally: m.attribution().total };
  });
}

const names = new Map([
  ['m1a', 'mix-1.a'],
  ['m1b', 'mix-1.b'],
  ['m2a', 'mix-2.a'],
  ['m2b', 'mix-2.b'],
]);

describe('loopPathReport', () => {
  it('names the dead node as worst and only suspect, with a markedly lower return fraction than every other node', () => {
    const r = loopPathReport(simulate(['p0', 'p1', 'c0', 'c1'], 200, new Set(['m2a']), 0.98), names);
    expect(r.worst).toBe('mix-2.a');
    expect(r.suspects).toEqual(['mix-2.a']);
    const [worst, ...others] = r.rows;
    expect(worst!.fraction).toBe(0);
    for (const o of others) expect(o.fraction!).toBeGreaterThan(0.3);
    expect(worst!.avoiding.fraction!).toBeGreaterThan(0.9);
  });

  it('finds no suspect when loss is spread over every path (congestion, not a node)', () => {
    const r = loopPathReport(simulate(['p0', 'p1', 'c0', 'c1'], 200, new Set(), 0.6), names);
    expect(r.suspects).toEqual([]);
    for (const row of r.rows) expect(Math.abs(row.z!)).toBeLessThan(3.09);
  });

  it('finds no suspect when nothing is lost, and reports z as undefined', () => {
    const r = loopPathReport(simulate(['p0', 'c0'], 50, new Set(), 1), names);
    expect(r.suspects).toEqual([]);
    expect(r.rows.every((row) => row.fraction === 1 && row.z === null)).toBe(true);
  });

  it('gives no verdict on fewer than minDue loops', () => {
    const obs = [
      {
        sender: 's',
        tally: { due: 104, returned: 100, through: { m2a: { due: 4, returned: 0 }, m2b: { due: 100, returned: 100 } } },
      },
    ];
    const row = (minDue: number) => loopPathReport(obs, names, { minDue }).rows.find((x) => x.name === 'mix-2.a')!;
    expect(row(5).z!).toBeGreaterThan(3.09); // the evidence points at it …
    expect(row(5).suspect).toBe(false); // … but 4 due loops are too few for a verdict
    expect(row(4).suspect).toBe(true);
  });

  it('lists named nodes without loops last, and reports unnamed ids by id', () => {
    const r = loopPathReport(
      [{ sender: 's', tally: { due: 2, returned: 1, through: { zz: { due: 2, returned: 1 } } } }],
      new Map([['q', 'idle']]),
    );
    expect(r.rows.map((x) => x.name)).toEqual(['zz', 'idle']);
    expect(r.rows[1]!.fraction).toBeNull();
    expect(r.worst).toBe('zz');
  });

  it("does not count a sender's own loops as avoiding itself", () => {
    const r = loopPathReport(
      [
        { sender: 'x', tally: { due: 10, returned: 0, through: { y: { due: 10, returned: 0 } } } },
        { sender: 'y', tally: { due: 10, returned: 10, through: { x: { due: 10, returned: 10 } } } },
      ],
      new Map(),
    );
    const x = r.rows.find((row) => row.id === 'x')!;
    expect(x.avoiding).toEqual({ due: 0, returned: 0, fraction: null });
    expect(r.rows.find((row) => row.id === 'y')!.avoiding).toEqual({ due: 0, returned: 0, fraction: null });
  });

  it('computes the pooled two-proportion z', () => {
    // 2/20 through vs 90/100 avoiding: pooled 92/120.
    const p = 92 / 120;
    const want = (0.9 - 0.1) / Math.sqrt(p * (1 - p) * (1 / 20 + 1 / 100));
    expect(twoProportionZ({ due: 20, returned: 2 }, { due: 100, returned: 90 })).toBeCloseTo(want, 10);
    expect(twoProportionZ({ due: 0, returned: 0 }, { due: 5, returned: 5 })).toBeNull();
  });
});

describe('failure plans and the drain quiet rule', () => {
  const nodeNames = ['provider-0', 'mix-1.0', 'mix-2.0'];

  it('refuses an unknown node, a node named twice and a restart before the kill', () => {
    expect(() => validateFailurePlans([{ node: 'mix-9.9', killAtS: 1 }], nodeNames)).toThrow(/no such node.*mix-2\.0/);
    expect(() =>
      validateFailurePlans(
        [
          { node: 'mix-2.0', killAtS: 1 },
          { node: 'mix-2.0', killAtS: 2 },
        ],
        nodeNames,
      ),
    ).toThrow(/twice/);
    expect(() => validateFailurePlans([{ node: 'mix-2.0', killAtS: 5, restartAtS: 5 }], nodeNames)).toThrow(
      /after --kill-at/,
    );
    expect(() => validateFailurePlans([{ node: 'mix-2.0', killAtS: 5, restartAtS: 9 }], nodeNames)).not.toThrow();
  });

  it('is quiet only after the progress count has not moved for the quiet period', () => {
    let progress = 0;
    const w = new QuietWatch(() => progress, 1000, 0);
    expect(w.quiet(999)).toBe(false);
    progress = 1;
    expect(w.quiet(1500)).toBe(false); // moved: the quiet period restarts at 1500
    expect(w.quiet(2400)).toBe(false);
    expect(w.quiet(2500)).toBe(true);
  });
});
