/**
 * A fresh X25519 key pair in the hex form of a key file (src/node/keys.ts), for the commands and builders that
 * write one (`loopix init`, `loopix keygen`, the testnet's key stores). The private key's bytes are drawn into
 * `secretBytes` memory and wiped once encoded; the hex string is what the caller writes to the file.
 */
import { FORMAT } from '../geometry.js';
import { secretBytes } from './keys.js';

export function freshKeyPairHex(x25519Base: (sk: Uint8Array) => Uint8Array): {
  publicKey: string;
  privateKey: string;
} {
  const privateKey = crypto.getRandomValues(secretBytes(FORMAT.keyBytes));
  const pair = {
    publicKey: Buffer.from(x25519Base(privateKey)).toString('hex'),
    privateKey: Buffer.from(privateKey).toString('hex'),
  };
  privateKey.fill(0);
  return pair;
}
