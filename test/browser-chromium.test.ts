/**
 * The browser client in a real browser: Debian's Chromium, headless, driven by playwright-core, against a
 * local network of real node processes on loopback. The page is the chat demo (examples/chat/), bundled by
 * esbuild and served by `loopix chat --dir <testnet folder>` (README "Chat demo"); each page runs the browser client (TypeScript Sphinx twin,
 * the browser's WebSocket straight to its provider, IndexedDB). Not jsdom: the bytes on the wire are
 * Chromium's.
 *
 * - Alice (page A) adds Bob by address and sends; Bob (page B) receives, replies; Alice receives the reply.
 *   The screenshot of Alice's page goes to the run's directory; with LOOPIX_UPDATE_SCREENSHOT=1 it replaces
 *   docs/chat.png (README "Chat demo"), so that a CI run leaves the checkout clean.
 * - Bob leaves (page navigated away), Alice writes meanwhile, Bob comes back (same URL): the same address
 *   (key pair from IndexedDB) and the message that waited in his provider's inbox.
 * - The send rate on the wire: the packets provider-0 receives from Alice's browser and provider-2 from a Node
 *   client over the same period agree within Poisson sampling error (Loopix §3.2: λP + λL + λD either way).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LoopixClient } from '../src/client/client.js';
import { createNodeClient } from '../src/client/node.js';
import { NetworkParamsSchema } from '../src/config/schema.js';
import { loopixBin, repoRoot } from '../src/paths.js';
import { writeClientConfigs } from '../src/testnet/client-configs.js';
import { createTestnetFiles, writeKeyFile, type TestnetFiles } from '../src/testnet/network.js';
import { NodeProcess } from '../src/testnet/processes.js';
import { native } from './helpers/backends.js';

const CHROMIUM = '/usr/bin/chromium';
// λP + λL + λD = 16 packets/s per client. Pulls of 4 packets every 250 ms keep the page's TypeScript unwraps
// (every pulled packet, dummies included) at 16/s: two pages and four nodes share two cores.
const params = { lambdaP: 10, lambdaL: 3, lambdaD: 3, lambdaM: 1, mu: 50, pullIntervalMs: 250, pullK: 4 };
const RATE_WINDOW_MS = 10_000;

let dir: string;
let net: TestnetFiles;
let nodes: NodeProcess[] = [];
/** `loopix chat --dir <dir> --port 0`, as README "Chat demo" runs it (with a free port). */
let chat: { url: string; child: ChildProcess } | undefined;
let browser: Browser | undefined;
let nodeClient: LoopixClient | undefined;

interface PageChat {
  chat?: { client: { address: string; connected: boolean; stats(): { sent_real: number } } };
}

const submitted = (name: string) =>
  nodes
    .find((n) => n.node.name === name)!
    .snapshots()
    .reduce((a, s) => a + (s.counters.client_submitted ?? 0), 0);
const delivered = (name: string) =>
  nodes
    .find((n) => n.node.name === name)!
    .snapshots()
    .reduce((a, s) => a + (s.counters.delivered ?? 0), 0);

async function openChat(page: Page, name: string, provider: number): Promise<string> {
  await page.goto(`${chat!.url}?name=${name}&provider=${provider}`);
  await vi.waitFor(
    async () => expect(await page.evaluate(() => (globalThis as PageChat).chat?.client.connected === true)).toBe(true),
    { timeout: 20_000, interval: 100 },
  );
  return page.evaluate(() => (globalThis as PageChat).chat!.client.address);
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#message', text);
  await page.click('#send');
}

const lineOf = (page: Page, who: 'mine' | 'theirs', text: string) =>
  page.locator(`#messages li.${who}`, { hasText: text });

/** The few IndexedDB calls countStore makes in the page (the test is compiled without the DOM library). */
interface Idb {
  indexedDB: {
    open(name: string): {
      result: {
        transaction(
          store: string,
          mode: 'readonly',
        ): {
          objectStore(name: string): {
            count(): { result: number; error: unknown; onsuccess: () => void; onerror: () => void };
          };
        };
        close(): void;
      };
      error: unknown;
      onsuccess: () => void;
      onerror: () => void;
    };
  };
}

/** Entries of one object store of a page's IndexedDB database, read with the IndexedDB API in the page. */
function countStore(page: Page, database: string, store: string): Promise<number> {
  return page.evaluate(
    ([db, st]) =>
      new Promise<number>((resolve, reject) => {
        const open = (globalThis as unknown as Idb).indexedDB.open(db!);
        open.onerror = () => reject(new Error(String(open.error)));
        open.onsuccess = () => {
          const req = open.result.transaction(st!, 'readonly').objectStore(st!).count();
          req.onsuccess = () => {
            open.result.close();
            resolve(req.result);
          };
          req.onerror = () => reject(new Error(String(req.error)));
        };
      }),
    [database, store],
  );
}

/** Starts `loopix chat` and resolves with the URL it prints once it listens. */
function startChat(folder: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [loopixBin(), 'chat', '--dir', folder, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /chat demo on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`loopix chat exited (${code}): ${err}`)));
  });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  dir = mkdtempSync(join(tmpdir(), 'loopix-browser-'));
  net = await createTestnetFiles({
    dir,
    shape: { layers: 1, perLayer: 1, providers: 3, epoch: 1 },
    backend: native,
    params,
    // replay.maxRatePps given (this test sends far fewer packets/s): no unwrap-rate measurement at
    // start-up, and a filter of a few MB instead of ≈ 200 MB per node that every snapshot and every
    // stop would copy, hash and write.
    nodeConfig: {
      pipeline: { workers: 1 },
      statsIntervalS: 0.25,
      log: { level: 'warn' },
      replay: { maxRatePps: 1000 },
    },
  });
  nodes = net.nodes.map((n) => new NodeProcess(n, dir));
  for (const n of nodes) n.start();
  // What `loopix testnet` writes for clients; the chat server reads the trust and parameters from it.
  writeClientConfigs(
    {
      dir,
      providers: net.index.providers,
      source: { kind: 'static', topologyFile: '../topology.json', authorityPublicKey: net.authority.publicKey },
    },
    native,
    params,
  );
  [chat, browser] = await Promise.all([
    startChat(dir),
    chromium.launch({ executablePath: CHROMIUM }),
    Promise.all(nodes.map((n) => n.ready)),
  ]);
}, 60_000);

afterAll(async () => {
  await nodeClient?.stop();
  await browser?.close();
  if (chat && chat.child.exitCode === null) {
    const exited = new Promise((r) => chat!.child.once('exit', r));
    chat.child.kill('SIGINT');
    await exited;
  }
  await Promise.all(nodes.map((n) => n.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('browser client in Chromium', () => {
  it("chats: A sends to B, B replies, A receives; B reloads and still gets what came meanwhile; the wire rate is the Node client's", async () => {
    const context = await browser!.newContext({ viewport: { width: 960, height: 540 } });
    const a = await context.newPage();
    const b = await context.newPage();
    const [alice, bob] = await Promise.all([openChat(a, 'alice', 0), openChat(b, 'bob', 1)]);
    expect(alice).toMatch(new RegExp(`^loopix1:${net.index.providers[0]!.id}:[0-9a-f]{64}$`));

    // A Node client alone on provider-2, Alice alone on provider-0: the providers count each one's packets.
    const { publicKey, privateKey } = writeKeyFile(join(dir, 'node-client.key.json'), native);
    nodeClient = createNodeClient({
      config: { providerId: net.index.providers[2]!.id, params: NetworkParamsSchema.parse(params) },
      keyPair: { publicKey: Buffer.from(publicKey, 'hex'), privateKey },
      topology: net.index,
      backend: native,
    });
    nodeClient.start();
    await nodeClient.waitConnected(15_000);
    const t0 = { browser: submitted('provider-0'), node: submitted('provider-2'), at: performance.now() };

    // Alice adds Bob and writes; Bob's page files the message under Alice (its content names her address).
    await a.fill('#contact-name', 'bob');
    await a.fill('#contact-address', bob);
    await a.click('#add-contact');
    await say(a, 'Hello Bob, this is Alice in Chromium');
    await lineOf(b, 'theirs', 'Hello Bob').waitFor({ timeout: 20_000 });
    await say(b, 'Hi Alice! Got it through the mixes.');
    await lineOf(a, 'theirs', 'Hi Alice').waitFor({ timeout: 20_000 });
    await vi.waitFor(
      async () => expect(await lineOf(a, 'mine', 'Hello Bob').getAttribute('data-state')).toBe('delivered'),
      { timeout: 20_000, interval: 100 },
    );
    const shot =
      process.env.LOOPIX_UPDATE_SCREENSHOT === '1' ? join(repoRoot(), 'docs', 'chat.png') : join(dir, 'chat.png');
    await a.screenshot({ path: shot });
    expect(statSync(shot).size).toBeGreaterThan(1000);

    // The rate window closes after the exchange (real messages replace cover packets, the rate stays).
    const left = RATE_WINDOW_MS - (performance.now() - t0.at);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    const fromBrowser = submitted('provider-0') - t0.browser;
    const fromNode = submitted('provider-2') - t0.node;
    const seconds = (performance.now() - t0.at) / 1000;
    const expected = (params.lambdaP + params.lambdaL + params.lambdaD) * seconds;
    // Two Poisson counts of the same rate: their difference has standard deviation √(a + b); 4 σ.
    expect(
      Math.abs(fromBrowser - fromNode),
      `browser ${fromBrowser}, node ${fromNode} packets in ${seconds.toFixed(1)} s`,
    ).toBeLessThanOrEqual(4 * Math.sqrt(fromBrowser + fromNode));
    for (const n of [fromBrowser, fromNode])
      expect(Math.abs(n - expected), `${n} packets, ${expected.toFixed(0)} expected`).toBeLessThanOrEqual(
        4 * Math.sqrt(expected) + 16 * 0.5,
      );

    // Bob leaves; Alice writes; the message waits in provider-1's inbox; Bob comes back on the same URL.
    await b.goto('about:blank');
    const sentReal = () => a.evaluate(() => (globalThis as PageChat).chat!.client.stats().sent_real);
    const sent0 = await sentReal();
    await say(a, 'Are you there? Sent while you were away.');
    // Its fragment has left Alice (a λP slot), and her envelope waits, unacknowledged, in her IndexedDB.
    await vi.waitFor(async () => expect(await sentReal()).toBeGreaterThan(sent0), { timeout: 20_000, interval: 100 });
    await vi.waitFor(
      async () => expect(await countStore(a, 'loopix-chat-alice', 'outgoing')).toBeGreaterThanOrEqual(1),
      { timeout: 20_000, interval: 100 },
    );
    // Then provider-1 commits a packet to an inbox (Bob's is the only one there): the message arrived meanwhile.
    const inbox0 = delivered('provider-1');
    await vi.waitFor(() => expect(delivered('provider-1')).toBeGreaterThan(inbox0), { timeout: 20_000, interval: 100 });
    const bobAgain = await openChat(b, 'bob', 1);
    expect(bobAgain).toBe(bob);
    await lineOf(b, 'theirs', 'Sent while you were away').waitFor({ timeout: 20_000 });
    expect(await countStore(b, 'loopix-chat-bob', 'keys')).toBe(1);
    // Bob's seen envelopes survive the reload (duplicate suppression across restarts).
    expect(await countStore(b, 'loopix-chat-bob', 'seen')).toBeGreaterThanOrEqual(2);
    await vi.waitFor(
      async () => expect(await lineOf(a, 'mine', 'Are you there').getAttribute('data-state')).toBe('delivered'),
      { timeout: 20_000, interval: 100 },
    );
    await context.close();
  }, 90_000); // ~20 s on an idle 2-core machine; the margin is for a loaded CI host
});
