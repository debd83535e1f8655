/**
 * Options of a provider client front end for tests (src/provider/ws-server.ts): 127.0.0.1 on a free port, open
 * registration, 4-KiB frames, a 5-s handshake timeout, counters into `counts`, submitted packets to `submit`,
 * no log output. Tests override what they examine.
 */
import type { Geometry } from '../../src/geometry.js';
import type { SqliteInbox } from '../../src/provider/inbox.js';
import type { ClientFrontEndOptions } from '../../src/provider/types.js';

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
