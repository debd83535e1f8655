/**
 * The machine baseline the CI gate compares against: the native addon's own X25519 rate on one core, i.e.
 * the OpenSSL build inside Node that the node really runs on, measured in the same run as the quantity under
 * test. The system `openssl speed ecdhx25519` figure is reported beside it but no longer gates anything: the
 * system binary is a different OpenSSL build (version, assembly, CPU dispatch) whose speed relative to Node's
 * moves from host to host (on an AMD EPYC host it ran 1.4× faster than the addon, on a Xeon 1.0×), so ratios
 * against it did not carry over between hosts.
 */
import { loadNativeBackend } from '../src/sphinx/native.js';

/**
 * Variable-base X25519 multiplications per second on this thread (the operation an unwrap does twice):
 * median of 5 timed slices of `seconds / 5` each, after a warm-up.
 */
export function measureAddonX25519(seconds: number): number {
  const b = loadNativeBackend();
  const scalar = crypto.getRandomValues(new Uint8Array(32));
  let point = b.x25519Base(crypto.getRandomValues(new Uint8Array(32)));
  // Each result feeds the next call so no iteration can be skipped or hoisted.
  const one = () => {
    point = b.x25519(scalar, point);
  };
  for (let k = 0; k < 200; k++) one();
  const rates: number[] = [];
  for (let s = 0; s < 5; s++) {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < (seconds * 1000) / 5) {
      for (let k = 0; k < 16; k++) one();
      n += 16;
    }
    rates.push((n * 1000) / (performance.now() - t0));
  }
  rates.sort((a, c) => a - c);
  return rates[2]!;
}
