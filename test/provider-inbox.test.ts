import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeGeometry } from '../src/geometry.js';
import { inboxPath, openInbox } from '../src/provider/inbox.js';

const g = makeGeometry();

function packet(tag: number): Uint8Array {
  return new Uint8Array(g.packetBytes).fill(tag);
}
function client(tag: number): Uint8Array {
  return new Uint8Array(g.addressBytes).fill(tag);
}

describe('provider inbox (SQLite)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'loopix-inbox-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates its data directory and survives a close and reopen with every packet intact', () => {
    const file = inboxPath(join(dir, 'nested', 'data'));
    const a = openInbox(file, g);
    a.store(client(1), packet(10));
    a.store(client(1), packet(11));
    a.store(client(2), packet(20));
    a.register(client(1));
    a.close();

    const b = openInbox(file, g);
    expect(b.count(client(1))).toBe(2);
    expect(b.count(client(2))).toBe(1);
    expect(b.isRegistered(client(1))).toBe(true);
    expect(b.isRegistered(client(2))).toBe(false);
    expect(b.fetch(client(1), 10).map((p) => p.packet[0])).toEqual([10, 11]);
    b.close();
  });

  it('runs in WAL mode with synchronous=FULL, so a stored packet is on disk when store returns', () => {
    const inbox = openInbox(join(dir, 'inbox.sqlite'), g);
    expect(inbox.durability).toEqual({ journalMode: 'wal', synchronous: 2 });
    inbox.close();
  });

  it('fetches oldest first, at most k, without removing', () => {
    const inbox = openInbox(join(dir, 'i.sqlite'), g);
    for (let i = 0; i < 5; i++) inbox.store(client(1), packet(i));
    const first = inbox.fetch(client(1), 3);
    expect(first.map((p) => p.packet[0])).toEqual([0, 1, 2]);
    expect(first.every((p) => p.packet.length === g.packetBytes)).toBe(true);
    expect(inbox.fetch(client(1), 3).map((p) => p.id)).toEqual(first.map((p) => p.id));
    expect(inbox.fetch(client(1), 0)).toEqual([]);
    inbox.close();
  });

  it("removes only the named client's rows, ignoring ids of other clients", () => {
    const inbox = openInbox(join(dir, 'i.sqlite'), g);
    inbox.store(client(1), packet(1));
    inbox.store(client(2), packet(2));
    const [mine] = inbox.fetch(client(1), 1);
    const [theirs] = inbox.fetch(client(2), 1);
    inbox.remove(client(1), [theirs!.id]);
    expect(inbox.count(client(2))).toBe(1);
    inbox.remove(client(1), [mine!.id]);
    expect(inbox.count(client(1))).toBe(0);
    expect(inbox.count(client(2))).toBe(1);
    inbox.close();
  });

  it('stores a batch in one transaction', () => {
    const inbox = openInbox(join(dir, 'i.sqlite'), g);
    inbox.storeMany([
      { clientId: client(1), packet: packet(1) },
      { clientId: client(2), packet: packet(2) },
    ]);
    expect(() =>
      inbox.storeMany([
        { clientId: client(1), packet: packet(3) },
        { clientId: client(1), packet: new Uint8Array(3) },
      ]),
    ).toThrow(/entries\[1\]\.packet must be 1314 bytes, got 3/);
    expect(inbox.total()).toBe(2);
    inbox.close();
  });

  it('rejects wrong sizes with a RangeError naming the argument', () => {
    const inbox = openInbox(join(dir, 'i.sqlite'), g);
    expect(() => inbox.store(new Uint8Array(3), packet(1))).toThrow(RangeError);
    expect(() => inbox.store(new Uint8Array(3), packet(1))).toThrow(/clientId must be 16 bytes, got 3/);
    expect(() => inbox.store(client(1), new Uint8Array(g.packetBytes - 1))).toThrow(
      /packet must be 1314 bytes, got 1313/,
    );
    expect(() => inbox.fetch(client(1), -1)).toThrow(/k must be a non-negative integer/);
    expect(() => inbox.remove(client(1), [1.5])).toThrow(/ids\[0\] must be an integer/);
    inbox.close();
  });

  it('refuses a file written for another geometry', () => {
    const file = join(dir, 'i.sqlite');
    openInbox(file, g).close();
    expect(() => openInbox(file, makeGeometry({ contentBytes: 2048 }))).toThrow(
      /packetBytes = 1314, but the geometry says/,
    );
  });
});
