/**
 * Reads the key-pair file written by `loopix keygen`: {"type": "x25519", "publicKey": hex, "privateKey": hex}.
 * Errors name the file and the field; the private key is never part of a message.
 */
import { readFileSync } from 'node:fs';

export interface X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
}

const HEX32 = /^[0-9a-f]{64}$/;

export function parseKeyPair(json: unknown, source: string): X25519KeyPair {
  if (json === null || typeof json !== 'object') throw new KeyFileError(`key file ${source}: must be a JSON object`);
  const o = json as Record<string, unknown>;
  if (o.type !== 'x25519') throw new KeyFileError(`key file ${source}: type must be "x25519", got ${JSON.stringify(o.type)}`);
  for (const field of ['publicKey', 'privateKey'] as const) {
    if (typeof o[field] !== 'string' || !HEX32.test(o[field])) {
      throw new KeyFileError(`key file ${source}: ${field} must be 32 bytes of lowercase hex`);
    }
  }
  return {
    publicKey: Uint8Array.from(Buffer.from(o.publicKey as string, 'hex')),
    privateKey: Uint8Array.from(Buffer.from(o.privateKey as string, 'hex')),
  };
}

export function loadKeyPairFile(file: string): X25519KeyPair {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new KeyFileError(`key file ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new KeyFileError(`key file ${file}: not JSON (${(err as Error).message})`);
  }
  return parseKeyPair(json, file);
}
