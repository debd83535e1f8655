/**
 * The epoch document of the directory authorities (src/directory/): deterministic building, k-of-n
 * verification and every refusal a client or node must make, descriptor and report checks at the authority,
 * and bad-server isolation's counting rule (AnonPoP §5.2, Claim 4) — in process, with real Ed25519 keys.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_ISOLATION } from '../src/directory/config.js';
import { checkDescriptor, signDescriptor } from '../src/directory/descriptor.js';
import { verifyDirectoryDocument, type DirectoryTrust } from '../src/directory/document.js';
import { isReportable, lossPValue } from '../src/directory/evidence.js';
import { generateIdentityKey } from '../src/directory/identity.js';
import { computeIsolation } from '../src/directory/isolation.js';
import { uniformValidPath } from '../src/directory/paths.js';
import { signReport } from '../src/directory/report.js';
import { linksToReport } from '../src/directory/reporter.js';
import type { ReportBody } from '../src/directory/schemas.js';
import { TopologyIndex } from '../src/topology/document.js';
import type { NodeEntry } from '../src/topology/types.js';
import { descriptorOf, GEOMETRY, inProcessNetwork, NETWORK_GENESIS_MS, publishEpoch } from './directory-fixtures.js';
import { codeOf } from './helpers/errors.js';

const GENESIS = NETWORK_GENESIS_MS;

/** Three in-process authorities that all hold the same descriptors, at `now`. */
const network = (o: { isolation?: object } = {}) => inProcessNetwork({ perLayer: 2, epochs: 6, ...o });
const publish = publishEpoch;

describe('epoch document', () => {
  it('is built to the same bytes by authorities that received the descriptors in different orders, and collects their signatures', () => {
    const net = network();
    const ds = net.nodes.map((n) => descriptorOf(n));
    net.authorities[0]!.mergePeer({ descriptors: ds, reports: [], signatures: [] });
    net.authorities[1]!.mergePeer({ descriptors: [...ds].reverse(), reports: [], signatures: [] });
    for (const d of [...ds].sort(() => 0.5 - Math.random())) net.authorities[2]!.acceptDescriptor(d);
    const doc = publish(net, 6);
    expect(doc.signatures).toHaveLength(3);
    expect(doc.nodes).toHaveLength(net.nodes.length);
    const docs = net.authorities.map((a) => new TopologyIndex(a.document(6)!).fingerprint);
    expect(new Set(docs).size).toBe(1);
    const index = new TopologyIndex(verifyDirectoryDocument(doc, net.trust));
    const mix = net.nodes.find((n) => n.role === 'mix')!;
    expect(index.node(mix.id)!.publicKey).toBe(mix.keys.get(6));
    expect(index.node(mix.id)!.nextPublicKey).toBe(mix.keys.get(7));
  });

  it('is valid with k of n signatures and refused with k − 1, with a signature over other bytes, from an old epoch, or with a node id not derived from its key', () => {
    const net = network();
    for (const a of net.authorities)
      a.mergePeer({ descriptors: net.nodes.map((n) => descriptorOf(n)), reports: [], signatures: [] });
    const doc = publish(net, 6);
    const trust: DirectoryTrust = net.trust;
    const two = { ...doc, signatures: doc.signatures.slice(0, 2) };
    expect(codeOf(() => verifyDirectoryDocument(two, trust))).toBe('accepted');
    expect(codeOf(() => verifyDirectoryDocument({ ...doc, signatures: doc.signatures.slice(0, 1) }, trust))).toBe(
      'ERR_LOOPIX_DIRECTORY_QUORUM',
    );
    // A signature of an authority nobody trusts neither counts nor harms.
    const stranger = generateIdentityKey();
    expect(
      codeOf(() =>
        verifyDirectoryDocument(
          {
            ...doc,
            signatures: [doc.signatures[0]!, { publicKey: stranger.publicKey, value: doc.signatures[1]!.value }],
          },
          trust,
        ),
      ),
    ).toBe('ERR_LOOPIX_DIRECTORY_QUORUM');
    // Two authorities' signatures over the epoch-7 document do not make the epoch-6 document valid.
    const other = publish(net, 7);
    const mixed = { ...doc, signatures: [doc.signatures[0]!, ...other.signatures.slice(1, 2)] };
    expect(codeOf(() => verifyDirectoryDocument(mixed, trust))).toBe('ERR_LOOPIX_DIRECTORY_BAD_SIGNATURE');
    // Changing one byte of the content after signing.
    const changed = {
      ...two,
      nodes: two.nodes.map((n, i) => (i === 0 ? { ...n, udp: { host: '10.0.0.1', port: n.udp.port } } : n)),
    };
    expect(codeOf(() => verifyDirectoryDocument(changed, trust))).toBe('ERR_LOOPIX_DIRECTORY_BAD_SIGNATURE');
    expect(codeOf(() => verifyDirectoryDocument(doc, trust, { minEpoch: 7 }))).toBe('ERR_LOOPIX_DIRECTORY_OLD_EPOCH');
  });

  it('lists no node whose descriptor was signed by the wrong identity key: the authority refuses it with a reason', () => {
    const net = network();
    const [a, b] = net.nodes;
    const forged = signDescriptor(descriptorOf(a!).body, b!.identity); // a's descriptor, b's signature
    const rules = {
      registered: new Map(net.nodes.map((n) => [n.identity.publicKey, n.name])),
      addressBytes: GEOMETRY.addressBytes,
      layers: 2,
    };
    expect(codeOf(() => checkDescriptor(forged, rules))).toBe('ERR_LOOPIX_DIRECTORY_SIGNATURE');
    expect(codeOf(() => net.authorities[0]!.acceptDescriptor(forged))).toBe('ERR_LOOPIX_DIRECTORY_SIGNATURE');
    const stranger = { ...a!, identity: generateIdentityKey() };
    expect(codeOf(() => checkDescriptor(descriptorOf(stranger), rules))).toBe('ERR_LOOPIX_DIRECTORY_UNKNOWN_NODE');
    const wrongId = signDescriptor({ ...descriptorOf(a!).body, id: b!.id }, a!.identity);
    expect(codeOf(() => checkDescriptor(wrongId, rules))).toBe('ERR_LOOPIX_DIRECTORY_NODE_ID');
    expect(net.authorities[0]!.syncPayload().descriptors).toHaveLength(0);
  });
});

describe('loop reports and isolation (AnonPoP §5.2)', () => {
  const p = DEFAULT_ISOLATION;

  it('never reports from a single lost loop, and reports a 30 % loss once the one-sided test rejects at α', () => {
    expect(isReportable(1, 0, p)).toBe(false);
    expect(isReportable(20, 19, p)).toBe(false);
    expect(isReportable(100, 97, p)).toBe(false);
    expect(isReportable(40, 28, p)).toBe(true); // 70 % returned
    expect(lossPValue(40, 28, p.expectedFraction)).toBeLessThan(p.alpha);
  });

  it('blames the next hop only when its loops fail more than those over the other next hops, never with a single next hop', () => {
    // Loss further down the path: every first hop sees it alike.
    expect(linksToReport('s', { 's>a': { due: 60, returned: 42 }, 's>b': { due: 60, returned: 43 } }, p)).toEqual([]);
    // A single next hop: no comparison, no report (it cannot tell its next hop from the rest of the path).
    expect(linksToReport('s', { 's>a': { due: 60, returned: 10 } }, p)).toEqual([]);
    // Loss at a: only a.
    expect(
      linksToReport(
        's',
        { 's>a': { due: 60, returned: 40 }, 's>b': { due: 60, returned: 60 }, 'x>s': { due: 60, returned: 0 } },
        p,
      ),
    ).toEqual([{ to: 'a', due: 60, returned: 40 }]);
  });

  const report = (from: string, to: string, epoch: number): ReportBody => ({
    version: 1,
    epoch,
    reporterKey: '00'.repeat(32),
    link: { from, to },
    due: 60,
    returned: 30,
    issuedAtMs: 0,
  });

  it('f colluding reporters cannot exclude an honest node: they only remove their own links; f + 1 distinct reporters exclude it', () => {
    const known = new Set(['h', 'c1', 'c2', 'c3']);
    const f2 = { ...p, f: 2 };
    const two = computeIsolation(10, [report('c1', 'h', 8), report('c2', 'h', 8), report('c1', 'h', 7)], f2, known);
    expect(two.excluded).toEqual([]);
    expect(two.removedLinks).toEqual([
      { from: 'c1', to: 'h' },
      { from: 'c2', to: 'h' },
    ]);
    const three = computeIsolation(10, [report('c1', 'h', 8), report('c2', 'h', 8), report('c3', 'h', 8)], f2, known);
    expect(three.excluded).toEqual(['h']);
  });

  it('counts a report filed in epoch X in the documents of X + 2 .. X + 1 + ttl', () => {
    const known = new Set(['a', 'b']);
    const q = { ...p, f: 0, ttlEpochs: 3 };
    expect(computeIsolation(9, [report('a', 'b', 8)], q, known).excluded).toEqual([]);
    expect(computeIsolation(10, [report('a', 'b', 8)], q, known).excluded).toEqual(['b']);
    expect(computeIsolation(12, [report('a', 'b', 8)], q, known).excluded).toEqual(['b']);
    expect(computeIsolation(13, [report('a', 'b', 8)], q, known).excluded).toEqual([]);
  });

  it("an authority refuses a report with weak evidence, about another node's link, or from an unregistered key; the published document removes the reported links", () => {
    const net = network({ isolation: { f: 2 } });
    for (const a of net.authorities)
      a.mergePeer({ descriptors: net.nodes.map((n) => descriptorOf(n)), reports: [], signatures: [] });
    const [p0, p1] = net.nodes.filter((n) => n.role === 'provider');
    const honest = net.nodes.find((n) => n.layer === 1)!;
    net.setNow(GENESIS + 1000); // epoch 5
    const r = (from: typeof p0, to: string, due: number, returned: number, key = from!.identity) =>
      signReport(
        {
          version: 1,
          epoch: 5,
          reporterKey: key.publicKey,
          link: { from: from!.id, to },
          due,
          returned,
          issuedAtMs: Date.now(),
        },
        key,
      );
    expect(codeOf(() => net.authorities[0]!.acceptReport(r(p0, honest.id, 60, 58)))).toBe(
      'ERR_LOOPIX_DIRECTORY_EVIDENCE',
    );
    expect(codeOf(() => net.authorities[0]!.acceptReport(r(p0, honest.id, 1, 0)))).toBe(
      'ERR_LOOPIX_DIRECTORY_EVIDENCE',
    );
    expect(
      codeOf(() =>
        net.authorities[0]!.acceptReport({
          ...r(p1, honest.id, 60, 30),
          body: { ...r(p1, honest.id, 60, 30).body, reporterKey: p0!.identity.publicKey },
        }),
      ),
    ).toBe('ERR_LOOPIX_DIRECTORY_SIGNATURE');
    expect(codeOf(() => net.authorities[0]!.acceptReport(r(p0, honest.id, 60, 30, generateIdentityKey())))).toBe(
      'ERR_LOOPIX_DIRECTORY_UNKNOWN_NODE',
    );
    expect(net.authorities[0]!.syncPayload().reports).toHaveLength(0);
    // Two colluding providers (f = 2) file valid-looking false reports against an honest mix.
    for (const from of [p0, p1]) for (const a of net.authorities) a.acceptReport(r(from, honest.id, 60, 30));
    const doc = verifyDirectoryDocument(publish(net, 7), net.trust);
    expect(doc.directory.excluded).toEqual([]);
    expect(doc.directory.removedLinks).toHaveLength(2);
    const index = new TopologyIndex(doc);
    expect(index.usable(p0!.id, honest.id)).toBe(false);
    expect(index.usable(honest.id, p0!.id)).toBe(true);
  });
});

describe('uniform path choice around removed links and excluded nodes', () => {
  const n = (id: string, layer: number): NodeEntry => ({
    id,
    name: id,
    role: layer === 0 ? 'provider' : 'mix',
    layer,
    udp: { host: 'h', port: 1 },
    publicKey: '00'.repeat(32),
  });
  it('picks every valid path equally often and never an invalid one', () => {
    const P = n('P', 0),
      a1 = n('a1', 1),
      a2 = n('a2', 1),
      b1 = n('b1', 2),
      b2 = n('b2', 2),
      b3 = n('b3', 2);
    const removed = new Set(['a1>b1', 'a1>b2']);
    const usable = (x: string, y: string) => !removed.has(`${x}>${y}`) && y !== 'b3x';
    // Valid: P a1 b3, P a2 b1, P a2 b2, P a2 b3 (4 paths; a1 has 1 completion, a2 has 3).
    const counts = new Map<string, number>();
    let seed = 1;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const N = 40_000;
    for (let i = 0; i < N; i++) {
      const path = uniformValidPath([[P], [a1, a2], [b1, b2, b3]], usable, random)!;
      const key = path.map((x) => x.id).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['P a1 b3', 'P a2 b1', 'P a2 b2', 'P a2 b3']);
    for (const c of counts.values()) expect(Math.abs(c / N - 0.25)).toBeLessThan(0.015);
    expect(uniformValidPath([[P], [a1], [b1]], usable, random)).toBeNull();
  });
});
