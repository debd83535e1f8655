/**
 * The sender's side of the key schedule along a whole path (docs/packet-format.md §5.1): α_i, and the keys
 * every hop i will derive, computed with one fixed-base and one variable-base multiplication per hop.
 *
 * Why a module of its own: packets and SURBs build their headers from the same per-hop secrets.
 */
import { UnliftableScalarError } from '../../errors.js';
import type { Geometry } from '../../geometry.js';
import type { HopSpec } from '../types.js';
import { headerKeys, hopPrk, payloadKeys, type HeaderKeys } from './keys.js';
import { isAllZero, wipe } from './primitives.js';
import { initialExponent, lift, nextExponent } from './scalar.js';
import { mulBase, mulPublic } from './group.js';

/** Creation failed for a reason the caller fixes by drawing a new seed (probability ≈ 2⁻¹²⁵). */
export { UnliftableScalarError };

/** What the sender knows about hop i of its path. */
export interface HopSecrets extends HeaderKeys {
  /** α_i, the group element hop i receives. */
  readonly alpha: Uint8Array;
  /** pi_i, the LIONESS key of hop i. */
  readonly pi: Uint8Array;
}

/**
 * Derives α_i, rho_i, mu_i and pi_i for every hop.
 *
 * 1. e_0 = clamp(x) mod ℓ.
 * 2. For each hop i: k_i = lift(e_i); α_i = X25519(k_i, 9); s_i = X25519(k_i, Y_i).
 * 3. keys_i = key schedule of §3 from (α_i, s_i).
 * 4. e_{i+1} = e_i · clamp(b_i) mod ℓ.
 */
export function derivePathSecrets(g: Geometry, hops: readonly HopSpec[], x: Uint8Array): HopSecrets[] {
  let e = initialExponent(x); // 1.
  const out: HopSecrets[] = [];
  for (let i = 0; i < hops.length; i++) {
    // 2.
    const k = lift(e);
    if (k === null) {
      wipe(...out.flatMap((h) => [h.rho, h.mu, h.pi]));
      throw new UnliftableScalarError();
    }
    const alpha = mulBase(k);
    const s = mulPublic(k, hops[i]!.publicKey);
    wipe(k);
    if (isAllZero(s)) {
      wipe(...out.flatMap((h) => [h.rho, h.mu, h.pi]));
      throw new RangeError(`hops[${i}].publicKey is a point of small order (all-zero shared secret)`);
    }
    // 3.
    const prk = hopPrk(alpha, s);
    const { rho, mu } = headerKeys(prk);
    const { pi, b } = payloadKeys(g, prk);
    wipe(s, prk);
    out.push({ alpha, rho, mu, pi });
    // 4.
    e = nextExponent(e, b);
    wipe(b);
  }
  return out;
}
