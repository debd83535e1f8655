/**
 * The client's long-term X25519 key pair: its address is loopix1:<provider id>:<public key> (src/address.ts).
 * Reading a key file is Node-only and lives in src/client/node.ts; this module only checks a pair.
 */
import { LoopixError } from '../errors.js';
import type { Geometry } from '../geometry.js';
import { equalBytes } from './bytes.js';

export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

/**
 * Checks lengths and that the public key belongs to the private key (X25519 base-point multiplication of the
 * crypto backend); returns copies the caller may keep. Throws ERR_LOOPIX_CLIENT_KEYPAIR naming the field.
 */
export function checkKeyPair(g: Geometry, x25519Base: (scalar: Uint8Array) => Uint8Array, kp: KeyPair): KeyPair {
  if (!(kp.privateKey instanceof Uint8Array) || kp.privateKey.length !== g.privateKeyBytes) {
    throw new LoopixError(
      'ERR_LOOPIX_CLIENT_KEYPAIR',
      `keyPair.privateKey must be ${g.privateKeyBytes} bytes, got ${kp.privateKey?.length}`,
      { field: 'keyPair.privateKey' },
    );
  }
  if (!(kp.publicKey instanceof Uint8Array) || kp.publicKey.length !== g.publicKeyBytes) {
    throw new LoopixError(
      'ERR_LOOPIX_CLIENT_KEYPAIR',
      `keyPair.publicKey must be ${g.publicKeyBytes} bytes, got ${kp.publicKey?.length}`,
      { field: 'keyPair.publicKey' },
    );
  }
  if (!equalBytes(x25519Base(kp.privateKey), kp.publicKey)) {
    throw new LoopixError('ERR_LOOPIX_CLIENT_KEYPAIR', 'keyPair.publicKey does not belong to keyPair.privateKey', {
      field: 'keyPair.publicKey',
    });
  }
  return { publicKey: Uint8Array.from(kp.publicKey), privateKey: Uint8Array.from(kp.privateKey) };
}
