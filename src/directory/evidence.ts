/**
 * The statistical test behind a loop report (AnonPoP §5.2 over Loopix §4.2.1 loops): a link is reported only
 * when its loops' return count rejects "this link returns at least the fraction p0 an honest link keeps"
 * with the one-sided exact binomial test at level α, on at least `minDue` due loops:
 *
 *   p-value = P[X ≤ returned | X ~ Binomial(due, p0)] < α.
 *
 * One lost loop can never cause a report (minDue ≥ 5, and P[X ≤ due − 1] ≥ 1 − due(1 − p0)... is near 1).
 * An honest link whose true return fraction is ≥ p0 is reported with probability < α per test; the node tests
 * each link at most once per epoch, so a network of m links sees fewer than m·α false reports per epoch, and
 * exclusion needs more than f distinct reporters (src/directory/isolation.ts).
 *
 * Binomial CDF: @stdlib/stats-base-dists-binomial-cdf (exact, stable for large n).
 */
import { binomialCdf } from '../stats/stdlib.js';
import type { IsolationParams } from './schemas.js';

/** The one-sided p-value of `returned` of `due` under Binomial(due, p0). */
export function lossPValue(due: number, returned: number, p0: number): number {
  if (due <= 0) return 1;
  return binomialCdf(Math.min(returned, due), due, p0);
}

/** Whether (due, returned) is evidence enough for a report under the document's parameters. */
export function isReportable(
  due: number,
  returned: number,
  p: Pick<IsolationParams, 'expectedFraction' | 'alpha' | 'minDue'>,
): boolean {
  return due >= p.minDue && returned <= due && lossPValue(due, returned, p.expectedFraction) < p.alpha;
}
