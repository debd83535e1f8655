/**
 * The machine baseline the CI gate compares against: the native addon's own X25519 rate on one core, i.e.
 * the OpenSSL build inside Node that the node really runs on, measured in the same run as the quantity under
 * test. The system `openssl speed ecdhx25519` figure is reported beside it but no longer gates anything: the
 * system binary is a different OpenSSL build (version, assembly, CPU dispatch) whose speed relative to Node's
 * moves from host to host (on an AMD EPYC host it ran 1.4× faster than the addon, on a Xeon 1.0×), so ratios
 * against it did not carry over between hosts.
 */
import { loadNativeBackend } from '../sphinx/native.js';

/** The rate of `op` on this thread over one slice of `ms` milliseconds, ops/s (`op` runs `batch` at a time). */
export function sliceRate(op: () => void, ms: number, batch: number): number {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    for (let k = 0; k < batch; k++) op();
    n += batch;
  }
  return (n * 1000) / (performance.now() - t0);
}

/** One variable-base X25519 multiplication per call; each result feeds the next, so none can be skipped. */
export function x25519Op(): () => void {
  const b = loadNativeBackend();
  const scalar = crypto.getRandomValues(new Uint8Array(32));
  let point = b.x25519Base(crypto.getRandomValues(new Uint8Array(32)));
  return () => {
    point = b.x25519(scalar, point);
  };
}

/**
 * Variable-base X25519 multiplications per second on this thread (the operation an unwrap does twice):
 * median of 5 timed slices of `seconds / 5` each, after a warm-up.
 */
export function measureAddonX25519(seconds: number): number {
  const one = x25519Op();
  for (let k = 0; k < 200; k++) one();
  const rates = Array.from({ length: 5 }, () => sliceRate(one, (seconds * 1000) / 5, 16));
  rates.sort((a, c) => a - c);
  return rates[2]!;
}
