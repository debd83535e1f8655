/**
 * The argument checks of send() and reply(): who a message goes to and how large it may be. Bad arguments
 * throw a LoopixError naming the field (ERR_LOOPIX_CLIENT_RECIPIENT, ERR_LOOPIX_CLIENT_MESSAGE).
 */
import { parseAddress, type RecipientAddress } from '../address.js';
import { LoopixError } from '../errors.js';
import type { Geometry } from '../geometry.js';
import type { TopologyIndex } from '../topology/topology-index.js';

/** A loopix1: address or a parsed address, checked against the topology; returns a copy. */
export function parseRecipient(
  geometry: Geometry,
  topology: TopologyIndex,
  recipient: string | RecipientAddress,
): RecipientAddress {
  let to: RecipientAddress | undefined | null;
  try {
    to = typeof recipient === 'string' ? parseAddress(geometry, recipient) : recipient;
  } catch (err) {
    throw new LoopixError('ERR_LOOPIX_CLIENT_RECIPIENT', `recipient: ${(err as Error).message}`, {
      field: 'recipient',
      cause: err,
    });
  }
  if (
    !to ||
    typeof to.providerId !== 'string' ||
    !(to.publicKey instanceof Uint8Array) ||
    to.publicKey.length !== geometry.publicKeyBytes
  ) {
    throw new LoopixError(
      'ERR_LOOPIX_CLIENT_RECIPIENT',
      'recipient must be a loopix1: address or {providerId, publicKey (32 bytes)}',
      { field: 'recipient' },
    );
  }
  const node = topology.node(to.providerId);
  if (!node || node.role !== 'provider') {
    throw new LoopixError(
      'ERR_LOOPIX_CLIENT_RECIPIENT',
      `recipient provider ${to.providerId} is not a provider in the topology`,
      { field: 'recipient' },
    );
  }
  return { providerId: to.providerId, publicKey: Uint8Array.from(to.publicKey) };
}

/** A message body must fit params.maxMessageBytes. */
export function checkMessageSize(bytes: Uint8Array, maxMessageBytes: number): void {
  if (bytes.length > maxMessageBytes) {
    throw new LoopixError(
      'ERR_LOOPIX_CLIENT_MESSAGE',
      `bytes must be at most maxMessageBytes = ${maxMessageBytes} bytes, got ${bytes.length}`,
      { field: 'bytes' },
    );
  }
}
