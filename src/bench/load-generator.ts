/**
 * The relay benchmark's load generator: a separate, deliberately cheap process that replays pre-built valid
 * Sphinx packets over UDP at a paced rate (src/bench/relay.ts starts it with `fork`, IPC with the "advanced"
 * serialization so typed arrays cross without JSON).
 *
 * Cheap on purpose, so the node under test gets the cores: the packets are built once by the parent and read
 * from a file; on Linux everything due at one wake-up leaves in one sendmmsg through the addon, elsewhere a
 * *connected* dgram socket sends without a callback (no address lookup, per-packet closure or nextTick).
 *
 * Pacing: packet k is due at start + k / rate. Node's timers have a 1 ms granularity, which would turn any
 * rate into bursts of rate/1000 back-to-back packets (and a node would see, and a latency measurement would
 * charge it for, a burst every millisecond), so during a run the generator sleeps with Atomics.wait (a futex
 * with a sub-millisecond timeout) until the next packet is due and sends whatever is due when it wakes. It
 * blocks its own event loop for the run; it has nothing else to do then. Each send's time is recorded on the host-wide monotonic clock
 * (src/bench/clock.ts) when the parent asks for it, so src/bench/relay.ts can pair it with the sink's arrival time.
 *
 * Node ↔ node links are authenticated (src/node/link): the generator is a node of the layer before the mix
 * (a second provider in the rig's topology), sends from that node's address and seals every packet on the
 * link as it goes out — with the link key the parent derived for it, a fresh sequence number each, in one
 * native batch per wake-up (the same AES-128-GCM the nodes use) — so a pooled packet sent again is a new
 * datagram to the link layer and a replay only to the Sphinx filter.
 *
 * IPC protocol (parent → generator):
 *   {type:'init', poolFile, packetBytes, host, port, sndbuf, bindPort, linkKey, linkEpoch} → {type:'ready', packets}
 *   {type:'run', rate, durationMs, record}                 → {type:'done', ...RunReport}
 *   {type:'exit'}
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { nativeLinkCipher } from '../node/link/cipher.js';
import { makeGeometry } from '../geometry.js';
import {
  BatchSocket,
  batchUdpSupported,
  encodeUdpAddress,
  openReusePortGroup,
  UDP_ADDR_BYTES,
} from '../node/udp-batch.js';
import { monoNowMs } from './clock.js';

export interface GeneratorInit {
  readonly type: 'init';
  readonly poolFile: string;
  readonly packetBytes: number;
  readonly host: string;
  readonly port: number;
  readonly sndbuf: number;
  /** The generator's node address (its UDP port in the topology). */
  readonly bindPort: number;
  /** Address to bind (default 127.0.0.1). */
  readonly bindHost?: string;
  /** Link key generator → mix (hex, 16 bytes) and its epoch. */
  readonly linkKey: string;
  readonly linkEpoch: number;
}

export interface GeneratorRun {
  readonly type: 'run';
  /** Packets per second. */
  readonly rate: number;
  readonly durationMs: number;
  /** Record each packet's send time (monotonic ms). */
  readonly record: boolean;
}

export interface RunReport {
  readonly type: 'done';
  /** Packets handed to the kernel. */
  readonly sent: number;
  /** Sequence number of the first packet of this run (packet i of the pool is seq mod poolSize). */
  readonly firstSeq: number;
  /** Wall time of the run, ms (monotonic). */
  readonly startMs: number;
  readonly endMs: number;
  /** Achieved rate, packets/s. */
  readonly rate: number;
  /** Send errors reported synchronously by the socket. */
  readonly errors: number;
  /** Send time of each packet (monotonic ms), when recorded. */
  readonly times: Float64Array | null;
  /** Generator CPU time during the run (user + system, ms). */
  readonly cpuMs: number;
}

/** Sends `count` sealed datagrams of `bytes` each, back to back in `batch`; returns how many failed. */
type SendBatch = (batch: Uint8Array, bytes: number, count: number) => number;
let sendBatch: SendBatch | undefined;
let closeSocket: () => void = () => undefined;
/** Something to Atomics.wait on (never notified: only the timeout ends the wait). */
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let pool: Buffer[] = [];
let seq = 0;
const cipher = nativeLinkCipher();
const LINK = makeGeometry();
/** Largest batch sealed at once (datagrams due at one wake-up beyond this are sealed in several calls). */
const SEAL_BATCH = 256;
let keys = new Uint8Array(0);
let linkEpoch = 0;
let linkSeq = 0n;

function send(msg: unknown): void {
  process.send?.(msg);
}

async function init(m: GeneratorInit): Promise<void> {
  const bytes = readFileSync(m.poolFile);
  const n = Math.floor(bytes.length / m.packetBytes);
  pool = Array.from({ length: n }, (_, i) => bytes.subarray(i * m.packetBytes, (i + 1) * m.packetBytes));
  keys = new Uint8Array(SEAL_BATCH * 16);
  const key = Buffer.from(m.linkKey, 'hex');
  for (let i = 0; i < SEAL_BATCH; i++) keys.set(key, i * 16);
  linkEpoch = m.linkEpoch;
  linkSeq = BigInt(Date.now()) << 20n; // src/node/link/sequence.ts: above any earlier run's numbers
  // The generator plays provider P1 (the link layer checks the source address): its topology address, on
  // loopback here or on the generator's host when it runs on a bench agent (src/bench/agent.ts).
  sendBatch = batchUdpSupported() ? openBatched(m) : await openDgram(m);
  send({ type: 'ready', packets: n });
}

/**
 * Linux: sendmmsg through the addon (src/node/udp-batch.ts), one call for everything due at one wake-up. The
 * generator shares the host with the node under test, so every syscall it saves is CPU the node gets; the
 * pacing is unchanged (what is due is sent when the generator wakes, as before).
 */
function openBatched(m: GeneratorInit): SendBatch {
  const group = openReusePortGroup({
    host: m.bindHost ?? '127.0.0.1',
    port: m.bindPort,
    sockets: 1,
    bufferBytes: m.sndbuf,
  });
  const socket = new BatchSocket(group.sockets[0]!.fd, 0, 1, { onReadable: () => undefined });
  closeSocket = () => socket.close();
  const to = encodeUdpAddress(m.host, m.port);
  const addrs = new Uint8Array(SEAL_BATCH * UDP_ADDR_BYTES);
  for (let i = 0; i < SEAL_BATCH; i++) addrs.set(to, i * UDP_ADDR_BYTES);
  const status = new Int32Array(SEAL_BATCH);
  return (batch, bytes, count) => {
    let done = 0;
    let failed = 0;
    while (done < count) {
      const k = socket.send(batch.subarray(done * bytes), bytes, count - done, addrs, status);
      for (let i = 0; i < k; i++) if (status[i] !== 0) failed++;
      done += k;
      // Socket buffer full: wait a little for the kernel to take more (the node is the bottleneck then).
      if (k === 0) Atomics.wait(sleeper, 0, 0, 0.05);
    }
    return failed;
  };
}

/** Elsewhere: a connected dgram socket, one send per datagram, without callbacks. */
async function openDgram(m: GeneratorInit): Promise<SendBatch> {
  const socket = dgram.createSocket({ type: 'udp4', sendBufferSize: m.sndbuf });
  socket.on('error', () => undefined);
  closeSocket = () => socket.close();
  await new Promise<void>((resolve) => socket.bind(m.bindPort, m.bindHost ?? '127.0.0.1', () => resolve()));
  await new Promise<void>((resolve, reject) =>
    socket.connect(m.port, m.host, (err?: Error) => (err ? reject(err) : resolve())),
  );
  return (batch, bytes, count) => {
    let failed = 0;
    for (let i = 0; i < count; i++) {
      try {
        socket.send(batch.subarray(i * bytes, (i + 1) * bytes));
      } catch {
        failed++;
      }
    }
    return failed;
  };
}

function run(m: GeneratorRun): void {
  const sendAll = sendBatch!;
  const total = Math.max(0, Math.round((m.rate * m.durationMs) / 1000));
  const times = m.record ? new Float64Array(total) : null;
  const firstSeq = seq;
  const P = pool.length;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const startMs = monoNowMs();
  let sent = 0;
  let errors = 0;
  const perMs = m.rate / 1000;
  while (sent < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor((now - t0) * perMs) + 1);
    while (sent < due) {
      const count = Math.min(SEAL_BATCH, due - sent);
      const D = LINK.linkHeaderBytes + pool[0]!.length + LINK.linkTagBytes;
      const batch = Buffer.allocUnsafe(count * D);
      for (let i = 0; i < count; i++) {
        batch.writeUInt32BE(linkEpoch, i * D);
        batch.writeBigUInt64BE(linkSeq++, i * D + 4);
        pool[(seq + i) % P]!.copy(batch, i * D + LINK.linkHeaderBytes);
      }
      cipher.sealBatch(keys, batch, pool[0]!.length, count);
      // Stamped before the send: the kernel may deliver them, and the node forward them, before it returns.
      if (times) times.fill(monoNowMs(), sent, sent + count);
      errors += sendAll(batch, D, count);
      seq += count;
      sent += count;
    }
    if (sent >= total) break;
    const wait = t0 + sent / perMs - performance.now();
    if (wait > 0) Atomics.wait(sleeper, 0, 0, Math.min(wait, 50));
  }
  const endMs = monoNowMs();
  const cpu = process.cpuUsage(cpu0);
  send({
    type: 'done',
    sent,
    firstSeq,
    startMs,
    endMs,
    rate: (sent * 1000) / Math.max(1, endMs - startMs),
    errors,
    times,
    cpuMs: (cpu.user + cpu.system) / 1000,
  } satisfies RunReport);
}

process.on('message', (m: GeneratorInit | GeneratorRun | { type: 'exit' }) => {
  if (m.type === 'init') void init(m).catch((err: Error) => send({ type: 'error', message: err.message }));
  else if (m.type === 'run') run(m);
  else if (m.type === 'exit') {
    closeSocket();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
