/**
 * Reads a directory identity key file (`loopix authority keygen`, `loopix init`): Node only (node:fs), kept
 * apart from ./identity.ts so that the signature code bundles for browsers.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { LoopixError } from '../errors.js';
import { HEX64, type IdentityKey } from './identity.js';
import { readJsonFile } from '../util/json-file.js';

/** Reads an identity key file ({publicKey, privateKey}, hex) and checks that the halves belong together. */
export function loadIdentityKeyFile(file: string): IdentityKey {
  const json = readJsonFile(file, { label: 'identity key file', code: 'ERR_LOOPIX_DIRECTORY_IDENTITY_FILE' });
  const k = json as Partial<IdentityKey>;
  if (
    typeof k?.publicKey !== 'string' ||
    !HEX64.test(k.publicKey) ||
    typeof k.privateKey !== 'string' ||
    !HEX64.test(k.privateKey)
  ) {
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_IDENTITY_FILE',
      `identity key file ${file}: publicKey and privateKey must be 32 bytes of lowercase hex`,
      { field: file },
    );
  }
  const secret = hexToBytes(k.privateKey);
  const derived = bytesToHex(ed25519.getPublicKey(secret));
  secret.fill(0);
  if (derived !== k.publicKey) {
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_IDENTITY_FILE',
      `identity key file ${file}: privateKey does not belong to publicKey ${k.publicKey}`,
      { field: file },
    );
  }
  return { publicKey: k.publicKey, privateKey: k.privateKey };
}
