/**
 * Active queue management on the processing queue (packets accepted but not yet unwrapped), after PIE
 * (RFC 8033, "Proportional Integral controller Enhanced"). Overload must shed load early and visibly rather
 * than let the queue — and with it every packet's latency — grow without bound; a mix that silently adds
 * seconds of queueing also distorts the Exp(µ) delays the anonymity analysis assumes (Loopix §4.1).
 *
 * Measured quantity: the queueing delay d of packets waiting for a crypto worker — from the arrival of the
 * first packet that found every crypto slot busy until its batch is dispatched (the glue reports, per
 * interval, the longest such wait among dispatched batches and the age of the oldest packet still waiting,
 * and the controller takes the larger). A packet that arrives while a slot is free leaves at the end of the
 * event-loop turn, which is not congestion, so an idle node measures d = 0 exactly, which lets the
 * empty-queue decay below apply. PIE estimates the delay as queue length /
 * departure rate (RFC 8033 §4.3) because routers lack per-packet timestamps; we have them.
 *
 * Controller (a PID controller in positional form, updated every T = `intervalMs`):
 *
 *   e_k  = (d_k − target) in seconds
 *   I_k  = clamp(I_{k−1} + e_k·T, 0, 1/ki)         integral, clamped (anti-windup: never negative, never
 *                                                     more than saturates p on its own)
 *   p_k  = clamp(kp·e_k + ki·I_k + kd·(e_k − e_{k−1})/T, 0, 1)
 *
 * and, as in RFC 8033 §4.2, when the queue stays empty (d_k = d_{k−1} = 0) the integral decays by 2 % per
 * update, so p returns to zero after an overload. Default gains (config `pipeline.aqm`): kp = 1.25 /s,
 * ki = 8 /s², kd = 0 — PIE's β = 1.25 and α = 0.125 per 15 ms update (α/T ≈ 8.3 /s²) rewritten as a PID;
 * target 10 ms (PIE: 15 ms).
 *
 * Drop decision per arrival (RFC 8033 §4.1): always when the queue holds `hardCapPackets` ("queue_full");
 * never while the burst allowance lasts (RFC 8033 §4.4: `burstAllowanceMs` of queueing after a quiet spell,
 * so a 30-ms stall at half load is absorbed, not shed), when p = 0, or when the current delay is below target/2 and p < 0.2 (PIE's guard against drops
 * under light load); otherwise with probability p ("aqm").
 */

export interface AqmParams {
  readonly targetDelayMs: number;
  /** RFC 8033 §4.4 burst allowance, ms (0 or absent: none). */
  readonly burstAllowanceMs?: number;
  readonly intervalMs: number;
  readonly kp: number;
  readonly ki: number;
  readonly kd: number;
  readonly hardCapPackets: number;
}

export type AqmVerdict = null | 'aqm' | 'queue_full';

/** Integral decay per update while the queue is empty (RFC 8033 §4.2: p ← 0.98·p). */
const EMPTY_QUEUE_DECAY = 0.98;

export class AqmController {
  /** Current drop probability p in [0, 1]. */
  probability = 0;
  /** Last measured queueing delay, ms. */
  delayMs = 0;
  private integral = 0;
  private prevError = 0;
  private prevDelayMs = 0;
  /** Burst allowance left, ms: random drops are off while it is positive (RFC 8033 §4.4). */
  private burstLeftMs: number;

  constructor(readonly params: AqmParams) {
    this.burstLeftMs = params.burstAllowanceMs ?? 0;
  }

  /** Whether random drops are suspended by the burst allowance (RFC 8033 §4.4). */
  get inBurstAllowance(): boolean {
    return this.burstLeftMs > 0;
  }

  /**
   * The probability other threads should drop with (the sharded path's workers, which only decide and never
   * run the controller): p, or 0 while the burst allowance lasts.
   */
  get publishedProbability(): number {
    return this.burstLeftMs > 0 ? 0 : this.probability;
  }

  /**
   * A controller that only decides, with the probability another thread's controller publishes
   * (`publishedProbability`, which already applies the burst allowance): it has no allowance of its own, which
   * it would never spend, since only `update` spends it.
   */
  static decider(params: AqmParams): AqmController {
    return new AqmController({ ...params, burstAllowanceMs: 0 });
  }

  /** One controller step with the queueing delay measured over the last interval (ms). Returns p. */
  update(queueDelayMs: number): number {
    const { targetDelayMs, intervalMs, kp, ki, kd } = this.params;
    const d = Number.isFinite(queueDelayMs) && queueDelayMs > 0 ? queueDelayMs : 0;
    const T = intervalMs / 1000;
    const e = (d - targetDelayMs) / 1000;
    const maxIntegral = ki > 0 ? 1 / ki : 0;
    this.integral = Math.min(maxIntegral, Math.max(0, this.integral + e * T));
    if (d === 0 && this.prevDelayMs === 0) this.integral *= EMPTY_QUEUE_DECAY;
    const derivative = (e - this.prevError) / T;
    const p = kp * e + ki * this.integral + kd * derivative;
    this.probability = Math.min(1, Math.max(0, p));
    // Burst allowance (RFC 8033 §4.4): spent while queueing, refilled once the queue is quiet again (p = 0 and
    // the delay below half the target on two updates in a row).
    const allowance = this.params.burstAllowanceMs ?? 0;
    if (this.probability === 0 && d < targetDelayMs / 2 && this.prevDelayMs < targetDelayMs / 2)
      this.burstLeftMs = allowance;
    else this.burstLeftMs = Math.max(0, this.burstLeftMs - intervalMs);
    this.prevError = e;
    this.prevDelayMs = d;
    this.delayMs = d;
    return this.probability;
  }

  /**
   * Whether an arrival is dropped, given the packets currently accepted but not yet unwrapped and the age
   * (ms) of the oldest of them; `random` is a uniform draw in [0, 1) (not security-relevant).
   */
  decide(queuedPackets: number, currentDelayMs: number, random: number = Math.random()): AqmVerdict {
    if (queuedPackets >= this.params.hardCapPackets) return 'queue_full';
    const p = this.probability;
    if (p <= 0 || this.burstLeftMs > 0) return null;
    if (currentDelayMs < this.params.targetDelayMs / 2 && p < 0.2) return null;
    return random < p ? 'aqm' : null;
  }
}
