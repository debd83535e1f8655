/**
 * The `loopix` command as a user runs it: real child processes of bin/loopix.js (compiled by `npm install`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { native } from './helpers/backends.js';

const BIN = fileURLToPath(new URL('../bin/loopix.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
const lastLine = (s: string) => s.trim().split('\n').at(-1)!;

describe('loopix CLI', () => {
  it('selftest reports the native backend after its known-answer check', () => {
    const r = run('selftest');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/sphinx: native backend passed its self-check, X25519 via openssl-/);
  });

  it('keygen prints an X25519 key pair whose public key matches its private key', () => {
    const pair = JSON.parse(execFileSync(process.execPath, [BIN, 'keygen'], { encoding: 'utf8' })) as {
      publicKey: string;
      privateKey: string;
    };
    expect(Buffer.from(native.x25519Base(Buffer.from(pair.privateKey, 'hex'))).toString('hex')).toBe(pair.publicKey);
  });

  it('bench sphinx --json ends with one JSON object carrying every documented field', () => {
    const r = run('bench', 'sphinx', '--json', '--seconds', '0.1', '--openssl-seconds', '1', '--batch', '8');
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(lastLine(r.stdout)) as Record<string, unknown>;
    for (const key of [
      'unwrap_per_s',
      'unwrap_batch_per_s',
      'create_per_s',
      'ts_unwrap_per_s',
      'ts_create_per_s',
      'packet_bytes',
      'payload_bytes',
      'hops',
    ]) {
      expect(result[key], key).toBeGreaterThan(0);
    }
    expect(result.packet_bytes).toBe(1314);
  });

  it('fuzz ends with the plain line "fuzz: N inputs, 0 crashes"', () => {
    const r = run('fuzz', '--iterations', '3000', '--seed', '7');
    expect(r.status, r.stderr).toBe(0);
    // 3000 generated inputs, plus the corpus (test/fuzz-corpus) replayed first.
    const m = /^fuzz: (\d+) inputs, 0 crashes/.exec(lastLine(r.stdout));
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(3000);
  });

  it('rejects a bad option value with a message naming the option', () => {
    const r = run('bench', 'sphinx', '--seconds', '-1');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--seconds must be a positive number, got "-1"/);
  });
});
