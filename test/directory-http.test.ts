/**
 * `loopix authority serve` as a real process on loopback: bad input to the HTTP API gets a 4xx with a reason
 * and changes nothing; registered nodes' descriptors are taken; and two colluding nodes (f = 2) filing false
 * loop reports against an honest node only remove their own links, while a third reporter (> f) excludes
 * it — checked in the documents the authority publishes, epoch after epoch.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifyDirectoryDocument } from '../src/directory/document.js';
import { signReport } from '../src/directory/report.js';
import { generateIdentityKey } from '../src/directory/identity.js';
import { loopixBin } from '../src/paths.js';
import { freeTcpPort } from '../src/testnet/network.js';
import type { DirectoryDocument } from '../src/topology/types.js';
import { authorityConfigs, descriptorOf, fixtureNodes } from './directory-fixtures.js';

const EPOCH_S = 2;
let child: ChildProcess;
let base: string;
const nodes = fixtureNodes({ providers: 3, layers: 1, perLayer: 2, firstEpoch: 0, epochs: 400 });
let trust: { authorities: string[]; threshold: number };
const genesisMs = Date.now() - 1000;

async function post(
  path: string,
  body: string | Buffer,
  contentType = 'application/json',
): Promise<{ status: number; json: { error?: { code: string; message: string; field?: string }; stored?: boolean } }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, json: (await res.json()) as never };
}
const status = async () =>
  (await (await fetch(`${base}/v1/status`)).json()) as { descriptors: number; reports: number; epoch: number };
const epochNow = () => Math.floor((Date.now() - genesisMs) / (EPOCH_S * 1000));

beforeAll(async () => {
  const port = await freeTcpPort();
  const { keys, configs } = authorityConfigs({
    n: 1,
    nodes,
    genesisMs,
    epochLengthS: EPOCH_S,
    firstEpoch: 0,
    layers: 1,
    isolation: { f: 2 },
    ports: [port],
  });
  const dir = configs[0]!.dataDir;
  const keyFile = join(dir, 'authority.key.json');
  writeFileSync(keyFile, JSON.stringify(keys[0]));
  const configFile = join(dir, 'authority.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({ ...configs[0], identityKeyFile: keyFile, maxBodyBytes: 4096, log: { level: 'warn' } }),
  );
  trust = { authorities: [keys[0]!.publicKey], threshold: 1 };
  base = `http://127.0.0.1:${port}`;
  child = fork(loopixBin(), ['authority', 'serve', '--config', configFile], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`authority exited with ${code}`)));
    child.on('message', (m) => (m as { type?: string }).type === 'ready' && resolve());
  });
}, 120_000);

afterAll(() => {
  child?.kill('SIGTERM');
});

describe('authority HTTP API', () => {
  it('answers bad input with a 4xx naming the problem and stores nothing', async () => {
    const d = (n = nodes[0]!) => descriptorOf(n, Date.now(), 9000, epochNow());
    const good = JSON.stringify({ descriptor: d() });
    const cases: [string, Promise<Awaited<ReturnType<typeof post>>>, number, string][] = [
      ['oversized body', post('/v1/descriptor', Buffer.alloc(10_000, 0x20)), 413, 'ERR_LOOPIX_DIRECTORY_TOO_LARGE'],
      ['malformed JSON', post('/v1/descriptor', '{"descriptor": {'), 400, 'ERR_LOOPIX_DIRECTORY_JSON'],
      ['wrong content type', post('/v1/descriptor', good, 'text/plain'), 415, 'ERR_LOOPIX_DIRECTORY_CONTENT_TYPE'],
      [
        'schema violation',
        post(
          '/v1/descriptor',
          JSON.stringify({ descriptor: { ...d(), body: { ...d().body, udp: { host: 'h', port: 70_000 } } } }),
        ),
        400,
        'ERR_LOOPIX_DIRECTORY_MALFORMED',
      ],
      [
        'unknown node',
        post('/v1/descriptor', JSON.stringify({ descriptor: d({ ...nodes[0]!, identity: generateIdentityKey() }) })),
        403,
        'ERR_LOOPIX_DIRECTORY_UNKNOWN_NODE',
      ],
      [
        'forged signature',
        post('/v1/descriptor', JSON.stringify({ descriptor: { ...d(), signature: d(nodes[1]).signature } })),
        401,
        'ERR_LOOPIX_DIRECTORY_SIGNATURE',
      ],
      ['unknown endpoint', post('/v1/nothing', good), 404, 'ERR_LOOPIX_DIRECTORY_NOT_FOUND'],
    ];
    for (const [what, pending, code, errCode] of cases) {
      const { status: got, json } = await pending;
      expect({ what, status: got, code: json.error?.code }).toEqual({ what, status: code, code: errCode });
      expect(json.error!.message.length).toBeGreaterThan(10);
    }
    expect(await status()).toMatchObject({ descriptors: 0, reports: 0 });
    const wrongMethod = await fetch(`${base}/v1/report`);
    expect(wrongMethod.status).toBe(405);
  });

  it('publishes a document once every registered node announced itself; two colluding reporters (f = 2) cannot exclude an honest node, three can', async () => {
    for (const n of nodes)
      expect(
        (await post('/v1/descriptor', JSON.stringify({ descriptor: descriptorOf(n, Date.now(), 9000, epochNow()) })))
          .status,
      ).toBe(200);
    expect((await status()).descriptors).toBe(nodes.length);
    const honest = nodes.find((n) => n.name === 'mix-1.0')!;
    const providers = nodes.filter((n) => n.role === 'provider');
    const file = async (from: (typeof nodes)[number]) => {
      const body = {
        version: 1 as const,
        epoch: epochNow(),
        reporterKey: from.identity.publicKey,
        link: { from: from.id, to: honest.id },
        due: 60,
        returned: 30,
        issuedAtMs: Date.now(),
      };
      return post('/v1/report', JSON.stringify({ report: signReport(body, from.identity) }));
    };
    // A report whose evidence is one lost loop is refused.
    const weak = signReport(
      {
        version: 1,
        epoch: epochNow(),
        reporterKey: providers[0]!.identity.publicKey,
        link: { from: providers[0]!.id, to: honest.id },
        due: 1,
        returned: 0,
        issuedAtMs: Date.now(),
      },
      providers[0]!.identity,
    );
    expect((await post('/v1/report', JSON.stringify({ report: weak }))).json.error?.code).toBe(
      'ERR_LOOPIX_DIRECTORY_EVIDENCE',
    );
    const r0 = await file(providers[0]!);
    const r1 = await file(providers[1]!);
    expect([r0.status, r1.status]).toEqual([200, 200]);
    const filedIn = epochNow();
    const doc = async (epoch: number) => {
      const res = await fetch(`${base}/v1/document/${epoch}`);
      return res.ok ? verifyDirectoryDocument((await res.json()) as DirectoryDocument, trust) : undefined;
    };
    // From two epochs on the reports are in force: the colluders' links are gone, the honest node is not.
    const two = await vi.waitFor(async () => (await doc(filedIn + 3)) ?? Promise.reject(new Error('not yet')), {
      timeout: 20_000,
      interval: 200,
    });
    expect(two.directory.excluded).toEqual([]);
    expect(two.directory.removedLinks.map((l) => l.to)).toEqual([honest.id, honest.id]);
    expect(two.nodes.map((n) => n.id)).toContain(honest.id);
    // A third distinct reporter (more than f) excludes it: the test above can fail.
    const r2 = await file(providers[2]!);
    expect(r2.status).toBe(200);
    const filed2 = epochNow();
    const three = await vi.waitFor(async () => (await doc(filed2 + 3)) ?? Promise.reject(new Error('not yet')), {
      timeout: 20_000,
      interval: 200,
    });
    expect(three.directory.excluded).toEqual([honest.id]);
  });
});
