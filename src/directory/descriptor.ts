/**
 * Node descriptors: what a node tells the authorities about itself, signed with its identity key. One
 * descriptor carries the node's role, layer, addresses and its X25519 keys for a run of epochs (the current
 * and next ones at least); the latest (issuedAtMs, then signature) wins, so every authority that holds the
 * same set of descriptors picks the same one per node, in whatever order they arrived.
 */
import { LoopixError } from '../errors.js';
import { nodeIdFor, signObject, verifyObject, type IdentityKey } from './identity.js';
import { SignedDescriptorSchema, type DescriptorBody, type SignedDescriptor } from './schemas.js';

export function signDescriptor(body: DescriptorBody, key: IdentityKey): SignedDescriptor {
  return { body, signature: signObject('descriptor', body, key) };
}

/** Whether `a` replaces `b` (same node): later issuedAtMs, ties broken by the signature bytes. */
export function newerDescriptor(a: SignedDescriptor, b: SignedDescriptor): boolean {
  if (a.body.issuedAtMs !== b.body.issuedAtMs) return a.body.issuedAtMs > b.body.issuedAtMs;
  return a.signature > b.signature;
}

export interface DescriptorRules {
  /** Registered identity keys (hex) → operator-given name. */
  readonly registered: ReadonlyMap<string, string>;
  readonly addressBytes: number;
  readonly layers: number;
}

/**
 * Parses and checks an uploaded descriptor: schema, a registered identity key, the id derived from it, a
 * valid signature by that key, a layer that fits the role. Throws a LoopixError naming what is wrong.
 */
export function checkDescriptor(input: unknown, rules: DescriptorRules): SignedDescriptor {
  const parsed = SignedDescriptorSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = `descriptor.${issue.path.join('.')}`;
    throw new LoopixError('ERR_LOOPIX_DIRECTORY_MALFORMED', `${field}: ${issue.message}`, { field });
  }
  const d = parsed.data;
  const b = d.body;
  if (!rules.registered.has(b.identityKey)) {
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_UNKNOWN_NODE',
      `descriptor.body.identityKey: ${b.identityKey} is not registered with this authority`,
      { field: 'descriptor.body.identityKey' },
    );
  }
  if (!verifyObject('descriptor', b, d.signature, b.identityKey)) {
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_SIGNATURE',
      'descriptor.signature: does not verify under descriptor.body.identityKey (signed by another key, or the body was changed)',
      { field: 'descriptor.signature' },
    );
  }
  const id = nodeIdFor(b.identityKey, rules.addressBytes);
  if (b.id !== id)
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_NODE_ID',
      `descriptor.body.id: must be ${id} (derived from the identity key), got ${b.id}`,
      { field: 'descriptor.body.id' },
    );
  const layerOk = b.role === 'provider' ? b.layer === 0 : b.layer >= 1 && b.layer <= rules.layers;
  if (!layerOk)
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_MALFORMED',
      `descriptor.body.layer: a ${b.role} needs layer ${b.role === 'provider' ? '0' : `1..${rules.layers}`}, got ${b.layer}`,
      { field: 'descriptor.body.layer' },
    );
  if (b.role === 'provider' && b.ws === undefined)
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_MALFORMED',
      'descriptor.body.ws: a provider needs its client WebSocket URL',
      { field: 'descriptor.body.ws' },
    );
  if (b.postOffice && b.role !== 'provider')
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_MALFORMED',
      'descriptor.body.postOffice: only a provider can be a post office',
      { field: 'descriptor.body.postOffice' },
    );
  return d;
}
