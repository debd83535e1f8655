/**
 * `sim epsilon`: the end-to-end likelihood difference ε of Loopix §4.3, equation (3): ε = |log(p₀/p₁)|, where
 * p₀ and p₁ are the probabilities that a message in the pool of a final-layer mix was sent by the challenge
 * senders S₀ and S₁ (natural logarithm).
 *
 * Set-up (§4.3): U senders each send at Poisson rate λ (payload and cover alike). During a burn-in of `burnIn`
 * time units the U − 2 ordinary senders communicate; then S₀ and S₁ start: each adds one payload message to
 * its FIFO buffer every time unit and, at each of its own Poisson(λ) sending events, sends the head of the
 * buffer (labelled S₀ or S₁) or, when the buffer is empty, an unlabelled cover message. After `duration` more
 * time units we pick a final-layer mix and compute ε from the label probabilities of its pool.
 *
 * Each message takes a uniformly random mix in each of the `layers` layers (stratified topology, `width`
 * mixes per layer) and waits an Exp(µ) delay in each. An honest mix follows Theorem 1: a departing message is,
 * to the adversary, any pooled message with equal probability, so it carries the pool's average label
 * distribution, and the pool keeps the rest. We hold per mix only the pool size N and the sums S₀, S₁ of the
 * label probabilities: an arrival adds its distribution, a departure carries S/N and leaves S·(N−1)/N — which
 * reproduces Pr(m = m₁) = k/(n(l+k)) and Pr(m = m₂) = 1/(l+k) exactly. A corrupt mix passes each message's
 * input distribution through unchanged. The mix where ε is measured is honest (§4.3: "when we calculate our
 * anonymity metric at a mix node we assume this mix node to be honest").
 *
 * As in the paper we ignore loops (the adversary could simulate them, footnote 4) and providers.
 */
import { EventHeap } from './heap.js';
import type { Rng } from '../util/random.js';

export interface EpsilonParams {
  /** Number of senders U, including the two challenge senders. */
  readonly senders: number;
  /** Sending rate λ of every sender, messages per time unit. */
  readonly lambda: number;
  /** Mix delay parameter µ per time unit. */
  readonly mu: number;
  readonly layers: number;
  /** Mixes per layer. */
  readonly width: number;
  /** Fraction of the mixes (other than the measured one) that are corrupt, in [0, 1]. */
  readonly corrupt: number;
  /** Burn-in, time units, before the challenge senders start. */
  readonly burnIn: number;
  /** Time units simulated after the challenge senders start. */
  readonly duration: number;
}

export const PAPER_EPSILON: EpsilonParams = {
  senders: 100,
  lambda: 2,
  mu: 1,
  layers: 3,
  width: 3,
  corrupt: 0,
  burnIn: 2500,
  duration: 100,
};

/** P(Pois(x) ≥ j), summed in log space so that large x does not underflow. */
function poissonTailAtLeast(x: number, j: number): number {
  if (j <= 0) return 1;
  let below = 0;
  let logTerm = -x; // log of e^{−x} x^i / i!
  for (let i = 0; i < j; i++) {
    below += Math.exp(logTerm);
    logTerm += Math.log(x) - Math.log(i + 1);
  }
  return Math.max(0, 1 - below);
}

/**
 * Mean number of messages per mix in layer `layer` (0-based) at the end of the burn-in, starting from an
 * empty network. A message that entered a time a ago has completed Pois(µa) hops (each hop an Exp(µ) delay),
 * so with (U − 2)·λ/width arrivals per mix and time unit the mean is
 *   ((U − 2)·λ / width) · ∫₀^T P(Pois(µa) = layer) da = ((U − 2)·λ / (width·µ)) · P(Pois(µT) ≥ layer + 1).
 * For T → ∞ this is Lemma 1's λ/µ per mix.
 */
export function burnInMeanPool(p: EpsilonParams, layer: number): number {
  const rate = ((p.senders - 2) * p.lambda) / p.width;
  return (rate / p.mu) * poissonTailAtLeast(p.mu * p.burnIn, layer + 1);
}

export interface EpsilonRun {
  /**
   * ε of equation (3); Infinity when one challenge sender has no weight at all in the measured pool, NaN when
   * neither has (or the pool is empty).
   */
  readonly epsilon: number;
  readonly p0: number;
  readonly p1: number;
  /** Messages per layer (summed over its mixes) when the challenge senders start. */
  readonly poolAtStart: number[];
}

export interface EpsilonRunOptions {
  /**
   * Simulate the burn-in message by message instead of drawing its end state. The end state of a burn-in
   * without labels is known exactly: infinite-server queues in series fed by Poisson traffic hold independent
   * Poisson numbers of messages (means from burnInMeanPool), each with an Exp(µ) residual delay (Lemma 2), so
   * the default draws it directly — 2,500 time units of unlabelled traffic would otherwise dominate the run
   * time while changing nothing in distribution. The explicit path exists to test that claim.
   */
  readonly explicitBurnIn?: boolean;
}

/** One repetition of the §4.3 experiment. */
export function simulateEpsilon(p: EpsilonParams, rng: Rng, o: EpsilonRunOptions = {}): EpsilonRun {
  const { layers, width, mu, lambda } = p;
  const mixes = layers * width;
  const observed = (layers - 1) * width + rng.int(width);
  const corrupt = new Uint8Array(mixes);
  const others = Array.from({ length: mixes }, (_, i) => i).filter((i) => i !== observed);
  const nCorrupt = Math.round(p.corrupt * others.length);
  for (let i = 0; i < nCorrupt; i++) {
    const j = i + rng.int(others.length - i); // partial Fisher–Yates: a uniform subset
    [others[i], others[j]] = [others[j]!, others[i]!];
    corrupt[others[i]!] = 1;
  }

  const count = new Int32Array(mixes);
  const s0 = new Float64Array(mixes);
  const s1 = new Float64Array(mixes);
  // Messages in flight, struct-of-arrays with a free list; d0/d1 = the label distribution the message carries.
  let cap = 1024;
  let mixOf = new Int32Array(cap);
  let d0 = new Float64Array(cap);
  let d1 = new Float64Array(cap);
  let free = new Int32Array(cap);
  let nFree = 0;
  let nextId = 0;
  const alloc = (): number => {
    if (nFree > 0) return free[--nFree]!;
    if (nextId === cap) {
      cap *= 2;
      const grow = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
        const b = make(cap);
        b.set(a);
        return b;
      };
      mixOf = grow(mixOf, (n) => new Int32Array(n));
      d0 = grow(d0, (n) => new Float64Array(n));
      d1 = grow(d1, (n) => new Float64Array(n));
      free = grow(free, (n) => new Int32Array(n));
    }
    return nextId++;
  };
  const heap = new EventHeap(4096);

  const arrive = (t: number, mix: number, id: number, l0: number, l1: number): void => {
    mixOf[id] = mix;
    d0[id] = l0;
    d1[id] = l1;
    count[mix]!++;
    s0[mix]! += l0;
    s1[mix]! += l1;
    heap.push(t + rng.exp(mu), id);
  };

  /** Processes the earliest departure at time t: Theorem 1 at honest mixes, pass-through at corrupt ones. */
  const depart = (t: number, id: number): void => {
    const mix = mixOf[id]!;
    const n = count[mix]!;
    let l0: number;
    let l1: number;
    if (corrupt[mix]) {
      l0 = d0[id]!;
      l1 = d1[id]!;
    } else {
      l0 = s0[mix]! / n;
      l1 = s1[mix]! / n;
    }
    if (n === 1) {
      s0[mix] = 0; // exact zero instead of rounding residue
      s1[mix] = 0;
    } else {
      s0[mix]! -= l0;
      s1[mix]! -= l1;
    }
    count[mix] = n - 1;
    const layer = Math.floor(mix / width);
    if (layer + 1 < layers) arrive(t, (layer + 1) * width + rng.int(width), id, l0, l1);
    else free[nFree++] = id;
  };

  const ordinaryRate = (p.senders - 2) * lambda;
  if (o.explicitBurnIn) {
    let t = rng.exp(ordinaryRate);
    while (true) {
      const next = Math.min(t, heap.peekTime());
      if (next >= p.burnIn) break;
      if (t <= heap.peekTime()) {
        arrive(t, rng.int(width), alloc(), 0, 0);
        t += rng.exp(ordinaryRate);
      } else {
        const id = heap.peekId();
        const at = heap.peekTime();
        heap.pop();
        depart(at, id);
      }
    }
    // Re-base the clock so the challenge phase runs over [0, duration).
    const pending: Array<[number, number]> = [];
    while (heap.size > 0) {
      pending.push([heap.peekTime() - p.burnIn, heap.peekId()]);
      heap.pop();
    }
    for (const [at, id] of pending) heap.push(at, id);
  } else {
    for (let layer = 0; layer < layers; layer++) {
      const mean = burnInMeanPool(p, layer);
      for (let m = 0; m < width; m++) {
        const n = rng.poisson(mean);
        for (let i = 0; i < n; i++) arrive(0, layer * width + m, alloc(), 0, 0);
      }
    }
  }
  const poolAtStart = Array.from({ length: layers }, (_, layer) => {
    let sum = 0;
    for (let m = 0; m < width; m++) sum += count[layer * width + m]!;
    return sum;
  });

  // Challenge phase: ordinary senders go on; S0 and S1 start (buffers fill at t = 0, 1, 2, …).
  let tOrdinary = rng.exp(ordinaryRate);
  const tChallenge = [rng.exp(lambda), rng.exp(lambda)];
  const sentPayload = [0, 0];
  for (;;) {
    const tc = Math.min(tChallenge[0]!, tChallenge[1]!);
    const th = heap.peekTime();
    const next = Math.min(tOrdinary, tc, th);
    if (next >= p.duration) break;
    if (next === th) {
      const id = heap.peekId();
      heap.pop();
      depart(th, id);
    } else if (next === tOrdinary) {
      arrive(tOrdinary, rng.int(width), alloc(), 0, 0);
      tOrdinary += rng.exp(ordinaryRate);
    } else {
      const c = tChallenge[0]! <= tChallenge[1]! ? 0 : 1;
      const buffered = Math.floor(tc) + 1 - sentPayload[c]!;
      let l0 = 0;
      let l1 = 0;
      if (buffered > 0) {
        sentPayload[c]!++;
        if (c === 0) l0 = 1;
        else l1 = 1;
      }
      arrive(tc, rng.int(width), alloc(), l0, l1);
      tChallenge[c] = tc + rng.exp(lambda);
    }
  }

  const n = count[observed]!;
  const p0 = n > 0 ? s0[observed]! / n : 0;
  const p1 = n > 0 ? s1[observed]! / n : 0;
  let epsilon: number;
  if (p0 > 0 && p1 > 0) epsilon = Math.abs(Math.log(p0 / p1));
  else epsilon = p0 === p1 ? NaN : Infinity;
  return { epsilon, p0, p1, poolAtStart };
}

export type EpsilonVary = 'mu' | 'layers' | 'corrupt';

/** The parameter values of Figures 5, 6 and 7 (corrupt in percent). */
export const PAPER_SWEEPS: Record<EpsilonVary, number[]> = {
  mu: [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0],
  layers: Array.from({ length: 18 }, (_, i) => i + 2),
  corrupt: [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
};

/** The parameters of one point of a sweep: the paper's set-up with one parameter changed. */
export function epsilonParamsFor(vary: EpsilonVary, value: number, base: EpsilonParams = PAPER_EPSILON): EpsilonParams {
  switch (vary) {
    case 'mu':
      return { ...base, mu: value };
    case 'layers':
      return { ...base, layers: value };
    case 'corrupt':
      return { ...base, corrupt: value / 100 };
  }
}
