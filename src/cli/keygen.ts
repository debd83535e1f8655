/**
 * `loopix keygen`: X25519 key pairs from the OS CSPRNG, as JSON (hex).
 *
 * Without --epochs: one key pair (a client, or a node of a network whose keys do not rotate).
 * With --epochs A..B: a node's key store for rotating keys ({"type": "x25519-epochs", "keys": [...]},
 * src/node/keys.ts), one key per epoch; with --append, the epochs missing from an existing store are added
 * (atomic rewrite; a running node re-reads it within epochs.refreshS). Prints the public keys by epoch,
 * which the operator hands to the directory authority ahead of those epochs (docs/operations.md "Key epochs").
 *
 * Never follows a symlink: a new file is created with O_CREAT|O_EXCL (flag 'wx', which fails on any existing
 * path, a symlink included), --append refuses a key store that is a symlink, and its temporary file is
 * unlinked (the link itself, not its target) and re-created exclusively. Otherwise a planted link could make
 * keygen overwrite another file, or write private keys where someone else can read them.
 */
import { existsSync, lstatSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { LoopixError } from '../errors.js';
import { loadNodeKeyFile } from '../node/keys.js';
import { loadSphinx } from '../sphinx/loader.js';
import { freshKeyPairHex } from '../node/fresh-key.js';

interface KeyJson {
  epoch?: number;
  publicKey: string;
  privateKey: string;
}

/** Refuses `file` when it exists as a symlink. */
function refuseSymlink(file: string): void {
  let link = false;
  try {
    link = lstatSync(file).isSymbolicLink();
  } catch {
    return; // does not exist
  }
  if (link)
    throw new LoopixError('ERR_LOOPIX_KEYGEN_SYMLINK', `${file} is a symbolic link; keygen never writes through one`, {
      field: 'out',
    });
}

/** Creates `file` (mode 0600) exclusively: never through a symlink, never over an existing file. */
function createExclusive(file: string, text: string): void {
  refuseSymlink(file);
  try {
    writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new LoopixError('ERR_LOOPIX_KEYGEN_EXISTS', `${file} already exists; keygen does not overwrite key files`, {
        field: 'out',
      });
    throw err;
  }
}

function fresh(): KeyJson {
  const { backend } = loadSphinx();
  return freshKeyPairHex((sk) => backend.x25519Base(sk));
}

function lstatExists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** Parses "A..B" (inclusive, at most 10,000 epochs). */
export function epochRange(value: string): { first: number; last: number } {
  const m = /^(\d+)\.\.(\d+)$/.exec(value.trim());
  const first = m ? Number(m[1]) : NaN;
  const last = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first || last - first >= 10_000) {
    throw new InvalidArgumentError(
      `--epochs must be A..B with 0 ≤ A ≤ B and at most 10,000 epochs, got ${JSON.stringify(value)}`,
    );
  }
  return { first, last };
}

export function runKeygen(o: { out?: string; epochs?: { first: number; last: number }; append?: boolean }): void {
  if (!o.epochs) {
    if (o.append) throw new LoopixError('ERR_LOOPIX_CLI_USAGE', '--append needs --epochs', { field: '--append' });
    const text = `${JSON.stringify({ type: 'x25519', ...fresh() }, null, 2)}\n`;
    if (o.out) {
      createExclusive(o.out, text);
      process.stdout.write(`${JSON.stringify({ publicKey: (JSON.parse(text) as KeyJson).publicKey, file: o.out })}\n`);
    } else process.stdout.write(text);
    return;
  }
  if (o.append && !o.out)
    throw new LoopixError('ERR_LOOPIX_CLI_USAGE', '--append needs --out <key store>', { field: '--append' });
  const keys = new Map<number, KeyJson>();
  if (o.out) refuseSymlink(o.out);
  if (o.append && o.out && existsSync(o.out)) {
    const store = loadNodeKeyFile(o.out);
    if (store.kind !== 'epochs')
      throw new LoopixError(
        'ERR_LOOPIX_KEYFILE_NOT_A_STORE',
        `${o.out} holds a single key pair, not a key store ("x25519-epochs")`,
        { field: o.out },
      );
    for (const k of store.keys) {
      keys.set(k.epoch, {
        epoch: k.epoch,
        publicKey: Buffer.from(k.publicKey).toString('hex'),
        privateKey: Buffer.from(k.privateKey).toString('hex'),
      });
      k.privateKey.fill(0);
    }
  }
  const added: number[] = [];
  for (let e = o.epochs.first; e <= o.epochs.last; e++) {
    if (keys.has(e)) continue;
    keys.set(e, { epoch: e, ...fresh() });
    added.push(e);
  }
  const text = `${JSON.stringify({ type: 'x25519-epochs', keys: [...keys.values()].sort((a, b) => a.epoch! - b.epoch!) }, null, 2)}\n`;
  const publicKeys = Object.fromEntries(
    [...keys.values()].filter((k) => added.includes(k.epoch!)).map((k): [number, string] => [k.epoch!, k.publicKey]),
  );
  if (!o.out) {
    process.stdout.write(text);
    return;
  }
  if (o.append) {
    const tmp = `${o.out}.tmp`;
    // A stale (or planted) temporary path is removed as such — unlink never follows a link — then created anew.
    if (lstatExists(tmp)) unlinkSync(tmp);
    createExclusive(tmp, text);
    renameSync(tmp, o.out); // rename replaces the directory entry; it does not follow a link at o.out either
  } else createExclusive(o.out, text);
  process.stdout.write(`${JSON.stringify({ file: o.out, added, publicKeys })}\n`);
}
