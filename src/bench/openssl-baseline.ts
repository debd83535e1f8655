/**
 * The machine baseline every benchmark ratio is taken against: `openssl speed -seconds N ecdhx25519`, run in
 * the same process tree right before the measurement, because absolute speeds on shared cloud hosts drift by
 * ±25 % between runs while the ratio to OpenSSL's own X25519 stays put.
 */
import { spawnSync } from 'node:child_process';

export interface OpensslBaseline {
  /** X25519 derive operations per second as openssl reports them; null when openssl is not installed. */
  readonly x25519PerS: number | null;
  readonly version: string | null;
}

export function measureOpensslX25519(seconds = 3): OpensslBaseline {
  const speed = spawnSync('openssl', ['speed', '-seconds', String(seconds), 'ecdhx25519'], { encoding: 'utf8' });
  if (speed.error || speed.status !== 0) return { x25519PerS: null, version: null };
  // The result line looks like: " 253 bits ecdh (X25519)   0.0000s  26690.7"
  const line = speed.stdout.split('\n').find((l) => /\(X25519\)/.test(l));
  const value = line ? Number(line.trim().split(/\s+/).at(-1)) : NaN;
  const version = spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout?.trim() ?? null;
  return { x25519PerS: Number.isFinite(value) ? value : null, version };
}
