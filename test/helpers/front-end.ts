/**
 * A provider client front end for tests (src/provider/ws-server.ts): its options (127.0.0.1 on a free port,
 * open registration, 4-KiB frames, a 5-s handshake timeout, counters into `counts`, submitted packets to
 * `submit`, no log output; tests override what they examine), and a rig that runs one on a fresh SQLite inbox
 * in a temporary directory for one test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Geometry } from '../../src/geometry.js';
import { openInbox, type SqliteInbox } from '../../src/provider/inbox.js';
import type { ClientFrontEnd, ClientFrontEndOptions } from '../../src/provider/types.js';
import { startClientFrontEnd } from '../../src/provider/ws-server.js';

export function testFrontEndOptions(o: {
  readonly geometry: Geometry;
  readonly pullK: number;
  readonly inbox: SqliteInbox;
  readonly counts: Map<string, number>;
  readonly submit: (packet: Uint8Array) => void;
}): ClientFrontEndOptions {
  return {
    geometry: o.geometry,
    host: '127.0.0.1',
    port: 0,
    pullK: o.pullK,
    registration: 'open',
    allowedClients: [],
    maxFrameBytes: 4096,
    authTimeoutMs: 5000,
    inbox: o.inbox,
    ingress: { submit: o.submit },
    count: (name, by = 1) => o.counts.set(name, (o.counts.get(name) ?? 0) + by),
    log: { info() {}, warn() {}, error() {} },
  };
}

/** One test's front end: a fresh inbox in its own directory, its counters and what it handed on to the node. */
export class FrontEndRig {
  readonly dir: string;
  readonly inbox: SqliteInbox;
  readonly counts = new Map<string, number>();
  /** Every packet the front end handed on to the node, in order. */
  readonly submitted: Uint8Array[] = [];
  server: ClientFrontEnd | undefined;

  constructor(
    prefix: string,
    readonly geometry: Geometry,
    readonly pullK: number,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.inbox = openInbox(join(this.dir, 'inbox.sqlite'), geometry);
  }

  /** Starts the front end with testFrontEndOptions, `over` over them. */
  async start(over: Partial<ClientFrontEndOptions> = {}): Promise<ClientFrontEnd> {
    const { geometry, pullK, inbox, counts } = this;
    this.server = await startClientFrontEnd({
      ...testFrontEndOptions({ geometry, pullK, inbox, counts, submit: (p) => this.submitted.push(p) }),
      ...over,
    });
    return this.server;
  }

  /** Stops the front end, closes the inbox and removes the directory. */
  async close(): Promise<void> {
    await this.server?.close();
    this.inbox.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
