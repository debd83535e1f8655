/** The columns of a SQLite table as the file has them (what a test checks a store keeps, and nothing more). */
import type Database from 'better-sqlite3';

export function tableColumns(db: Database.Database, table: string): string[] {
  return db
    .prepare<[string], { name: string }>('SELECT name FROM pragma_table_info(?)')
    .all(table)
    .map((c) => c.name);
}
