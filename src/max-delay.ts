/**
 * The largest per-hop delay a node holds a packet for (Loopix §2.2: per-hop delays are Exp(µ), chosen by the
 * sender). The header's delay field could ask for 2³²−1 µs (≈ 72 min), so without a bound one sender could
 * make a node hold packets — and their memory — for an hour each. The bound is the Exp(µ) quantile at
 * 1 − MAX_DELAY_TAIL: an honest sender exceeds it with probability 10⁻⁶ per hop, and clients never do
 * (they redraw such a sample, so their delays are Exp(µ) truncated at the bound: the distribution the
 * anonymity analysis assumes, up to a 10⁻⁶ tail). At µ = 2/s it is 6.9 s.
 *
 * The directory publishes the bound in the topology document (`maxDelayUs`, signed); nodes drop a packet
 * asking for more as `excessive_delay`; a node config may state it (`params.maxDelayMs`) for networks whose
 * document predates the field.
 */
import type { SignedTopology } from './topology/types.js';

/** Probability that an Exp(µ) delay exceeds the bound. */
export const MAX_DELAY_TAIL = 1e-6;
/** The header's delay field is a uint32 of microseconds. */
const HEADER_MAX_DELAY_US = 0xffff_ffff;

/** The Exp(µ) quantile at 1 − tail, whole µs: −ln(tail) / µ seconds. µ in 1/s. */
export function maxDelayUsFor(mu: number, tail: number = MAX_DELAY_TAIL): number {
  return Math.min(HEADER_MAX_DELAY_US, Math.ceil((-Math.log(tail) / mu) * 1e6));
}

/**
 * The bound in force: the topology's published one, else the config's `maxDelayMs`, else derived from µ.
 */
export function effectiveMaxDelayUs(
  doc: Pick<SignedTopology, 'maxDelayUs'> | undefined,
  mu: number,
  configMaxDelayMs?: number,
): number {
  if (doc?.maxDelayUs !== undefined) return doc.maxDelayUs;
  if (configMaxDelayMs !== undefined) return Math.min(HEADER_MAX_DELAY_US, Math.round(configMaxDelayMs * 1000));
  return maxDelayUsFor(mu);
}
