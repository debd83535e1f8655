/**
 * A node whose clock disagrees with the topology by more than the grace window refuses to start and says why
 * (src/node/clock.ts), instead of taking the live key epochs for expired ones and deleting their replay
 * filters. The skew is produced the only way a test can without changing the host clock: a correctly signed
 * topology whose time is an hour away from ours.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkClock } from '../src/node/clock.js';
import { signTopology, TopologyIndex } from '../src/topology/document.js';
import { native } from './helpers/backends.js';
import { codeOf } from './helpers/errors.js';
import { makeNetwork, type TestNetwork } from './node-fixture.js';

const BIN = fileURLToPath(new URL('../bin/loopix.js', import.meta.url));
const HOUR = 3_600_000;
const GRACE_S = 60;

let net: TestNetwork;
beforeAll(async () => {
  net = await makeNetwork(native, { layers: 1, perLayer: 1 });
});
afterAll(() => net?.cleanup());

/** The network's topology re-signed with other times. */
function topology(over: Record<string, unknown>): TopologyIndex {
  const { signature: _s, ...body } = net.topology;
  return new TopologyIndex(signTopology({ ...body, ...over }, net.authority));
}

describe('clock check at start-up', () => {
  it('accepts a clock within the grace window of the topology, and refuses one behind or ahead of it', () => {
    const now = Date.now();
    const epochLengthS = 600;
    // A rotating document for epoch 40 that began 5 minutes ago: its keys cover [now − 5 min, now + 15 min).
    const rotating = topology({
      epoch: 40,
      epochLengthS,
      epochStartMs: now - 300_000,
      issuedAt: new Date(now - 300_000).toISOString(),
    });
    expect(codeOf(() => checkClock(rotating, now, GRACE_S, 't'))).toBe('accepted');
    expect(codeOf(() => checkClock(rotating, now - 300_000 - (GRACE_S - 1) * 1000, GRACE_S, 't'))).toBe('accepted');
    expect(codeOf(() => checkClock(rotating, now - HOUR, GRACE_S, 't'))).toBe('ERR_LOOPIX_CLOCK_SKEW'); // behind
    expect(codeOf(() => checkClock(rotating, now + HOUR, GRACE_S, 't'))).toBe('ERR_LOOPIX_CLOCK_SKEW'); // ahead
    // Static keys: only "behind the document" is measurable.
    const fixed = topology({ issuedAt: new Date(now + HOUR).toISOString() });
    expect(codeOf(() => checkClock(fixed, now, GRACE_S, 't'))).toBe('ERR_LOOPIX_CLOCK_SKEW');
    expect(codeOf(() => checkClock(fixed, now + HOUR, GRACE_S, 't'))).toBe('accepted');
  });

  it('a real `loopix mix` whose clock is an hour behind the topology exits 2 and says so', () => {
    const doc = topology({ issuedAt: new Date(Date.now() + HOUR).toISOString() }).doc;
    const file = `${net.topologyFile}.skewed.json`;
    writeFileSync(file, JSON.stringify(doc, null, 2));
    const config = net.writeConfig('mix-1.0', { topologyFile: file, epochs: { graceS: GRACE_S } });
    const r = spawnSync(process.execPath, [BIN, 'mix', '--config', config], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/clock .* behind the topology/);
  });
});
