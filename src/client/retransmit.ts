/**
 * How long a sender waits for a fragment's acknowledgement before sending it again (docs/pipeline.md "The
 * client", "Retransmission"). The expected round trip of a fragment and its SURB-ack, in ms:
 *
 *   forward path   (l + 2) Exp(µ) holds (sender's provider, l mixes, recipient's provider) → (l + 2)/µ s
 *   + recipient's pull interval (the fragment waits in its provider's inbox for the next pull)
 *   + the ack's wait in the recipient's λP buffer: Exp(λP) per packet ahead of it; two slots → 2/λP s
 *   + ack path     (l + 2)/µ s again (the SURB's path has the same shape)
 *   + sender's pull interval
 *
 * A sum of 2(l + 2) Exp(µ) holds has standard deviation √(2(l+2))/µ, well under its mean, so twice the mean
 * is beyond the 99th percentile for l ≥ 1; a fixed 1 s and 250 ms per hop cover processing and the network.
 * Each further attempt waits `backoff` times longer, so a network that recovers after an outage is not
 * flooded with retransmissions while acks are still on their way.
 */
import type { NetworkParams } from '../config/schema.js';

export interface RetransmitPolicy {
  /** Timeout of the first attempt, ms (default: from the network parameters, see ackTimeoutMs). */
  readonly firstTimeoutMs?: number;
  /** Transmissions per fragment before send() rejects (default 10). */
  readonly maxAttempts?: number;
  /** Each attempt's timeout is this factor times the previous one (default 1.5). */
  readonly backoff?: number;
  /** Longest timeout of one attempt, ms (default 10 min). */
  readonly maxTimeoutMs?: number;
}

export const DEFAULT_MAX_ATTEMPTS = 10;
export const DEFAULT_BACKOFF = 1.5;
const PROCESSING_BASE_MS = 1000;
const PROCESSING_PER_HOP_MS = 250;

/** Expected fragment + ack round trip, ms, for a network of `layers` mix layers. */
export function expectedAckRoundTripMs(
  params: Pick<NetworkParams, 'mu' | 'lambdaP' | 'pullIntervalMs'>,
  layers: number,
): number {
  const holds = 2 * (layers + 2);
  return (holds / params.mu) * 1000 + 2 * params.pullIntervalMs + (2 / params.lambdaP) * 1000;
}

/** The timeout of attempt `attempt` (1-based), ms. */
export function ackTimeoutMs(
  params: Pick<NetworkParams, 'mu' | 'lambdaP' | 'pullIntervalMs'>,
  layers: number,
  attempt: number,
  policy: RetransmitPolicy = {},
): number {
  const first =
    policy.firstTimeoutMs ??
    2 * expectedAckRoundTripMs(params, layers) + PROCESSING_BASE_MS + PROCESSING_PER_HOP_MS * 2 * (layers + 2);
  const t = first * (policy.backoff ?? DEFAULT_BACKOFF) ** Math.max(0, attempt - 1);
  return Math.min(t, policy.maxTimeoutMs ?? 600_000);
}
