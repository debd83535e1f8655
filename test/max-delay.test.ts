/**
 * The per-hop delay bound (src/max-delay.ts): derived from µ, published in the topology, honoured by the
 * client's delay sampler and refused by the topology parser when malformed.
 */
import { describe, expect, it } from 'vitest';
import { sampleDelayUs } from '../src/client/routes.js';
import { MAX_DELAY_TAIL, effectiveMaxDelayUs, maxDelayUsFor } from '../src/max-delay.js';

describe('per-hop delay bound', () => {
  it('is the Exp(µ) quantile at 1 − 10⁻⁶', () => {
    expect(MAX_DELAY_TAIL).toBe(1e-6);
    expect(maxDelayUsFor(2)).toBe(Math.ceil((Math.log(1e6) / 2) * 1e6));
    expect(maxDelayUsFor(1e-6)).toBe(0xffff_ffff); // clamped to the header field
  });

  it('prefers the published bound, then the config, then µ', () => {
    expect(effectiveMaxDelayUs({ maxDelayUs: 1234 }, 2, 50)).toBe(1234);
    expect(effectiveMaxDelayUs({}, 2, 50)).toBe(50_000);
    expect(effectiveMaxDelayUs(undefined, 2)).toBe(maxDelayUsFor(2));
  });

  it('never lets a client draw a delay above the bound (a larger draw is redrawn)', () => {
    // A source whose first draws are tiny uniforms (huge Exp samples), then ordinary ones.
    let n = 0;
    const random = () => (n++ < 5 ? 1e-300 : 0.5);
    const us = sampleDelayUs(2, random, 1_000_000);
    expect(us).toBeLessThanOrEqual(1_000_000);
    expect(n).toBeGreaterThan(5);
    for (let i = 0; i < 10_000; i++) expect(sampleDelayUs(2, undefined, 100_000)).toBeLessThanOrEqual(100_000);
  });
});
