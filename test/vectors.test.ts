/** Our own Sphinx vectors (test/vectors/sphinx-v1.json, from test/vectors/generate.ts) against both implementations. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { selfCheck, SELFTEST_PACKET_DIGEST, selfTestDigest, selfTestPacket } from '../src/sphinx/selftest.js';
import { BACKENDS } from './helpers/backends.js';
import { trace } from './vectors/cases.js';

const file = JSON.parse(readFileSync(new URL('./vectors/sphinx-v1.json', import.meta.url), 'utf8')) as {
  cases: { name: string }[];
};

describe.each(BACKENDS.map((b) => [b.name, b] as const))('%s backend', (_name, b) => {
  it('reproduces every committed Sphinx vector byte for byte, hop by hop', () => {
    const ours = trace(b);
    expect(ours.map((c) => c.name)).toEqual(file.cases.map((c) => c.name));
    for (let i = 0; i < ours.length; i++) expect(ours[i]).toEqual(file.cases[i]);
  });

  it('builds the pinned start-up self-test packet and passes the loader self-check', () => {
    expect(selfTestDigest(b, selfTestPacket(b))).toBe(SELFTEST_PACKET_DIGEST);
    expect(() => selfCheck(b)).not.toThrow();
  });
});
