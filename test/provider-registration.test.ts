/**
 * Registration churn: a flood of throw-away client keys must not grow the provider's database forever. A key
 * that authenticated once and never received anything is forgotten after `registrationTtlS`; a key with a
 * stored packet, or seen recently, is kept. Real SQLite file; a database written before `last_seen` existed
 * is migrated in place.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeGeometry } from '../src/geometry.js';
import { openInbox } from '../src/provider/inbox.js';

const g = makeGeometry();
const DAY = 86_400_000;
const id = (n: number) => {
  const b = new Uint8Array(g.addressBytes);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};

describe('client registrations expire', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'loopix-reg-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('forgets keys unseen for the TTL that hold nothing, keeps keys with packets or seen lately', () => {
    const inbox = openInbox(join(dir, 'inbox.sqlite'), g);
    for (let n = 1; n <= 200; n++) inbox.register(id(n)); // churn: throw-away keys
    inbox.store(id(1), new Uint8Array(g.packetBytes));
    expect(inbox.clients()).toBe(200);
    expect(inbox.expireClients(30 * DAY)).toBe(0); // all seen just now
    expect(inbox.expireClients(30 * DAY, Date.now() + 31 * DAY)).toBe(199);
    expect(inbox.isRegistered(id(1))).toBe(true);
    expect(inbox.isRegistered(id(2))).toBe(false);
    expect(inbox.clients()).toBe(1);
    inbox.close();
  });

  it('migrates an inbox written before last_seen existed, using registered_at', () => {
    const file = join(dir, 'old.sqlite');
    openInbox(file, g).close();
    const db = new Database(file);
    db.exec(
      'DROP TABLE clients; CREATE TABLE clients (client BLOB PRIMARY KEY, registered_at INTEGER NOT NULL) WITHOUT ROWID',
    );
    db.prepare('INSERT INTO clients VALUES (?, ?)').run(Buffer.from(id(5)), Date.now() - 40 * DAY);
    db.close();
    const inbox = openInbox(file, g);
    expect(inbox.isRegistered(id(5))).toBe(true);
    expect(inbox.expireClients(30 * DAY)).toBe(1);
    inbox.close();
  });
});
