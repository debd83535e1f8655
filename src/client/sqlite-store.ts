/**
 * The Node client's store (src/client/store.ts) in an SQLite file next to the key file, through
 * better-sqlite3 (already the project's SQLite binding). Why SQLite rather than a JSON file rewritten with an
 * atomic rename: acknowledging one fragment or remembering one seen id is one small row write in a
 * transaction-safe journal (WAL), not a rewrite of every pending envelope, and a SIGKILL in the middle of a
 * write leaves the previous state intact. synchronous=FULL: a write has reached the disk when put() returns,
 * which is what an acknowledgement promises.
 */
import Database from 'better-sqlite3';
import { LoopixError } from '../errors.js';
import { emptySnapshot, STORE_TABLES, type ClientStore, type StoreSnapshot, type StoreTable } from './store.js';

export class SqliteStore implements ClientStore {
  private readonly db: Database.Database;
  private readonly putStmt: Database.Statement;
  private readonly deleteStmt: Database.Statement;

  constructor(readonly file: string) {
    try {
      this.db = new Database(file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.exec(
        'CREATE TABLE IF NOT EXISTS client_state (tbl TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID',
      );
    } catch (err) {
      throw new LoopixError('ERR_LOOPIX_CLIENT_STORE', `client store ${file}: ${(err as Error).message}`, {
        field: file,
        cause: err,
      });
    }
    this.putStmt = this.db.prepare('INSERT OR REPLACE INTO client_state (tbl, key, value) VALUES (?, ?, ?)');
    this.deleteStmt = this.db.prepare('DELETE FROM client_state WHERE tbl = ? AND key = ?');
  }

  load(): StoreSnapshot {
    const snap = emptySnapshot();
    const rows = this.db.prepare('SELECT tbl, key, value FROM client_state').all() as Array<{
      tbl: string;
      key: string;
      value: string;
    }>;
    for (const r of rows)
      if ((STORE_TABLES as readonly string[]).includes(r.tbl)) snap[r.tbl as StoreTable].set(r.key, r.value);
    return snap;
  }

  put(table: StoreTable, key: string, value: string): void {
    this.putStmt.run(table, key, value);
  }

  delete(table: StoreTable, key: string): void {
    this.deleteStmt.run(table, key);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
