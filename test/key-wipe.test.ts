/**
 * Forward secrecy per epoch (docs/operations.md "Key epochs") as an attacker who later reads a node's memory
 * would test it: a real `loopix mix` process with two worker threads (either packet path: a crypto pool, or
 * sharded workers that do everything) and 6-s key epochs unwraps and forwards
 * packets under epoch 40's key (so the workers' key caches and the link layer hold it), then retires that key.
 * Afterwards:
 *  - heap snapshots of its main thread and of each worker thread (inspector, NodeWorker domain) hold no string
 *    with the retired private key in hex, base64 or raw (latin1) form;
 *  - the whole address space (/proc/<pid>/mem: every thread, the addon's and OpenSSL's heaps, freed memory not
 *    yet reused) holds none of those forms either, while the live key of epoch 41 is found there (the scan sees
 *    the memory it should).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadNodeKeyFile } from '../src/node/keys.js';
import { Inspector, inspectorUrl } from './helpers/inspector.js';
import type { LinkPeer } from './helpers/link-peer.js';
import { findInProcessMemory, mappingOf } from './helpers/process-memory.js';
import { rotatingMixFiles } from './helpers/rotating-mix.js';

const BIN = fileURLToPath(new URL('../bin/loopix.js', import.meta.url));
const EPOCH_S = 6;
/** Long enough for a slow start-up on a loaded machine: epoch 40's key stays live for EPOCH_S + GRACE_S s. */
const GRACE_S = 6;
const FIRST_EPOCH = 40;
const WORKERS = 2;

/** The forms a 32-byte key can take in memory: bytes, hex (both cases, one- and two-byte strings), base64. */
function forms(key: Uint8Array): Record<string, Uint8Array> {
  const b = Buffer.from(key);
  const hex = b.toString('hex');
  return {
    raw: b,
    hex: Buffer.from(hex, 'latin1'),
    HEX: Buffer.from(hex.toUpperCase(), 'latin1'),
    hex16: Buffer.from(hex, 'utf16le'),
    base64: Buffer.from(b.toString('base64'), 'latin1'),
    base64url: Buffer.from(b.toString('base64url'), 'latin1'),
  };
}

/** Which forms of `key` the strings of a heap snapshot contain. */
function inStrings(strings: readonly string[], key: Uint8Array): string[] {
  const b = Buffer.from(key);
  const text = [b.toString('hex'), b.toString('hex').toUpperCase(), b.toString('base64'), b.toString('base64url')];
  const hits = new Set<string>();
  for (const s of strings) {
    for (const t of text) if (s.includes(t)) hits.add(t.length === 64 ? 'hex' : 'base64');
    if (s.length >= 32 && Buffer.from(s, 'latin1').includes(b)) hits.add('raw');
  }
  return [...hits];
}

// The two packet paths run side by side (each its own node process, directory and ports): each test mostly waits
// for its key epoch to end, so together they take the time of one.
describe.concurrent.each(['pool', 'sharded'] as const)('a retired key on a running node (pipeline %s)', (mode) => {
  const dir = mkdtempSync(join(tmpdir(), 'loopix-wipe-'));
  let child: ChildProcess | undefined;
  let sink: LinkPeer | undefined;
  let inspector: Inspector | undefined;
  afterAll(async () => {
    inspector?.close();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    await sink?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is in no heap snapshot of the main thread or a worker, and nowhere in the process memory', async () => {
    // Keys for epochs 40 and 41 only: no later key is ever installed into the retired key's table slot (which
    // would overwrite it and hide a missing wipe).
    const net = await rotatingMixFiles(dir, {
      epoch: FIRST_EPOCH,
      epochLengthS: EPOCH_S,
      epochKeys: 2,
      graceS: GRACE_S,
      nodeConfig: { replay: { maxRatePps: 1000 }, pipeline: { mode, workers: WORKERS } },
    });
    const mixNode = net.mix;
    const store = loadNodeKeyFile(mixNode.keyFile);
    if (store.kind !== 'epochs') throw new Error('expected a key store');
    const retired = store.keys.find((k) => k.epoch === FIRST_EPOCH)!;
    const live = store.keys.find((k) => k.epoch === FIRST_EPOCH + 1)!;

    let stderr = '';
    child = fork(BIN, ['mix', '--config', mixNode.configFile], {
      execArgv: ['--inspect=127.0.0.1:0'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let reported = false;
    child.on('message', () => (reported = true));
    await vi.waitFor(() => expect(reported, stderr).toBe(true), { timeout: 15_000, interval: 50 });
    expect(stderr, 'epoch 40 still live when the node is up').not.toMatch(/"retired":\[(\d+,)*40[,\]]/);

    // Packets under epoch 40's key, one datagram at a time so that both workers get batches; each is
    // unwrapped by a worker and sealed by the link layer with a key derived from the same private key.
    sink = await net.bindProvider();
    const packets = Array.from({ length: 20 }, (_, i) =>
      net.packetFor(FIRST_EPOCH, { delayUs: 1000, content: new Uint8Array([i]) }),
    );
    for (const p of packets) await sink.send(mixNode.entry, [p]);
    await vi.waitFor(() => expect(sink!.received.length).toBe(packets.length), { timeout: 5000, interval: 20 });

    // Epoch 41 begins, and GRACE_S later epoch 40's key is retired.
    await vi.waitFor(() => expect(stderr).toMatch(/"retired":\[(\d+,)*40[,\]]/), {
      timeout: (EPOCH_S + GRACE_S + 3) * 1000,
      interval: 100,
    });
    const pid = child.pid!;
    const needles = { ...prefixed('retired', forms(retired.privateKey)), liveRaw: Buffer.from(live.privateKey) };
    // Crypto workers drop their key copies after each batch; threads with an event loop (the main thread's
    // link-layer reader, sharded workers) sweep theirs at least once a second.
    await vi.waitFor(
      () => {
        const found = findInProcessMemory(pid, needles);
        expect(found.liveRaw!.length, 'the live key is in memory (the scan reads the right process)').toBeGreaterThan(
          0,
        );
        const left = Object.entries(found).filter(([k, v]) => k.startsWith('retired') && v.length > 0);
        expect(left.map(([k, v]) => `${k} at ${v.map((a) => mappingOf(pid, a)).join('; ')}`)).toEqual([]);
      },
      { timeout: 3000, interval: 500 },
    );

    inspector = await Inspector.connect(inspectorUrl(stderr)!);
    const workers = await inspector.attachWorkers(WORKERS);
    expect(workers).toHaveLength(WORKERS);
    for (const session of [undefined, ...workers]) {
      const strings = await inspector.heapStrings(session);
      expect(strings.length, 'a real snapshot').toBeGreaterThan(1000);
      expect(
        inStrings(strings, retired.privateKey),
        `retired key in the heap of ${session ?? 'the main thread'}`,
      ).toEqual([]);
    }
    const after = findInProcessMemory(pid, prefixed('retired', forms(retired.privateKey)));
    expect(
      Object.entries(after)
        .filter(([, v]) => v.length > 0)
        .map(([k]) => k),
    ).toEqual([]);
  }, 90_000);
});

function prefixed(prefix: string, o: Record<string, Uint8Array>): Record<string, Uint8Array> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [`${prefix}.${k}`, v]));
}
