/**
 * `sim n-1`: the stealthy (n−1) attack of Loopix §4.2.1.
 *
 * The adversary wants to follow a target message through a mix, and would like to block every other input.
 * But the mix sends loops at rate λM and expects at least a fraction r = λM/s of them (per time unit) to come
 * back; the adversary cannot tell loops from other traffic, so to stay below the alarm she can only drop
 * inputs uniformly, letting each through with probability 1/s: λR/s of the other traffic reaches the mix and
 * λM/s loops return. The target then shares the mix (Lemma 1) with λR/(sµ) admitted messages and λM/µ loops
 * the mix generated itself, and the paper's success probability is one over that pool size:
 *
 *   Pr(x = target) = 1 / (λR/(sµ) + λM/µ) = sµ / (sλM + λR).
 *
 * The simulation plays the attack out: the other traffic (rate λR) and the returning loops (rate λM) pass the
 * adversary's filter with probability 1/s each; returning loops are consumed by the mix and counted; the mix
 * puts its own new loops (rate λM) into its pool, where — like every message — they wait Exp(µ). Targets
 * arrive at random times (a Poisson probe, so by PASTA they see the time-average pool) and the adversary's
 * chance of picking the target out of the pool it joins is 1/(N + 1) (Theorem 1: the pool is uniform). The
 * simulated probability is the mean of that, E[1/(N + 1)] = (1 − e^{−m})/m for N ~ Pois(m): the formula's 1/m
 * up to e^{−m}, so both agree while the pool is large and part ways when m = λR/(sµ) + λM/µ nears 1 (the
 * formula then exceeds 1, which no probability can).
 */
import type { Rng } from '../util/random.js';

export interface NMinus1Params {
  /** Rate of the mix's incoming traffic that is not its own loops, messages per time unit (λR). */
  readonly lambdaR: number;
  /** The mix's loop rate λM, per time unit. */
  readonly lambdaM: number;
  /** Delay parameter µ per time unit. */
  readonly mu: number;
  /** The stealth factor s > 1: the adversary admits 1/s of the inputs, the mix's alarm is at λM/s returning loops. */
  readonly s: number;
  /** Target probes measured per run (probes come at rate µ, about one per mean delay). */
  readonly probes: number;
}

/** The formula of §4.2.1. */
export function nMinus1Formula(p: Pick<NMinus1Params, 'lambdaR' | 'lambdaM' | 'mu' | 's'>): number {
  return (p.s * p.mu) / (p.s * p.lambdaM + p.lambdaR);
}

/** The exact value of the simulated quantity, E[1/(N+1)] with N ~ Pois(m), m = λR/(sµ) + λM/µ. */
export function nMinus1Exact(p: Pick<NMinus1Params, 'lambdaR' | 'lambdaM' | 'mu' | 's'>): number {
  const m = p.lambdaR / (p.s * p.mu) + p.lambdaM / p.mu;
  return -Math.expm1(-m) / m;
}

export interface NMinus1Run {
  /** Mean over the run's probes of the adversary's success probability 1/(N + 1). */
  readonly p: number;
  /** Returning loops per time unit that got past the adversary (the mix's alarm threshold is λM/s). */
  readonly loopReturnRate: number;
}

/**
 * One run. The pool is simulated as its jump chain (memorylessness, Lemma 2): each event is drawn in
 * proportion to its rate. Starts at the Lemma 1 steady state; 10 mean delays of warm-up anyway.
 */
export function simulateNMinus1(p: NMinus1Params, rng: Rng): NMinus1Run {
  const { lambdaR, lambdaM, mu, s } = p;
  const probeRate = mu;
  const warmUp = 10 / mu;
  let n = rng.poisson(lambdaR / (s * mu) + lambdaM / mu);
  let t = 0;
  let probes = 0;
  let sum = 0;
  let returned = 0;
  const pass = 1 / s;
  while (probes < p.probes) {
    const total = lambdaR + 2 * lambdaM + n * mu + probeRate;
    t += rng.exp(total);
    let u = rng.random() * total;
    if ((u -= lambdaR) < 0) {
      if (rng.random() < pass) n++; // other traffic, admitted by the adversary
    } else if ((u -= lambdaM) < 0) {
      if (rng.random() < pass && t > warmUp) returned++; // one of our loops came back (consumed)
    } else if ((u -= lambdaM) < 0) {
      n++; // a new loop enters the pool
    } else if ((u -= n * mu) < 0) {
      n--; // a pooled message leaves
    } else if (t > warmUp) {
      sum += 1 / (n + 1);
      probes++;
    }
  }
  return { p: sum / probes, loopReturnRate: returned / (t - warmUp) };
}

/** The default sweep: s from barely-stealthy to very aggressive blocking, λM over an order of magnitude. */
export const DEFAULT_S = [1.5, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000];
export const DEFAULT_LAMBDA_M = [1, 2, 5, 10];
