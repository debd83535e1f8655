/**
 * Provider inboxes on SQLite (Loopix §3.2 "Message storing and retrieving"): the provider buffers packets for
 * its clients until they pull and acknowledge them. The packets are still encrypted for the client, so the
 * provider stores opaque, constant-size blobs.
 *
 * Durability: WAL journal with synchronous=FULL, so `store` returns only after the WAL is fsync'ed — a packet
 * the provider stored (and a client may have been told about) survives a crash or power loss. Every statement
 * is prepared once. One table of packets (index on (client, id), so a pull is a range scan, oldest first), one
 * of registered clients, one of metadata pinning the geometry the file was written with: a file written for
 * another packet size is refused instead of serving packets of the wrong length.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import type { Geometry } from '../geometry.js';
import type { Inbox, StoredPacket } from './types.js';

/** File name of the inbox database inside `provider.dataDir`. */
export const INBOX_FILE_NAME = 'inbox.sqlite';

/** The inbox file of a provider whose config says `provider.dataDir = dataDir`. */
export function inboxPath(dataDir: string): string {
  return join(dataDir, INBOX_FILE_NAME);
}

/** The SQLite inbox: the Inbox contract plus client registration and a batched store. */
export interface SqliteInbox extends Inbox {
  /** Records `clientId` as registered (idempotent, durable). */
  register(clientId: Uint8Array): void;
  isRegistered(clientId: Uint8Array): boolean;
  removeMany(batch: readonly { readonly clientId: Uint8Array; readonly ids: readonly number[] }[]): void;
  /** Stores many packets in one transaction (one fsync); all or nothing. */
  storeMany(entries: readonly { readonly clientId: Uint8Array; readonly packet: Uint8Array }[]): void;
  /**
   * Forgets registered clients not seen (authenticated) since `nowMs − ttlMs` that have no stored packet;
   * returns how many. Bounds the registry under a churn of throw-away keys.
   */
  expireClients(ttlMs: number, nowMs?: number): number;
  /** Registered clients. */
  clients(): number;
  /** Packets stored for all clients. */
  total(): number;
  /** The durability settings read back from SQLite after opening (expected: 'wal', 2 = FULL). */
  readonly durability: { readonly journalMode: string; readonly synchronous: number };
}

/** better-sqlite3 binds Buffers as BLOBs; this views a Uint8Array as one without copying. */
function blob(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function exactBytes(name: string, value: unknown, length: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (value.length !== length) throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
  return value;
}

/** Opens (creating if missing, with its directory) the inbox database at `file` for packets of geometry `g`. */
export function openInbox(file: string, g: Geometry): SqliteInbox {
  if (typeof file !== 'string' || file.length === 0) throw new TypeError('file must be a non-empty path');
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  let durability: SqliteInbox['durability'];
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    durability = Object.freeze({
      journalMode: String(db.pragma('journal_mode', { simple: true })),
      synchronous: Number(db.pragma('synchronous', { simple: true })),
    });
    if (durability.synchronous !== 2) throw new Error(`inbox ${file}: SQLite refused synchronous=FULL`);
    db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS packets (
        id INTEGER PRIMARY KEY,
        client BLOB NOT NULL,
        packet BLOB NOT NULL,
        stored_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS packets_client_id ON packets (client, id);
      CREATE TABLE IF NOT EXISTS clients (client BLOB PRIMARY KEY, registered_at INTEGER NOT NULL) WITHOUT ROWID;
    `);
    // last_seen (ms): the client's latest authentication; files written before it existed fall back to
    // registered_at.
    const columns = db
      .prepare<[], { name: string }>('PRAGMA table_info(clients)')
      .all()
      .map((c) => c.name);
    if (!columns.includes('last_seen')) db.exec('ALTER TABLE clients ADD COLUMN last_seen INTEGER');
    // Pin the geometry: the first open writes it, later opens must agree.
    const pinned = { packetBytes: g.packetBytes, addressBytes: g.addressBytes };
    const getMeta = db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE key = ?');
    const putMeta = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
    for (const [key, value] of Object.entries(pinned)) {
      putMeta.run(key, value);
      const stored = getMeta.get(key)?.value;
      if (stored !== value) {
        throw new RangeError(`inbox ${file} was written with ${key} = ${stored}, but the geometry says ${value}`);
      }
    }
  } catch (err) {
    db.close();
    throw err;
  }

  const insert = db.prepare('INSERT INTO packets (client, packet, stored_at) VALUES (?, ?, ?)');
  const select = db.prepare<[Buffer, number], { id: number; packet: Buffer }>(
    'SELECT id, packet FROM packets WHERE client = ? ORDER BY id LIMIT ?',
  );
  const del = db.prepare('DELETE FROM packets WHERE id = ? AND client = ?');
  const countOf = db.prepare<[Buffer], { n: number }>('SELECT COUNT(*) AS n FROM packets WHERE client = ?');
  const countAll = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM packets');
  const reg = db.prepare(
    'INSERT INTO clients (client, registered_at, last_seen) VALUES (?, ?, ?) ON CONFLICT (client) DO UPDATE SET last_seen = excluded.last_seen',
  );
  const expire = db.prepare(
    'DELETE FROM clients WHERE coalesce(last_seen, registered_at) < ? AND NOT EXISTS (SELECT 1 FROM packets WHERE packets.client = clients.client)',
  );
  const countClients = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM clients');
  const isReg = db.prepare<[Buffer], { one: number }>('SELECT 1 AS one FROM clients WHERE client = ?');

  const removeTx = db.transaction((client: Buffer, ids: readonly number[]) => {
    for (const id of ids) del.run(id, client);
  });
  const removeManyTx = db.transaction((batch: readonly [Buffer, readonly number[]][]) => {
    for (const [client, ids] of batch) for (const id of ids) del.run(id, client);
  });
  const storeManyTx = db.transaction((rows: readonly [Buffer, Buffer][], now: number) => {
    for (const [client, packet] of rows) insert.run(client, packet, now);
  });

  let closed = false;
  const open = (): void => {
    if (closed) throw new Error('inbox is closed');
  };
  const clientArg = (clientId: unknown): Buffer => blob(exactBytes('clientId', clientId, g.addressBytes));

  return {
    durability,
    store(clientId: Uint8Array, packet: Uint8Array): void {
      open();
      const c = clientArg(clientId);
      const p = blob(exactBytes('packet', packet, g.packetBytes));
      insert.run(c, p, Date.now());
    },
    storeMany(entries): void {
      open();
      if (!Array.isArray(entries)) throw new TypeError('entries must be an array');
      const rows = (entries as readonly { readonly clientId?: unknown; readonly packet?: unknown }[]).map(
        (e, i): [Buffer, Buffer] => [
          blob(exactBytes(`entries[${i}].clientId`, e.clientId, g.addressBytes)),
          blob(exactBytes(`entries[${i}].packet`, e.packet, g.packetBytes)),
        ],
      );
      if (rows.length > 0) storeManyTx(rows, Date.now());
    },
    fetch(clientId: Uint8Array, k: number): StoredPacket[] {
      open();
      const c = clientArg(clientId);
      if (!Number.isSafeInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${String(k)}`);
      if (k === 0) return [];
      return select.all(c, k).map((row) => ({
        id: row.id,
        packet: new Uint8Array(row.packet.buffer, row.packet.byteOffset, row.packet.byteLength),
      }));
    },
    remove(clientId: Uint8Array, ids: readonly number[]): void {
      open();
      const c = clientArg(clientId);
      if (!Array.isArray(ids)) throw new TypeError('ids must be an array');
      ids.forEach((id, i) => {
        if (!Number.isSafeInteger(id)) throw new RangeError(`ids[${i}] must be an integer, got ${String(id)}`);
      });
      if (ids.length > 0) removeTx(c, ids);
    },
    removeMany(batch): void {
      open();
      if (!Array.isArray(batch)) throw new TypeError('batch must be an array');
      const rows = (batch as readonly { readonly clientId?: unknown; readonly ids?: unknown }[]).map(
        (b, i): [Buffer, readonly number[]] => {
          const ids: unknown = b.ids;
          if (!Array.isArray(ids) || !ids.every((id: unknown) => Number.isSafeInteger(id)))
            throw new RangeError(`batch[${i}].ids must be integers`);
          return [clientArg(b.clientId), ids as number[]];
        },
      );
      if (rows.length > 0) removeManyTx(rows);
    },
    count(clientId: Uint8Array): number {
      open();
      return countOf.get(clientArg(clientId))?.n ?? 0;
    },
    expireClients(ttlMs: number, nowMs = Date.now()): number {
      open();
      if (!Number.isFinite(ttlMs) || ttlMs < 0)
        throw new RangeError(`ttlMs must be a finite number ≥ 0, got ${String(ttlMs)}`);
      return expire.run(nowMs - ttlMs).changes;
    },
    clients(): number {
      open();
      return countClients.get()?.n ?? 0;
    },
    total(): number {
      open();
      return countAll.get()?.n ?? 0;
    },
    register(clientId: Uint8Array): void {
      open();
      const now = Date.now();
      reg.run(clientArg(clientId), now, now);
    },
    isRegistered(clientId: Uint8Array): boolean {
      open();
      return isReg.get(clientArg(clientId)) !== undefined;
    },
    close(): void {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
