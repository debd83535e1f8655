/**
 * The post office's mailboxes on SQLite (AnonPoP §4: the PO keeps envelopes until they are pulled).
 *
 * Same durability as the provider inboxes (src/provider/inbox.ts): WAL with synchronous=FULL, so `store`
 * returns only once the envelope is on disk; the geometry is pinned in a meta table and a file written for
 * another envelope length is refused. One table of envelopes keyed by a 16-byte mailbox id; the schema has
 * no column for a client key, a provider session, an address or a pull time — the PO could not record who
 * pulled even by mistake. Envelopes older than `expiryMs` are deleted by `expire` (the PO calls it
 * periodically), so an abandoned mailbox does not grow for ever.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { LoopixError } from '../errors.js';
import { POST_OFFICE, type Geometry } from '../geometry.js';
import { poLayout } from './wire.js';

export const MAILBOX_FILE_NAME = 'mailboxes.sqlite';

export function mailboxPath(dataDir: string): string {
  return join(dataDir, MAILBOX_FILE_NAME);
}

export interface StoredEnvelope {
  readonly id: number;
  readonly envelope: Uint8Array;
}

export interface MailboxStore {
  /** Durably stores one envelope (E bytes) under a mailbox id (on disk when this returns). */
  store(mailboxId: Uint8Array, envelope: Uint8Array, nowMs?: number): void;
  /** The oldest envelope of the mailbox whose id is not in `skip` (answers in flight), not removed. */
  oldest(mailboxId: Uint8Array, skip?: ReadonlySet<number>): StoredEnvelope | undefined;
  /** Removes one envelope once its answer has been sent. */
  remove(id: number): void;
  /** Deletes envelopes stored before nowMs − expiryMs; returns how many. */
  expire(expiryMs: number, nowMs?: number): number;
  total(): number;
  close(): void;
}

function blob(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export function openMailboxStore(file: string, g: Geometry): MailboxStore {
  const E = poLayout(g).envelopeBytes;
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    if (Number(db.pragma('synchronous', { simple: true })) !== 2)
      throw new Error(`mailboxes ${file}: SQLite refused synchronous=FULL`);
    db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS envelopes (
        id INTEGER PRIMARY KEY,
        mailbox BLOB NOT NULL,
        envelope BLOB NOT NULL,
        stored_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS envelopes_mailbox_id ON envelopes (mailbox, id);
      CREATE INDEX IF NOT EXISTS envelopes_stored_at ON envelopes (stored_at);
    `);
    const putMeta = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
    const getMeta = db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE key = ?');
    for (const [key, value] of Object.entries({ envelopeBytes: E, mailboxIdBytes: POST_OFFICE.mailboxIdBytes })) {
      putMeta.run(key, value);
      const stored = getMeta.get(key)?.value;
      if (stored !== value) {
        throw new LoopixError(
          'ERR_LOOPIX_PO_STORE_GEOMETRY',
          `mailboxes ${file} were written with ${key} = ${stored}, but the geometry says ${value}`,
          { field: key },
        );
      }
    }
  } catch (err) {
    db.close();
    throw err;
  }
  const insert = db.prepare('INSERT INTO envelopes (mailbox, envelope, stored_at) VALUES (?, ?, ?)');
  const first = db.prepare<[Buffer, number], { id: number; envelope: Buffer }>(
    'SELECT id, envelope FROM envelopes WHERE mailbox = ? ORDER BY id LIMIT ?',
  );
  const del = db.prepare('DELETE FROM envelopes WHERE id = ?');
  const expire = db.prepare('DELETE FROM envelopes WHERE stored_at < ?');
  const count = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM envelopes');
  let closed = false;
  const open = (): void => {
    if (closed) throw new LoopixError('ERR_LOOPIX_PO_STORE_CLOSED', 'mailbox store is closed');
  };
  const id16 = (m: Uint8Array): Buffer => {
    if (!(m instanceof Uint8Array) || m.length !== POST_OFFICE.mailboxIdBytes) {
      throw new LoopixError('ERR_LOOPIX_PO_FIELD', `mailboxId must be ${POST_OFFICE.mailboxIdBytes} bytes`, {
        field: 'mailboxId',
      });
    }
    return blob(m);
  };
  return {
    store(mailboxId, envelope, nowMs = Date.now()) {
      open();
      if (!(envelope instanceof Uint8Array) || envelope.length !== E)
        throw new LoopixError('ERR_LOOPIX_PO_FIELD', `envelope must be ${E} bytes`, { field: 'envelope' });
      insert.run(id16(mailboxId), blob(envelope), nowMs);
    },
    oldest(mailboxId, skip) {
      open();
      // At most skip.size rows can be skipped, so skip.size + 1 rows always reach the first one not in flight.
      const row = first.all(id16(mailboxId), (skip?.size ?? 0) + 1).find((r) => !skip?.has(r.id));
      return row
        ? {
            id: row.id,
            envelope: new Uint8Array(row.envelope.buffer, row.envelope.byteOffset, row.envelope.byteLength),
          }
        : undefined;
    },
    remove(id) {
      open();
      del.run(id);
    },
    expire(expiryMs, nowMs = Date.now()) {
      open();
      return expire.run(nowMs - expiryMs).changes;
    },
    total() {
      open();
      return count.get()?.n ?? 0;
    },
    close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
