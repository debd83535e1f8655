/**
 * The relay benchmark's sink: a separate, cheap process bound to the UDP address of the node's next hop. It
 * counts what the node forwards and, while recording, notes for each datagram which pool packet it is and
 * when it arrived (host-wide monotonic ms, src/bench/clock.ts), so src/bench/relay.ts can compute each packet's
 * generator → node → sink latency.
 *
 * A forwarded packet is identified by a fingerprint: 6 bytes of its group element α (offset
 * `fingerprintOffset`), which the parent computed for every pool packet by unwrapping it once with the
 * node's key (unwrapping is deterministic). Datagrams with an unknown fingerprint (the node's own loop
 * packets) are counted separately.
 *
 * IPC (parent → sink):
 *   {type:'init', host, port, rcvbuf, fingerprintFile, fingerprintOffset} → {type:'ready'}
 *   {type:'count'}                → {type:'count', received, matched, unknown, lastArrivalMs}
 *   {type:'record', on}           → {type:'recording', on}
 *   {type:'take'}                 → {type:'taken', index: Int32Array, times: Float64Array} (and clears)
 *   {type:'exit'}
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { makeGeometry } from '../geometry.js';
import { nativeLinkCipher } from '../node/link/cipher.js';
import { BatchSocket, batchUdpSupported, openReusePortGroup } from '../node/udp-batch.js';
import { monoNowMs } from './clock.js';

export interface SinkInit {
  readonly type: 'init';
  readonly host: string;
  readonly port: number;
  readonly rcvbuf: number;
  /** 8 bytes per pool packet: the fingerprint as a little-endian uint48 in the low 6 bytes. */
  readonly fingerprintFile: string;
  readonly fingerprintOffset: number;
  /** Link key mix → sink's node (hex, 16 bytes): each datagram is opened before its packet is fingerprinted. */
  readonly linkKey: string;
  readonly packetBytes: number;
  readonly linkHeaderBytes: number;
}

export interface SinkCount {
  readonly type: 'count';
  readonly received: number;
  readonly matched: number;
  readonly unknown: number;
  /** Monotonic ms of the latest datagram (0 before the first). */
  readonly lastArrivalMs: number;
  readonly cpuMs: number;
}

let received = 0;
let matched = 0;
let unknown = 0;
let lastArrivalMs = 0;
let recording = false;
let index = new Int32Array(1 << 16);
let times = new Float64Array(1 << 16);
let n = 0;
const fingerprints = new Map<number, number>();

function send(msg: unknown): void {
  process.send?.(msg);
}

function grow(): void {
  const i2 = new Int32Array(index.length * 2);
  i2.set(index);
  index = i2;
  const t2 = new Float64Array(times.length * 2);
  t2.set(times);
  times = t2;
}

async function init(m: SinkInit): Promise<void> {
  const fp = readFileSync(m.fingerprintFile);
  for (let i = 0; i < fp.length / 8; i++) fingerprints.set(fp.readUIntLE(i * 8, 6), i);
  const off = m.fingerprintOffset + m.linkHeaderBytes;
  const cipher = nativeLinkCipher();
  const key = Uint8Array.from(Buffer.from(m.linkKey, 'hex'));
  const ok = new Uint8Array(1);
  const datagramBytes = m.linkHeaderBytes + m.packetBytes + makeGeometry().linkTagBytes;
  /** One datagram that arrived at `now` (monotonic ms): open the link, fingerprint, count, record. */
  const onDatagram = (msg: Uint8Array, now: number) => {
    received++;
    if (now > lastArrivalMs) lastArrivalMs = now;
    // Open the link layer first (the node seals every datagram for the next hop; what does not open is "unknown").
    ok[0] = 0;
    if (msg.length === datagramBytes) cipher.openBatch(key, msg, m.packetBytes, 1, ok);
    const i = ok[0] === 1 ? fingerprints.get(readUint48LE(msg, off)) : undefined;
    if (i === undefined) {
      unknown++;
      return;
    }
    matched++;
    if (recording) {
      if (n === index.length) grow();
      index[n] = i;
      times[n] = now;
      n++;
    }
  };
  if (batchUdpSupported()) listenBatched(m, datagramBytes, onDatagram);
  else await listenDgram(m, onDatagram);
  send({ type: 'ready' });
}

/** Datagrams per receive call on the batched path. */
const RECV_BATCH = 64;
let batchSocket: BatchSocket | undefined;

/**
 * Linux: recvmmsg through the addon (src/node/udp-batch.ts), one call per up to RECV_BATCH datagrams, each
 * with its kernel receive timestamp (arrival = now − its wait in the buffer). The sink shares the host with
 * the node under test, so its cost per datagram is cores the node does not get: one JS callback and one
 * recvmsg per datagram cost about twice as much.
 */
function listenBatched(m: SinkInit, datagramBytes: number, onDatagram: (msg: Uint8Array, now: number) => void): void {
  const group = openReusePortGroup({ host: m.host, port: m.port, sockets: 1, bufferBytes: m.rcvbuf });
  const socket = new BatchSocket(group.sockets[0]!.fd, datagramBytes, RECV_BATCH, {
    onReadable: () => {
      for (;;) {
        const b = socket.receive();
        if (b.count === 0) return;
        const now = monoNowMs();
        for (let i = 0; i < b.count; i++)
          onDatagram(
            b.slab.subarray(i * b.slotBytes, i * b.slotBytes + Math.min(b.lengths[i]!, b.slotBytes)),
            now - b.waits[i]!,
          );
        if (b.count < RECV_BATCH) return;
      }
    },
  });
  batchSocket = socket;
  socket.start();
}

/** Elsewhere: one 'message' event per datagram. */
async function listenDgram(m: SinkInit, onDatagram: (msg: Uint8Array, now: number) => void): Promise<void> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: m.rcvbuf });
  socket.on('message', (msg: Buffer) => onDatagram(msg, monoNowMs()));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(m.port, m.host, () => resolve());
  });
  try {
    socket.setRecvBufferSize(m.rcvbuf);
  } catch {
    // the kernel's cap applies; losses here would show as loss, which the parent reports
  }
}

/** Little-endian uint48 at `o` (a fingerprint). */
function readUint48LE(b: Uint8Array, o: number): number {
  return (
    b[o]! + b[o + 1]! * 2 ** 8 + b[o + 2]! * 2 ** 16 + b[o + 3]! * 2 ** 24 + b[o + 4]! * 2 ** 32 + b[o + 5]! * 2 ** 40
  );
}

process.on(
  'message',
  (m: SinkInit | { type: 'count' } | { type: 'record'; on: boolean } | { type: 'take' } | { type: 'exit' }) => {
    switch (m.type) {
      case 'init':
        void init(m).catch((err: Error) => send({ type: 'error', message: err.message }));
        break;
      case 'count': {
        const cpu = process.cpuUsage();
        send({
          type: 'count',
          received,
          matched,
          unknown,
          lastArrivalMs,
          cpuMs: (cpu.user + cpu.system) / 1000,
        } satisfies SinkCount);
        break;
      }
      case 'record':
        recording = m.on;
        send({ type: 'recording', on: recording });
        break;
      case 'take':
        send({ type: 'taken', index: index.slice(0, n), times: times.slice(0, n) });
        n = 0;
        break;
      case 'exit':
        batchSocket?.close();
        process.exit(0);
    }
  },
);
process.on('disconnect', () => process.exit(0));
