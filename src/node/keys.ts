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
 * per-epoch forward secrecy means nothing if anyone on the host can copy the keys.
 *
 * A private key never exists as a JavaScript string in a node, because a string cannot be wiped: V8 keeps it
 * until the memory happens to be reused. The file is read as bytes, each "privateKey" value is decoded from
 * those bytes into a `secretBytes` array and blanked before the rest is handed to JSON.parse, and the bytes
 * are zeroed afterwards; `pruneKeyFile` writes the store back from bytes in the same way. Every copy of a key
 * lives in `secretBytes` memory: off the V8 heap, so no garbage collection moves it and leaves a stale copy
 * behind that `.fill(0)` cannot reach (a typed array of up to 64 bytes made by `new Uint8Array(n)` or
 * `Uint8Array.from` lives on the V8 heap and is copied whenever the collector compacts or promotes it; one from
 * Node's shared Buffer pool would keep the key after its owner wipes its own view).
 */
import {
  closeSync,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { KeyFileError } from '../errors.js';
import { FORMAT } from '../geometry.js';

export interface X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

export { KeyFileError };

/** Permission bits that must be clear on a key file: any access by group or others. */
export const KEY_FILE_FORBIDDEN_MODE = 0o077;

const KEY_BYTES = FORMAT.keyBytes;
const HEX32 = new RegExp(`^[0-9a-f]{${2 * KEY_BYTES}}$`);

/**
 * A zeroed array for secret bytes whose memory V8 never moves: its own ArrayBuffer, which V8 always allocates
 * off its heap (see the module comment). Wipe it with `.fill(0)` when done.
 */
export function secretBytes(n: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(n));
}

/** A `secretBytes` copy of `key`. */
export function copySecret(key: Uint8Array): Uint8Array {
  const out = secretBytes(key.length);
  out.set(key);
  return out;
}

/**
 * Parses one key pair. `privateKey` is lowercase hex (a caller's object) or the bytes the key-file reader
 * decoded already (`readKeyJson`); either way the result's private key is a fresh `secretBytes` array.
 */
export function parseKeyPair(json: unknown, source: string): X25519KeyPair {
  if (json === null || typeof json !== 'object')
    throw new KeyFileError(`key file ${source}: must be a JSON object`, { field: source });
  const o = json as Record<string, unknown>;
  if (o.type !== 'x25519')
    throw new KeyFileError(`key file ${source}: type must be "x25519", got ${JSON.stringify(o.type)}`, {
      field: 'type',
    });
  const bad = (field: string): never => {
    throw new KeyFileError(`key file ${source}: ${field} must be ${KEY_BYTES} bytes of lowercase hex`, { field });
  };
  if (typeof o.publicKey !== 'string' || !HEX32.test(o.publicKey)) bad('publicKey');
  const sk = o.privateKey;
  let privateKey: Uint8Array;
  if (sk instanceof Uint8Array && sk.length === KEY_BYTES) privateKey = copySecret(sk);
  else if (typeof sk === 'string' && HEX32.test(sk)) {
    privateKey = secretBytes(KEY_BYTES);
    for (let i = 0; i < KEY_BYTES; i++)
      privateKey[i] = (nibble(sk.charCodeAt(2 * i)) << 4) | nibble(sk.charCodeAt(2 * i + 1));
  } else return bad('privateKey');
  return { publicKey: Uint8Array.from(Buffer.from(o.publicKey as string, 'hex')), privateKey };
}

/** Value of one lowercase hex digit (character code); -1 for anything else. */
function nibble(c: number): number {
  return c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
}

export interface EpochKeyPair extends X25519KeyPair {
  readonly epoch: number;
}

/** A parsed key file: either one key of no stated epoch, or keys per epoch. */
export type NodeKeyFile =
  | { readonly kind: 'single'; readonly key: X25519KeyPair }
  | { readonly kind: 'epochs'; readonly keys: readonly EpochKeyPair[] };

export function parseNodeKeyFile(json: unknown, source: string): NodeKeyFile {
  const o = json as Record<string, unknown> | null;
  if (o !== null && typeof o === 'object' && o.type === 'x25519-epochs') {
    if (!Array.isArray(o.keys) || o.keys.length === 0)
      throw new KeyFileError(`key file ${source}: keys must be a non-empty array`, { field: 'keys' });
    const seen = new Set<number>();
    const keys = o.keys.map((k: unknown, i: number): EpochKeyPair => {
      const e = (k as Record<string, unknown> | null)?.epoch;
      if (!Number.isInteger(e) || (e as number) < 0)
        throw new KeyFileError(
          `key file ${source}: keys[${i}].epoch must be a non-negative integer, got ${JSON.stringify(e)}`,
          { field: `keys[${i}].epoch` },
        );
      if (seen.has(e as number))
        throw new KeyFileError(`key file ${source}: keys[${i}].epoch ${String(e)} appears twice`, {
          field: `keys[${i}].epoch`,
        });
      seen.add(e as number);
      return { epoch: e as number, ...parseKeyPair({ ...(k as object), type: 'x25519' }, `${source} keys[${i}]`) };
    });
    return { kind: 'epochs', keys: keys.sort((a, b) => a.epoch - b.epoch) };
  }
  return { kind: 'single', key: parseKeyPair(json, source) };
}

/** Reads a key file of either form (see the module comment). */
export function loadNodeKeyFile(file: string): NodeKeyFile {
  const secrets: Uint8Array[] = [];
  try {
    return parseNodeKeyFile(readJson(file, secrets), file);
  } finally {
    for (const s of secrets) s.fill(0); // the parsed pairs hold their own copies
  }
}

export function loadKeyPairFile(file: string): X25519KeyPair {
  const secrets: Uint8Array[] = [];
  try {
    return parseKeyPair(readJson(file, secrets), file);
  } finally {
    for (const s of secrets) s.fill(0);
  }
}

function readJson(file: string, secrets: Uint8Array[]): unknown {
  // The mode of the file itself (fstat of what was opened): refuse one that group or others can read.
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new KeyFileError(`key file ${file}: ${(err as Error).message}`, {
      code: 'ERR_LOOPIX_KEYFILE_UNREADABLE',
      field: file,
      cause: err,
    });
  }
  let mode: number;
  try {
    mode = fstatSync(fd).mode & 0o777;
  } finally {
    closeSync(fd);
  }
  if ((mode & KEY_FILE_FORBIDDEN_MODE) !== 0) {
    throw new KeyFileError(
      `key file ${file}: mode ${mode.toString(8).padStart(4, '0')} lets group or others read it; run chmod 600 ${file}`,
      {
        code: 'ERR_LOOPIX_KEYFILE_MODE',
        field: file,
      },
    );
  }
  return readKeyJson(file, secrets);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const PRIVATE_KEY_NAME = Buffer.from('privateKey', 'latin1');
/** What a blanked "privateKey" value reads as: `!<index into secrets>` or `?` (not 32 bytes of hex), padded. */
const SECRET_REF = /^!(\d+) *$/;

/**
 * JSON.parse of a key file without the private keys ever becoming strings: every string value of a
 * "privateKey" member is decoded into `secrets` (when it is lowercase hex of the right length) and overwritten
 * in the file's bytes by a reference before the text is parsed; the bytes are zeroed afterwards.
 */
function readKeyJson(file: string, secrets: Uint8Array[]): unknown {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new KeyFileError(`key file ${file}: ${(err as Error).message}`, {
      code: 'ERR_LOOPIX_KEYFILE_UNREADABLE',
      field: file,
      cause: err,
    });
  }
  try {
    blankPrivateKeys(bytes, secrets);
    try {
      return JSON.parse(bytes.toString('utf8'), (name, value: unknown) => {
        if (name !== 'privateKey' || typeof value !== 'string') return value;
        const ref = SECRET_REF.exec(value);
        return ref ? secrets[Number(ref[1])] : '?';
      }) as unknown;
    } catch (err) {
      throw new KeyFileError(`key file ${file}: not JSON (${(err as Error).message})`, {
        code: 'ERR_LOOPIX_KEYFILE_NOT_JSON',
        field: file,
        cause: err,
      });
    }
  } finally {
    bytes.fill(0);
  }
}

/** Finds each `"privateKey": "<value>"` in JSON bytes; decodes the value into `secrets` and blanks it in place. */
function blankPrivateKeys(b: Uint8Array, secrets: Uint8Array[]): void {
  let nameStart = -1; // content start of the last string token, while nothing but whitespace followed it
  let nameEnd = -1;
  let valueNext = false; // the tokens so far were "privateKey" and ':'
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === QUOTE) {
      let j = i + 1;
      while (j < b.length && b[j] !== QUOTE) j += b[j] === BACKSLASH ? 2 : 1;
      j = Math.min(j, b.length);
      if (valueNext) blankSecret(b, i + 1, j, secrets);
      [nameStart, nameEnd] = valueNext ? [-1, -1] : [i + 1, j];
      valueNext = false;
      i = j;
      continue;
    }
    valueNext =
      c === COLON &&
      nameStart >= 0 &&
      nameEnd - nameStart === PRIVATE_KEY_NAME.length &&
      PRIVATE_KEY_NAME.equals(b.subarray(nameStart, nameEnd));
    nameStart = nameEnd = -1;
  }
}

function blankSecret(b: Uint8Array, start: number, end: number, secrets: Uint8Array[]): void {
  let ok = end - start === 2 * KEY_BYTES;
  const key = secretBytes(KEY_BYTES);
  for (let i = 0; ok && i < KEY_BYTES; i++) {
    const hi = nibble(b[start + 2 * i]!);
    const lo = nibble(b[start + 2 * i + 1]!);
    if (hi < 0 || lo < 0) ok = false;
    else key[i] = (hi << 4) | lo;
  }
  const ref = ok ? `!${secrets.length}` : '?';
  if (ok) secrets.push(key);
  else key.fill(0);
  b.fill(0x20, start, end);
  for (let i = 0; i < ref.length && start + i < end; i++) b[start + i] = ref.charCodeAt(i);
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
    const tmp = `${file}.tmp`;
    try {
      lstatSync(tmp);
      unlinkSync(tmp);
    } catch {
      // no stale temporary file
    }
    const text = keyStoreBytes(store.keys.filter((k) => k.epoch >= keepFrom));
    try {
      writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
    } finally {
      text.fill(0);
    }
    renameSync(tmp, file);
  }
  wipeKeys(store.keys);
  return removed;
}

/** A key store's JSON as `secretBytes` (the caller zeroes it): private keys go from bytes to hex bytes directly. */
export function keyStoreBytes(keys: readonly EpochKeyPair[]): Uint8Array {
  const hex = (k: Uint8Array) => Buffer.from(k).toString('hex');
  const parts: (string | Uint8Array)[] = ['{\n  "type": "x25519-epochs",\n  "keys": [\n'];
  keys.forEach((k, i) => {
    parts.push(
      `    { "epoch": ${k.epoch}, "publicKey": "${hex(k.publicKey)}", "privateKey": "`,
      k.privateKey,
      `" }${i < keys.length - 1 ? ',' : ''}\n`,
    );
  });
  parts.push('  ]\n}\n');
  const size = parts.reduce((n, p) => n + (typeof p === 'string' ? Buffer.byteLength(p) : 2 * p.length), 0);
  const out = secretBytes(size);
  let at = 0;
  const DIGITS = '0123456789abcdef';
  for (const p of parts) {
    if (typeof p === 'string') at += Buffer.from(out.buffer, out.byteOffset + at).write(p, 'utf8');
    else {
      for (const byte of p) {
        out[at++] = DIGITS.charCodeAt(byte >> 4);
        out[at++] = DIGITS.charCodeAt(byte & 15);
      }
    }
  }
  return out;
}
