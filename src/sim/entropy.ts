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
 * The recursion's state over one run (shared by both simulations below): pool size n, arrivals k since the
 * last departure, pool size l left by it, the entropy h of the last departure, and the running mean over the
 * departures after the burn-in.
 */
class EntropyRun {
  n: number;
  private k: number;
  private l = 0;
  private h = 0;
  private departures = 0;
  private sum = 0;

  constructor(
    n0: number,
    private readonly burnIn: number,
    private readonly measure: number,
  ) {
    // Started as if the n0 pooled messages had just arrived (k = N, l = 0, H₀ = 0).
    this.n = n0;
    this.k = n0;
  }

  get done(): boolean {
    return this.departures >= this.burnIn + this.measure;
  }

  arrive(): void {
    this.n++;
    this.k++;
  }

  depart(): void {
    this.h = entropyStep(this.k, this.l, this.h);
    this.n--;
    this.l = this.n;
    this.k = 0;
    if (++this.departures > this.burnIn) this.sum += this.h;
  }

  get mean(): number {
    return this.sum / this.measure;
  }
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
  const run = new EntropyRun(rng.poisson(lambda / mu), burnIn, measure);
  while (!run.done) {
    if (run.n === 0 || rng.random() * (lambda + run.n * mu) < lambda) run.arrive();
    else run.depart();
  }
  return run.mean;
}

/**
 * The same measurement with every message's Exp(µ) delay drawn explicitly and departures taken from an event
 * queue: slower, kept to check (in the tests) that the jump-chain shortcut above changes nothing.
 */
export function simulateEntropyExplicit(o: EntropyRunOptions, rng: Rng): number {
  const { lambda, mu } = o;
  const { burnIn, measure } = defaults(o);
  const heap = new EventHeap();
  const n0 = rng.poisson(lambda / mu);
  for (let i = 0; i < n0; i++) heap.push(rng.exp(mu), 0);
  const run = new EntropyRun(n0, burnIn, measure);
  let nextArrival = rng.exp(lambda);
  while (!run.done) {
    if (nextArrival < heap.peekTime()) {
      heap.push(nextArrival + rng.exp(mu), 0);
      run.arrive();
      nextArrival += rng.exp(lambda);
      continue;
    }
    heap.pop();
    run.depart();
  }
  return run.mean;
}
