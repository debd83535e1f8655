/**
 * Stall tolerance of the AQM (src/node/aqm.ts): at half load, a 30-ms stall of the packet path (a GC pause, a
 * disk write) builds a queue that drains in another 30 ms; nothing may be dropped for it. Simulated on the
 * controller with the node's default parameters, arrival by arrival.
 */
import { describe, expect, it } from 'vitest';
import { PipelineSchema } from '../src/config/schema.js';
import { AqmController, type AqmParams } from '../src/node/aqm.js';

const defaults = PipelineSchema.parse({}).aqm;

/**
 * Half load: arrivals every `gapMs`, service at twice that rate. At t = 300 ms the packet path stalls for
 * 30 ms. Returns the drops.
 */
function stallAtHalfLoad(
  params: AqmParams,
  maxQueueDelayMs: number = defaults.maxQueueDelayMs,
  stallMs = 30,
): { aqm: number; hard: number } {
  const aqm = new AqmController(params);
  const gapMs = 0.2; // 5,000 packets/s offered; capacity 10,000/s
  const serviceMs = gapMs / 2;
  let backlogMs = 0; // queueing delay a packet arriving now would see
  let nextUpdate = params.intervalMs;
  let intervalMax = 0;
  const drops = { aqm: 0, hard: 0 };
  let draw = 0;
  for (let t = 0; t < 1000; t += gapMs) {
    while (t >= nextUpdate) {
      aqm.update(intervalMax);
      intervalMax = 0;
      nextUpdate += params.intervalMs;
    }
    const stalled = t >= 300 && t < 300 + stallMs;
    // The queue grows by the arrival gap while stalled, and drains at (service rate − arrival rate) otherwise.
    backlogMs = stalled ? backlogMs + gapMs : Math.max(0, backlogMs - (gapMs - serviceMs));
    intervalMax = Math.max(intervalMax, backlogMs);
    if (backlogMs >= maxQueueDelayMs) {
      drops.hard++;
      continue;
    }
    draw = (draw + 0.6180339887) % 1; // evenly spread uniform draws (deterministic)
    if (aqm.decide(0, backlogMs, draw) !== null) drops.aqm++;
  }
  return drops;
}

describe('AQM under a 30-ms stall at half load', () => {
  it('drops nothing with the default target, hard bound and burst allowance', () => {
    expect(defaults.maxQueueDelayMs).toBeGreaterThanOrEqual(60);
    expect(stallAtHalfLoad(defaults)).toEqual({ aqm: 0, hard: 0 });
  });

  it('would shed part of the stall without the burst allowance (what the allowance is for)', () => {
    const r = stallAtHalfLoad({ ...defaults, burstAllowanceMs: 0 });
    expect(r.aqm).toBeGreaterThan(0);
  });

  it('absorbs a 35-ms stall that the old hard bound of 3 × target (30 ms) dropped outright', () => {
    expect(stallAtHalfLoad(defaults, defaults.maxQueueDelayMs, 35)).toEqual({ aqm: 0, hard: 0 });
    expect(stallAtHalfLoad(defaults, 3 * defaults.targetDelayMs, 35).hard).toBeGreaterThan(0);
  });
});

describe('AQM on the sharded path: the main thread controls, the workers decide', () => {
  it('workers drop with the published probability once the burst allowance is spent, and not before', () => {
    const controller = new AqmController(defaults);
    const worker = AqmController.decider(defaults);
    const drawsDropped = (p: number) => {
      worker.probability = p;
      let n = 0;
      for (let i = 0; i < 1000; i++) if (worker.decide(0, defaults.targetDelayMs * 2, (i + 0.5) / 1000) === 'aqm') n++;
      return n;
    };
    // A standing queueing delay of 5 × target: p rises at once, but the first burstAllowanceMs of queueing
    // are forgiven (RFC 8033 §4.4), so the workers see p = 0 for them.
    controller.update(5 * defaults.targetDelayMs);
    expect(controller.probability).toBeGreaterThan(0);
    expect(controller.publishedProbability).toBe(0);
    expect(drawsDropped(controller.publishedProbability)).toBe(0);
    for (let t = 0; t <= defaults.burstAllowanceMs; t += defaults.intervalMs)
      controller.update(5 * defaults.targetDelayMs);
    const p = controller.publishedProbability;
    expect(p).toBe(controller.probability);
    expect(p).toBeGreaterThan(0);
    // A worker drops that share of its arrivals (its own controller never runs, so it has no allowance to
    // spend: a worker built like the main thread's controller would never drop at all).
    expect(drawsDropped(p)).toBe(Math.round(p * 1000));
    expect(new AqmController(defaults).decide(0, defaults.targetDelayMs * 2, 0)).toBeNull();
  });
});
