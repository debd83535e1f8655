/**
 * Reads a node's key file. Two forms:
 *  - one key pair, written by `loopix keygen`: {"type": "x25519", "publicKey": hex, "privateKey": hex} — the
 *    key of the topology's current epoch, for networks whose keys do not rotate;
 *  - a key store for rotating keys (`loopix keygen --epochs A..B`): {"type": "x25519-epochs", "keys":
 *    [{"epoch": n, "publicKey": hex, "privateKey": hex}, …]} — one key pair per key epoch (docs/operations.md
 *    "Key epochs"). The operator publishes the public keys to the directory ahead of their epochs.
 * Errors name the file and the field; the private key is never part of a message.
 *
 * A key file readable by group or others is refused (ERR_LOOPIX_KEYFILE_MODE, naming the file and its mode):
 * per-epoch forward secrecy means nothing if anyone on the host can copy the keys. Hex is decoded into fresh
 * arrays (never Node's shared Buffer pool, which would keep a copy of the key after the caller wipes its own).
 */
import { closeSync, fstatSync, lstatSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hexToBytes } from '@noble/hashes/utils.js';
import { KeyFileError } from '../errors.js';
import { readJsonFile } from '../util/json-file.js';

export interface X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

export { KeyFileError };

/** Permission bits that must be clear on a key file: any access by group or others. */
export const KEY_FILE_FORBIDDEN_MODE = 0o077;

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
    publicKey: hexToBytes(o.publicKey as string),
    privateKey: hexToBytes(o.privateKey as string),
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
  // The mode of the file itself (fstat of what was opened): refuse one that group or others can read.
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new KeyFileError(`key file ${file}: ${(err as Error).message}`, { code: 'ERR_LOOPIX_KEYFILE_UNREADABLE', field: file, cause: err });
  }
  let mode: number;
  try {
    mode = fstatSync(fd).mode & 0o777;
  } finally {
    closeSync(fd);
  }
  if ((mode & KEY_FILE_FORBIDDEN_MODE) !== 0) {
    throw new KeyFileError(`key file ${file}: mode ${mode.toString(8).padStart(4, '0')} lets group or others read it; run chmod 600 ${file}`, {
      code: 'ERR_LOOPIX_KEYFILE_MODE',
      field: file,
    });
  }
  return readJsonFile(file, { label: 'key file', area: 'KEYFILE', error: KeyFileError });
}

/** Zeroes the private keys of `pairs` (copies the caller no longer needs). */
export function wipeKeys(pairs: readonly (X25519KeyPair | undefined)[]): void {
  for (const k of pairs) k?.privateKey.fill(0);
}

/**
 * Removes from a key store on disk every key of an epoch before `keepFrom` (retired keys: docs/operations.md
 * "Key epochs" promises forward secrecy per epoch, which a copy on disk would void). Atomic: the remaining
 * keys are written to `<file>.tmp` (created exclusively, mode 0600, never through a symlink) and renamed over
 * the store. Returns the epochs removed; a single-key file (keys that do not rotate) is left alone.
 */
export function pruneKeyFile(file: string, keepFrom: number): number[] {
  const store = loadNodeKeyFile(file);
  if (store.kind !== 'epochs') {
    wipeKeys([store.key]);
    return [];
  }
  const removed = store.keys.filter((k) => k.epoch < keepFrom).map((k) => k.epoch);
  if (removed.length > 0) {
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    const keep = store.keys.filter((k) => k.epoch >= keepFrom).map((k) => ({ epoch: k.epoch, publicKey: hex(k.publicKey), privateKey: hex(k.privateKey) }));
    const tmp = `${file}.tmp`;
    try {
      lstatSync(tmp);
      unlinkSync(tmp);
    } catch {
      // no stale temporary file
    }
    writeFileSync(tmp, `${JSON.stringify({ type: 'x25519-epochs', keys: keep }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
  }
  wipeKeys(store.keys);
  return removed;
}
