/**
 * The browser client's store (src/client/store.ts `ClientStore`) and key pair in IndexedDB, through `idb`
 * (a small, well-kept promise wrapper over the IndexedDB API). One database per client; one object store per
 * client table (outgoing, seen, partial, surbkeys, replypool, postoffice: JSON strings by key) and `keys`
 * (the X25519 key pair under "identity", raw bytes).
 *
 * Every write is its own transaction with durability "strict": the promise resolves once the browser reports
 * the write flushed, and the client awaits it before it acknowledges a fragment, so an ack never promises
 * more than the database holds (as synchronous=FULL does for SQLite in Node).
 */
import { openDB, type IDBPDatabase } from 'idb';
import { LoopixError } from '../errors.js';
import type { SphinxBackend } from '../sphinx/types.js';
import { checkKeyPair, type KeyPair } from '../client/keys.js';
import { emptySnapshot, STORE_TABLES, type ClientStore, type StoreSnapshot, type StoreTable } from '../client/store.js';
import type { Geometry } from '../geometry.js';

/** Object store of the key pair (not a client table: the store interface never sees it). */
export const KEYS_STORE = 'keys';
const IDENTITY = 'identity';
const DB_VERSION = 1;

interface StoredKeyPair {
  readonly type: 'x25519';
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

export class IndexedDbStore implements ClientStore {
  private constructor(
    readonly name: string,
    private readonly db: IDBPDatabase,
  ) {}

  /** Opens (creating on first use) the database `name`. */
  static async open(name: string): Promise<IndexedDbStore> {
    if (typeof (globalThis as { indexedDB?: unknown }).indexedDB === 'undefined')
      throw new LoopixError('ERR_LOOPIX_CLIENT_STORE', 'this runtime has no indexedDB: pass a store', {
        field: 'store',
      });
    try {
      const db = await openDB(name, DB_VERSION, {
        upgrade(d) {
          for (const t of [...STORE_TABLES, KEYS_STORE]) if (!d.objectStoreNames.contains(t)) d.createObjectStore(t);
        },
        blocked() {
          // Another tab holds an older version open: the open waits until it closes.
        },
      });
      return new IndexedDbStore(name, db);
    } catch (err) {
      throw new LoopixError('ERR_LOOPIX_CLIENT_STORE', `client store ${name} (IndexedDB): ${(err as Error).message}`, {
        field: 'store',
        cause: err,
      });
    }
  }

  async load(): Promise<StoreSnapshot> {
    const snap = emptySnapshot();
    const tx = this.db.transaction([...STORE_TABLES], 'readonly');
    for (const t of STORE_TABLES) {
      let cursor = await tx.objectStore(t).openCursor();
      while (cursor) {
        if (typeof cursor.value === 'string') snap[t].set(String(cursor.key), cursor.value);
        cursor = await cursor.continue();
      }
    }
    await tx.done;
    return snap;
  }

  async put(table: StoreTable, key: string, value: string): Promise<void> {
    const tx = this.db.transaction(table, 'readwrite', { durability: 'strict' });
    await Promise.all([tx.objectStore(table).put(value, key), tx.done]);
  }

  async delete(table: StoreTable, key: string): Promise<void> {
    const tx = this.db.transaction(table, 'readwrite', { durability: 'strict' });
    await Promise.all([tx.objectStore(table).delete(key), tx.done]);
  }

  /**
   * The client's key pair: the one stored, or a fresh one (32 bytes from crypto.getRandomValues, the public
   * key by the backend's X25519) stored before it is returned. The same database gives the same address.
   */
  async keyPair(g: Geometry, backend: SphinxBackend): Promise<KeyPair> {
    const stored = (await this.db.get(KEYS_STORE, IDENTITY)) as StoredKeyPair | undefined;
    if (stored !== undefined) return checkKeyPair(g, (s) => backend.x25519Base(s), stored);
    const privateKey = crypto.getRandomValues(new Uint8Array(g.privateKeyBytes));
    const pair: StoredKeyPair = { type: 'x25519', publicKey: backend.x25519Base(privateKey), privateKey };
    const tx = this.db.transaction(KEYS_STORE, 'readwrite', { durability: 'strict' });
    // add(), not put(): of two tabs creating a key at once, the second fails instead of replacing the first.
    await Promise.all([tx.objectStore(KEYS_STORE).add(pair, IDENTITY), tx.done]);
    return { publicKey: pair.publicKey, privateKey: pair.privateKey };
  }

  close(): void {
    // IDBDatabase.close (the DOM library's type, which this Node-compiled project does not load).
    (this.db as unknown as { close(): void }).close();
  }
}
