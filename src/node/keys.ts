/**
 * Reads a node's key file. Two forms:
 *  - one key pair, written by `loopix keygen`: {"type": "x25519", "publicKey": hex, "privateKey": hex} — the
 *    key of the topology's current epoch, for networks whose keys do not rotate;
 *  - a key store for rotating keys (`loopix keygen --epochs A..B`): {"type": "x25519-epochs", "keys":
 *    [{"epoch": n, "publicKey": hex, "privateKey": hex}, …]} — one key pair per key epoch (docs/operations.md
 *    "Key epochs"). The operator publishes the public keys to the directory ahead of their epochs.
 * Errors name the file and the field; the private key is never part of a message.
 */
import { KeyFileError } from '../errors.js';
import { readJsonFile } from '../util/json-file.js';

export interface X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

export { KeyFileError };

const HEX32 = /^[0-9a-f]{64}$/;

export function parseKeyPair(json: unknown, source: string): X25519KeyPair {
  if (json === null || typeof json !== 'object') throw new KeyFileError(`key file ${source}: must be a JSON object`, { field: source });
  const o = json as Record<string, unknown>;
  if (o.type !== 'x25519') throw new KeyFileError(`key file ${source}: type must be "x25519", got ${JSON.stringify(o.type)}`, { field: 'type' });
  for (const field of ['publicKey', 'privateKey'] as const) {
    if (typeof o[field] !== 'string' || !HEX32.test(o[field])) {
      throw new KeyFileError(`key file ${source}: ${field} must be 32 bytes of lowercase hex`, { field });
    }
  }
  return {
    publicKey: Uint8Array.from(Buffer.from(o.publicKey as string, 'hex')),
    privateKey: Uint8Array.from(Buffer.from(o.privateKey as string, 'hex')),
  };
}

export interface EpochKeyPair extends X25519KeyPair {
  readonly epoch: number;
}

/** A parsed key file: either one key of no stated epoch, or keys per epoch. */
export type NodeKeyFile = { readonly kind: 'single'; readonly key: X25519KeyPair } | { readonly kind: 'epochs'; readonly keys: readonly EpochKeyPair[] };

export function parseNodeKeyFile(json: unknown, source: string): NodeKeyFile {
  const o = json as Record<string, unknown> | null;
  if (o !== null && typeof o === 'object' && o.type === 'x25519-epochs') {
    if (!Array.isArray(o.keys) || o.keys.length === 0) throw new KeyFileError(`key file ${source}: keys must be a non-empty array`, { field: 'keys' });
    const seen = new Set<number>();
    const keys = o.keys.map((k: unknown, i: number): EpochKeyPair => {
      const e = (k as Record<string, unknown> | null)?.epoch;
      if (!Number.isInteger(e) || (e as number) < 0) throw new KeyFileError(`key file ${source}: keys[${i}].epoch must be a non-negative integer, got ${JSON.stringify(e)}`, { field: `keys[${i}].epoch` });
      if (seen.has(e as number)) throw new KeyFileError(`key file ${source}: keys[${i}].epoch ${e} appears twice`, { field: `keys[${i}].epoch` });
      seen.add(e as number);
      return { epoch: e as number, ...parseKeyPair({ ...(k as object), type: 'x25519' }, `${source} keys[${i}]`) };
    });
    return { kind: 'epochs', keys: keys.sort((a, b) => a.epoch - b.epoch) };
  }
  return { kind: 'single', key: parseKeyPair(json, source) };
}

/** Reads a key file of either form (see the module comment). */
export function loadNodeKeyFile(file: string): NodeKeyFile {
  return parseNodeKeyFile(readJson(file), file);
}

export function loadKeyPairFile(file: string): X25519KeyPair {
  return parseKeyPair(readJson(file), file);
}

function readJson(file: string): unknown {
  return readJsonFile(file, { label: 'key file', area: 'KEYFILE', error: KeyFileError });
}
