/**
 * `sim entropy`: the sender anonymity of ONE Poisson mix (Loopix §3.3, §4.1.3, Figure 4).
 *
 * Messages arrive as a Poisson process of rate λ (messages per time unit) and each is delayed by an
 * independent Exp(µ) time (M/M/∞, Lemma 1: the pool holds Pois(λ/µ) messages in the steady state). An adversary
 * who sees every arrival and departure cannot tell pooled messages apart (Lemma 2, Theorem 1), so for each
 * outgoing message the distribution over the inputs it could be has an entropy H_t that follows equation (5)
 * (Appendix A.1):
 *
 *   H_t = H({k/(k+l), l/(k+l)}) + k/(k+l)·log k + l/(k+l)·H_{t−1},
 *
 * where k = arrivals since the previous departure and l = the pool left behind by it. Entropies are in bits.
 */
import { EventHeap } from './heap.js';
import type { Rng } from '../util/random.js';

/** Equation (5), in bits. k new arrivals, l messages left from the previous pool whose entropy was hPrev. */
export function entropyStep(k: number, l: number, hPrev: number): number {
  if (k === 0) return hPrev; // nothing new: the pool is the previous pool
  if (l === 0) return Math.log2(k); // a fresh pool of k equally likely inputs
  const n = k + l;
  const pk = k / n;
  const pl = l / n;
  return -(pk * Math.log2(pk) + pl * Math.log2(pl)) + pk * Math.log2(k) + pl * hPrev;
}

/**
 * The large-pool limit of the mean entropy: an input that arrived s time units ago is the next output with
 * probability ≈ (µ/λ)·e^{−µs} (each departure removes a 1/(λ/µ) share of the pool's weight, and departures
 * come at rate λ), and inputs arrive at rate λ, so H → ∫ λ·w·(−log w) ds = log₂(λ/µ) + log₂ e = log₂(e·λ/µ)
 * bits. Valid for λ/µ ≫ 1; for small pools the simulated entropy is lower (empty and one-message pools give 0).
 */
export function entropyLimit(lambda: number, mu: number): number {
  return Math.log2((Math.E * lambda) / mu);
}

export interface EntropyRunOptions {
  /** Arrival rate λ, messages per time unit. */
  readonly lambda: number;
  /** Delay parameter µ per time unit (mean delay 1/µ). */
  readonly mu: number;
  /**
   * Departures discarded before measuring, so the recursion forgets its start; default 10·λ/µ + 1,000 (the
   * start's weight in H decays by e^{−1} every λ/µ departures).
   */
  readonly burnIn?: number;
  /** Departures averaged; default 10·λ/µ + 1,000. */
  readonly measure?: number;
}

function defaults(o: EntropyRunOptions): { burnIn: number; measure: number } {
  const n = Math.ceil((10 * o.lambda) / o.mu) + 1000;
  return { burnIn: o.burnIn ?? n, measure: o.measure ?? n };
}

/**
 * One run: the mean entropy (bits) of the outgoing messages. The mix is simulated as its embedded jump chain:
 * by memorylessness (Lemma 2) the next event is an arrival with probability λ/(λ + Nµ) and otherwise a
 * departure of a pooled message, so no per-message delays are needed. The run starts in the steady state
 * (Pois(λ/µ) messages, Lemma 1) as if those had just arrived (k = N, l = 0, H₀ = 0).
 */
export function simulateEntropy(o: EntropyRunOptions, rng: Rng): number {
  const { lambda, mu } = o;
  const { burnIn, measure } = defaults(o);
  let n = rng.poisson(lambda / mu);
  let k = n;
  let l = 0;
  let h = 0;
  let departures = 0;
  let sum = 0;
  const total = burnIn + measure;
  while (departures < total) {
    if (n === 0 || rng.random() * (lambda + n * mu) < lambda) {
      n++;
      k++;
      continue;
    }
    h = entropyStep(k, l, h);
    n--;
    l = n;
    k = 0;
    if (++departures > burnIn) sum += h;
  }
  return sum / measure;
}

/**
 * The same measurement with every message's Exp(µ) delay drawn explicitly and departures taken from an event
 * queue: slower, kept to check (in the tests) that the jump-chain shortcut above changes nothing.
 */
export function simulateEntropyExplicit(o: EntropyRunOptions, rng: Rng): number {
  const { lambda, mu } = o;
  const { burnIn, measure } = defaults(o);
  const heap = new EventHeap();
  let t = 0;
  let n = rng.poisson(lambda / mu);
  for (let i = 0; i < n; i++) heap.push(rng.exp(mu), 0);
  let k = n;
  let l = 0;
  let h = 0;
  let departures = 0;
  let sum = 0;
  let nextArrival = rng.exp(lambda);
  const total = burnIn + measure;
  while (departures < total) {
    if (nextArrival < heap.peekTime()) {
      t = nextArrival;
      heap.push(t + rng.exp(mu), 0);
      n++;
      k++;
      nextArrival = t + rng.exp(lambda);
      continue;
    }
    heap.pop();
    h = entropyStep(k, l, h);
    n--;
    l = n;
    k = 0;
    if (++departures > burnIn) sum += h;
  }
  return sum / measure;
}
