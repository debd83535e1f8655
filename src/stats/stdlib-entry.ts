/**
 * The @stdlib functions loopix uses, in one place: the entry of the start-up bundle (src/stats/stdlib.ts says
 * why it exists). Add a function here, and to nothing else, when a module needs one more.
 */
export { default as binomialCdf } from '@stdlib/stats-base-dists-binomial-cdf';
export { default as chi2gof } from '@stdlib/stats-chi2gof';
export { default as gammaPdf } from '@stdlib/stats-base-dists-gamma-pdf';
export { default as gammainc } from '@stdlib/math-base-special-gammainc';
export { default as kstest } from '@stdlib/stats-kstest';
export { default as poissonPmf } from '@stdlib/stats-base-dists-poisson-pmf';
