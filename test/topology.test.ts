/** Signed topology documents: real Ed25519 signatures, and refusal of anything altered or mis-signed. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalJson, generateAuthorityKey, signTopology, verifyTopology } from '../src/topology/document.js';
import type { TopologyBody } from '../src/topology/types.js';
import { expectLoopixError } from './helpers/errors.js';

const BIN = fileURLToPath(new URL('../bin/loopix.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'loopix-topology-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hex = (n: number, fill: string) => fill.repeat(n * 2);
function body(): TopologyBody {
  const node = (i: number, role: 'mix' | 'provider', layer: number) => ({
    id: hex(16, i.toString(16)),
    name: `n${i}`,
    role,
    layer,
    udp: { host: '127.0.0.1', port: 9000 + i },
    ...(role === 'provider' ? { ws: `ws://127.0.0.1:${9100 + i}` } : {}),
    publicKey: hex(32, 'a'),
  });
  return {
    version: 1,
    epoch: 4,
    issuedAt: '2026-11-21T00:00:00.000Z',
    geometry: { maxHops: 6, addressBytes: 16, contentBytes: 1024 },
    layers: 2,
    nodes: [node(1, 'provider', 0), node(2, 'mix', 1), node(3, 'mix', 2)],
  };
}

describe('topology documents', () => {
  const authority = generateAuthorityKey();

  it('verify when untouched, independent of key order (canonical JSON)', () => {
    const signed = signTopology(body(), authority);
    // The same fields in another order (signature first, keys reversed) still verify.
    const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(signed).reverse())));
    expect(verifyTopology(reordered, authority.publicKey).epoch).toBe(4);
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe('{"a":[2,{"c":4,"d":3}],"b":1}');
  });

  it('are refused when a field was altered, when signed by another authority, or when malformed', () => {
    const signed = signTopology(body(), authority);
    const altered = JSON.parse(JSON.stringify(signed));
    altered.nodes[1].udp.port = 6666;
    expectLoopixError(() => verifyTopology(altered, authority.publicKey), 'ERR_LOOPIX_TOPOLOGY_SIGNATURE', 'signature');
    const other = generateAuthorityKey();
    expectLoopixError(
      () => verifyTopology(signTopology(body(), other), authority.publicKey),
      'ERR_LOOPIX_TOPOLOGY_SIGNATURE',
      'signature.publicKey',
    );
    expectLoopixError(() => signTopology({ ...body(), layers: 3 }, authority), 'ERR_LOOPIX_TOPOLOGY_INVALID');
    expectLoopixError(
      () => signTopology({ ...body(), nodes: [{ ...body().nodes[0]!, id: 'zz' }] }, authority),
      'ERR_LOOPIX_TOPOLOGY_INVALID',
      'nodes[0].id',
    );
  });

  it('can be made with the CLI: authority keygen, topology sign, topology verify', { timeout: 120_000 }, () => {
    const keyFile = join(dir, 'authority.json');
    const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
    expect(run('authority', 'keygen', '--out', keyFile).status).toBe(0);
    const key = JSON.parse(readFileSync(keyFile, 'utf8')) as { publicKey: string };
    writeFileSync(join(dir, 'body.json'), JSON.stringify(body()));
    expect(
      run('topology', 'sign', '--authority', keyFile, '--in', join(dir, 'body.json'), '--out', join(dir, 't.json'))
        .status,
    ).toBe(0);
    const ok = run('topology', 'verify', '--authority-key', key.publicKey, '--in', join(dir, 't.json'));
    expect(ok.stdout).toMatch(/signature valid, epoch 4, 3 nodes/);
    const bad = run(
      'topology',
      'verify',
      '--authority-key',
      generateAuthorityKey().publicKey,
      '--in',
      join(dir, 't.json'),
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('ERR_LOOPIX_TOPOLOGY_SIGNATURE: ');
  });
});
