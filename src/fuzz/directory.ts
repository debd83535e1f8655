/**
 * The directory target: an authority's checks of uploaded descriptors and loop reports
 * (src/directory/descriptor.ts checkDescriptor, src/directory/report.ts checkReport) on mutated signed
 * objects, with fixed identity keys so that stored inputs replay.
 *
 * Crashes: any exception but a LoopixError; a mutated object that is accepted although its signed content
 * (canonicalJson of the body) or its signature changed; the unchanged object refused.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { DEFAULT_GEOMETRY_PARAMS } from '../geometry.js';
import { isLoopixError } from '../errors.js';
import { canonicalJson } from '../topology/document.js';
import { checkDescriptor } from '../directory/descriptor.js';
import { checkReport } from '../directory/report.js';
import { nodeIdFor, signObject, type IdentityKey } from '../directory/identity.js';
import { DEFAULT_ISOLATION } from '../directory/config.js';
import type { FuzzTarget } from './harness.js';
import { mutateJson } from './json-mutate.js';
import { mutateBytes, type Rng } from './rng.js';

export function identityFromSeed(seed: number): IdentityKey {
  const secret = new Uint8Array(32).fill(seed);
  return {
    publicKey: Buffer.from(ed25519.getPublicKey(secret)).toString('hex'),
    privateKey: Buffer.from(secret).toString('hex'),
  };
}

export interface DirectoryInput {
  readonly kind: 'descriptor' | 'report';
  readonly object: unknown;
}

export function directoryTarget(): FuzzTarget<DirectoryInput> {
  const A = DEFAULT_GEOMETRY_PARAMS.addressBytes;
  const node = identityFromSeed(0x31);
  const peer = identityFromSeed(0x32);
  const id = nodeIdFor(node.publicKey, A);
  const peerId = nodeIdFor(peer.publicKey, A);
  const registered = new Map([
    [node.publicKey, 'mix-1.0'],
    [peer.publicKey, 'mix-2.0'],
  ]);
  const descriptorBody = {
    version: 1 as const,
    identityKey: node.publicKey,
    id,
    name: 'mix-1.0',
    role: 'mix' as const,
    layer: 1,
    udp: { host: '127.0.0.1', port: 9001 },
    keys: [
      { epoch: 7, publicKey: '42'.repeat(32) },
      { epoch: 8, publicKey: '43'.repeat(32) },
    ],
    issuedAtMs: 1_700_000_000_000,
  };
  const reportBody = {
    version: 1 as const,
    epoch: 7,
    reporterKey: node.publicKey,
    link: { from: id, to: peerId },
    due: 60,
    returned: 30,
    issuedAtMs: 1_700_000_000_000,
  };
  const originals = {
    descriptor: { body: descriptorBody, signature: signObject('descriptor', descriptorBody, node) },
    report: { body: reportBody, signature: signObject('report', reportBody, node) },
  };
  const rules = {
    registered,
    addressBytes: A,
    layers: 3,
    isolation: DEFAULT_ISOLATION,
    knownIds: new Set([id, peerId]),
    epochs: { min: 6, max: 8 },
  };

  const unchanged = (kind: DirectoryInput['kind'], o: unknown): boolean => {
    const x = o as { body?: unknown; signature?: unknown } | null;
    return (
      !!x &&
      typeof x === 'object' &&
      canonicalJson(x.body) === canonicalJson(originals[kind].body) &&
      x.signature === originals[kind].signature &&
      Object.keys(x).length === 2
    );
  };

  function generate(r: Rng): DirectoryInput {
    const kind = r.chance(0.5) ? 'descriptor' : 'report';
    const original = originals[kind];
    if (r.int(8) === 0) {
      const signature = Buffer.from(mutateBytes(r, Buffer.from(original.signature))).toString('latin1');
      return { kind, object: { ...original, signature } };
    }
    return { kind, object: mutateJson(r, original) };
  }

  function check(input: DirectoryInput): string {
    const object = JSON.parse(JSON.stringify(input.object ?? null)) as unknown;
    const same = unchanged(input.kind, object);
    try {
      if (input.kind === 'descriptor') checkDescriptor(object, rules);
      else checkReport(object, rules);
    } catch (err) {
      if (!isLoopixError(err)) throw err;
      if (same) throw new Error(`the unchanged ${input.kind} was refused: ${err.message}`);
      return `refused:${err.code.replace('ERR_LOOPIX_DIRECTORY_', '')}:${(err.field ?? '?').replace(/\.\d+/g, '[]')}`;
    }
    if (!same) throw new Error(`a changed ${input.kind} was accepted`);
    return 'accepted';
  }

  return {
    name: 'directory-objects',
    share: 0.04,
    generate,
    check,
    toJson: (i) => i,
    fromJson: (j) => {
      const o = j as Partial<DirectoryInput>;
      if (!o || (o.kind !== 'descriptor' && o.kind !== 'report'))
        throw new TypeError('kind must be "descriptor" or "report"');
      return { kind: o.kind, object: o.object };
    },
  };
}
