/**
 * Delivery ratio and transmissions per fragment under loss at one mix (docs/pipeline.md "The client"):
 * starts a small testnet of real node processes (2 providers, 2 layers × 1 mix, so every path crosses the
 * lossy mix twice per fragment: the fragment and its ack), two clients, and sends `messages` messages at each
 * loss rate. Prints one JSON line per loss rate:
 *
 *   { loss, messages, delivered_once, delivery_ratio, resolved, rejected, fragments, transmissions,
 *     transmissions_per_fragment, duplicates_at_recipient, seconds }
 *
 * Run on a quiet machine (timing affects the numbers through the retransmission timeout):
 *   npm run build:ts && node dist/src/testnet/reliability.js [--loss 0,0.1,0.3] [--messages 200]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ReceivedMessage } from '../client/client.js';
import { createNodeClient } from '../client/node.js';
import { NetworkParamsSchema } from '../config/schema.js';
import { loadSphinx } from '../sphinx/loader.js';
import { createTestnetFiles, writeKeyFile } from './network.js';
import { NodeProcess } from './processes.js';

export interface ReliabilityResult {
  loss: number;
  messages: number;
  delivered_once: number;
  delivery_ratio: number;
  resolved: number;
  rejected: number;
  fragments: number;
  transmissions: number;
  transmissions_per_fragment: number;
  duplicates_at_recipient: number;
  seconds: number;
}

const PARAMS = { lambdaP: 20, lambdaL: 2, lambdaD: 2, lambdaM: 1, mu: 50, pullIntervalMs: 100, pullK: 16 };

export async function measureReliability(loss: number, messages: number, sizeBytes = 500): Promise<ReliabilityResult> {
  const backend = loadSphinx().backend;
  const dir = mkdtempSync(join(tmpdir(), 'loopix-reliability-'));
  const net = await createTestnetFiles({
    dir,
    shape: { layers: 2, perLayer: 1, providers: 2, epoch: 1 },
    backend,
    params: PARAMS,
    nodeConfig: { pipeline: { workers: 1 }, statsIntervalS: 1, log: { level: 'warn' } },
    ...(loss > 0 ? { perNodeConfig: { 'mix-1.0': { faults: { drop: loss, delayMs: 0, tag: 0 } } } } : {}),
  });
  const nodes = net.nodes.map((n) => new NodeProcess(n, dir));
  const started = performance.now();
  try {
    for (const n of nodes) n.start();
    await Promise.all(nodes.map((n) => n.ready));
    const make = (name: string, provider: number) => {
      const { publicKey, privateKey } = writeKeyFile(join(dir, `${name}.key.json`), backend);
      return createNodeClient({
        config: { providerId: net.index.providers[provider]!.id, params: NetworkParamsSchema.parse(PARAMS) },
        keyPair: { publicKey: Buffer.from(publicKey, 'hex'), privateKey },
        topology: net.index,
        backend,
      });
    };
    const alice = make('alice', 0),
      bob = make('bob', 1);
    const got: ReceivedMessage[] = [];
    void (async () => {
      for await (const m of bob.messages()) got.push(m);
    })();
    alice.start();
    bob.start();
    await Promise.all([alice.waitConnected(30_000), bob.waitConnected(30_000)]);
    let resolved = 0,
      rejected = 0,
      fragments = 0,
      transmissions = 0;
    const handles = [];
    const ids: string[] = [];
    // One message per λP slot on average: envelopes of one or two messages, no merging of the whole run.
    for (let i = 0; i < messages; i++) {
      const h = alice.send(bob.address, crypto.getRandomValues(new Uint8Array(sizeBytes)));
      ids.push(h.messageId);
      handles.push(
        h.then(
          (d) => {
            resolved++;
            return d;
          },
          () => {
            rejected++;
            return undefined;
          },
        ),
      );
      await new Promise((r) => setTimeout(r, 1000 / PARAMS.lambdaP));
    }
    const deliveries = await Promise.all(handles);
    const envelopes = new Set<string>();
    for (const d of deliveries) {
      if (!d || envelopes.has(d.envelopeId)) continue;
      envelopes.add(d.envelopeId);
      fragments += d.fragments;
      transmissions += d.transmissions;
    }
    await new Promise((r) => setTimeout(r, 1000)); // late copies, if any, would show as duplicates
    const copies = new Map<string, number>();
    for (const m of got) copies.set(m.messageId, (copies.get(m.messageId) ?? 0) + 1);
    const deliveredOnce = ids.filter((id) => copies.get(id) === 1).length;
    const result: ReliabilityResult = {
      loss,
      messages,
      delivered_once: deliveredOnce,
      delivery_ratio: deliveredOnce / messages,
      resolved,
      rejected,
      fragments,
      transmissions,
      transmissions_per_fragment: fragments > 0 ? transmissions / fragments : 0,
      duplicates_at_recipient: bob.stats().duplicates_ignored,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
    await Promise.all([alice.stop(), bob.stop()]);
    return result;
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const losses = arg('--loss', '0,0.1,0.3').split(',').map(Number);
  const messages = Number(arg('--messages', '200'));
  for (const loss of losses) process.stdout.write(`${JSON.stringify(await measureReliability(loss, messages))}\n`);
}
