/**
 * The directory with real processes on loopback: three `loopix authority serve` processes (2 of 3), a
 * provider and a mix that announce themselves and follow the documents, and two in-process clients that
 * fetch the documents themselves — no topology file is written or copied by anyone but the node or client
 * that fetched it.
 *
 *  1. Every epoch's new node key reaches the clients through the authorities, and traffic keeps flowing.
 *  2. One authority of three down: documents keep coming (k = 2).
 *  3. Two of three down: clients and nodes keep the last valid document until it expires, then say why
 *     they stop (the client's reason, the node's log and its `directory_document_expired` gauge).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadNodeKeyFile } from '../src/node/keys.js';
import { loadSphinx } from '../src/sphinx/loader.js';
import {
  AuthorityProcess,
  createDirectoryTestnetFiles,
  type DirectoryTestnetFiles,
} from '../src/testnet/authorities.js';
import { NodeProcess } from '../src/testnet/processes.js';
import { DemoTraffic } from '../src/testnet/traffic.js';
import { DirectoryFetcher } from '../src/directory/fetcher.js';
import { epochAtMs } from '../src/directory/document.js';
import { TopologyIndex } from '../src/topology/document.js';
import { startAll } from './helpers/process-net.js';

const EPOCH_S = 4;
let dir: string;
let files: DirectoryTestnetFiles;
let authorities: AuthorityProcess[];
let nodes: NodeProcess[];
let traffic: DemoTraffic;
const logs: string[] = [];

const epochNow = () =>
  epochAtMs({ epochLengthS: EPOCH_S, genesisEpoch: files.firstEpoch, genesisMs: files.genesisMs }, Date.now());
const clientEpoch = (i = 0) => traffic.clients[i]!.topology.doc.epoch;
const nodeGauge = (n: NodeProcess, g: string) => n.last?.gauges[g];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loopix-directory-'));
  const { backend } = loadSphinx();
  files = await createDirectoryTestnetFiles({
    dir,
    shape: { layers: 1, perLayer: 1, providers: 1, epoch: 0, epochLengthS: EPOCH_S, epochKeys: 400, authorities: 3 },
    backend,
    params: { mu: 20, lambdaM: 2, lambdaP: 2, lambdaL: 2, lambdaD: 1 },
    // replay.maxRatePps given (this test sends far fewer packets/s): no unwrap-rate measurement at
    // start-up, and a filter of a few MB instead of ≈ 200 MB per node that every snapshot and every
    // stop would copy, hash and write.
    nodeConfig: { pipeline: { workers: 1 }, statsIntervalS: 0.5, log: { level: 'info' }, replay: { maxRatePps: 1000 } },
  });
  authorities = files.authorities.map((a) => new AuthorityProcess(a, dir));
  await startAll(authorities);
  nodes = files.nodes.map((n) => new NodeProcess(n, dir));
  await startAll(nodes);
  const doc = await new DirectoryFetcher(files.directory).document(epochNow());
  traffic = new DemoTraffic({
    clients: 2,
    messageIntervalS: 1,
    params: { mu: 20, lambdaP: 2, lambdaL: 2, lambdaD: 1 },
    backend,
    topology: new TopologyIndex(doc),
    dir,
    directory: files.directory,
    log: (l) => logs.push(l),
  });
  await traffic.start();
  traffic.startSending();
}, 300_000);

afterAll(async () => {
  await traffic?.stop();
  await Promise.all([...(nodes ?? []).map((n) => n.stop()), ...(authorities ?? []).map((a) => a.stop())]);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('directory authorities with real processes', () => {
  it("delivers each epoch's new node keys to every client through the authorities, with traffic flowing", async () => {
    const start = clientEpoch();
    await vi.waitFor(() => expect(Math.min(clientEpoch(0), clientEpoch(1))).toBeGreaterThanOrEqual(start + 2), {
      timeout: 60_000,
      interval: 200,
    });
    const index = traffic.clients[0]!.topology;
    for (const node of files.nodes) {
      const store = loadNodeKeyFile(node.keyFile);
      if (store.kind !== 'epochs') throw new Error('expected a key store');
      const key = store.keys.find((k) => k.epoch === index.doc.epoch)!;
      expect(index.node(node.entry.id)!.publicKey).toBe(Buffer.from(key.publicKey).toString('hex'));
    }
    const returned = traffic.clients[0]!.stats().loops_returned;
    await vi.waitFor(() => expect(traffic.clients[0]!.stats().loops_returned).toBeGreaterThan(returned + 2), {
      timeout: 30_000,
      interval: 200,
    });
    expect(traffic.deliveredMessages).toBeGreaterThan(0);
  });

  it('keeps publishing with one authority of three down', async () => {
    await authorities[0]!.kill();
    const start = clientEpoch();
    await vi.waitFor(() => expect(clientEpoch()).toBeGreaterThanOrEqual(start + 2), { timeout: 60_000, interval: 200 });
    await vi.waitFor(() => expect(nodeGauge(nodes[1]!, 'directory_document_epoch')).toBeGreaterThanOrEqual(start + 2), {
      timeout: 30_000,
      interval: 200,
    });
    expect(traffic.expired.size).toBe(0);
  });

  it('with two of three down, clients and nodes use the last valid document until it expires, then say why they stop', async () => {
    await authorities[1]!.kill();
    const last = clientEpoch();
    // The kept document still serves until the epoch after next begins.
    await vi.waitFor(() => expect(traffic.expired.size).toBe(2), { timeout: 60_000, interval: 200 });
    expect(clientEpoch()).toBeLessThanOrEqual(last + 1);
    expect(epochNow()).toBeGreaterThanOrEqual(clientEpoch() + 2);
    for (const reason of traffic.expired.values())
      expect(reason).toMatch(/expired at .* no authority quorum \(2 of 3\)/);
    expect(logs.some((l) => l.includes('stopped sending'))).toBe(true);
    await vi.waitFor(() => expect(nodeGauge(nodes[1]!, 'directory_document_expired')).toBe(true), {
      timeout: 30_000,
      interval: 200,
    });
    const log = readFileSync(join(dir, `${files.nodes[1]!.name}.log`), 'utf8');
    expect(log).toContain('own loops stopped: no valid directory document');
  });
});
