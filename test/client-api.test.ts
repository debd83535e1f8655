/**
 * The local client API (src/client-api/) in front of real LoopixClients over a real WebSocket provider peer
 * (test/client-fixtures.ts), driven by plain `ws` clients: every request type in both framings, error frames
 * that leave the connection usable, the frame size limit, two applications on one client, and the
 * defenses (browser origins, off-host binding).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { LoopixClient } from '../src/client/client.js';
import { SimulatedScheduler } from '../src/client/streams.js';
import { isLoopbackHost } from '../src/client-api/bind.js';
import { ApiErrorCode, BinaryKind, BINARY_HEADER_BYTES } from '../src/client-api/protocol.js';
import { MESSAGE_ID_BYTES } from '../src/client/fragments.js';
import { ClientApiServer } from '../src/client-api/server.js';
import { apiClientFor } from '../src/client-api/adapter.js';
import { createNodeClient } from '../src/client/node.js';
import { NetworkParamsSchema } from '../src/config/schema.js';
import { isLoopixError } from '../src/errors.js';
import {
  clientBackend,
  FAST_PARAMS,
  keyPair,
  makeNetwork,
  route,
  startTestProviders,
  TestProvider,
  toHex,
  withPostOffice,
} from './client-fixtures.js';
import { mailboxEpochAt, mailboxId, parseAnonymousAddress } from '../src/postoffice/mailbox.js';
import { decodeRequest } from '../src/postoffice/wire.js';
import { MemoryTransport, SIM_PARAMS, simClient } from './helpers/sim-client.js';
import { thrown } from './helpers/errors.js';

const backend = clientBackend();
const params = NetworkParamsSchema.parse({ ...FAST_PARAMS, maxMessageBytes: 4096 });

let providers: TestProvider[] = [];
let alice: LoopixClient;
let bob: LoopixClient;
let aliceApi: ClientApiServer;
let bobApi: ClientApiServer;
let aliceUrl = '';
let bobUrl = '';

beforeAll(async () => {
  const made = await startTestProviders(backend, { pullK: params.pullK });
  const net = made.net;
  providers = made.providers;
  const make = (provider: number) =>
    createNodeClient({
      config: { providerId: net.providers[provider]!.id, params },
      keyPair: keyPair(backend),
      topology: net.topology,
      backend,
    });
  alice = make(0);
  bob = make(1);
  alice.start();
  bob.start();
  aliceApi = new ClientApiServer({ client: apiClientFor(alice), port: 0, allowedOrigins: ['http://localhost:5173'] });
  bobApi = new ClientApiServer({ client: apiClientFor(bob), port: 0 });
  aliceUrl = (await aliceApi.start()).url;
  bobUrl = (await bobApi.start()).url;
});

afterAll(async () => {
  await aliceApi?.stop();
  await bobApi?.stop();
  await alice?.stop();
  await bob?.stop();
  for (const p of providers) await p.stop();
});

/** A plain WebSocket application: collects every frame it gets. */
class App {
  readonly frames: Array<Record<string, unknown> | Buffer> = [];
  closed: { code: number; reason: string } | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) =>
      this.frames.push(isBinary ? data : (JSON.parse(data.toString()) as Record<string, unknown>)),
    );
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }
  static async open(url: string, headers: Record<string, string> = {}): Promise<App> {
    // Listening before the handshake completes: the server may send frames in the same packet as its answer.
    const app = new App(new WebSocket(url, { headers }));
    await new Promise<void>((resolve, reject) => {
      app.ws.once('open', resolve);
      app.ws.once('error', reject);
      app.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return app;
  }
  json(): Record<string, unknown>[] {
    return this.frames.filter((f): f is Record<string, unknown> => !Buffer.isBuffer(f));
  }
  binary(): Buffer[] {
    return this.frames.filter((f): f is Buffer => Buffer.isBuffer(f));
  }
  /** Sends a JSON request and waits for the frame answering its id. */
  async request(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.ws.send(JSON.stringify(req));
    return vi.waitFor(
      () => {
        const r = this.json().find((f) => f.id === req.id && f.type !== 'received');
        if (!r) throw new Error(`no answer to ${String(req.id)}`);
        return r;
      },
      { timeout: 10_000, interval: 10 },
    );
  }
  async waitJson(pred: (f: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    return vi.waitFor(
      () => {
        const r = this.json().find(pred);
        if (!r) throw new Error('frame not arrived');
        return r;
      },
      { timeout: 20_000, interval: 20 },
    );
  }
  close(): void {
    this.ws.close();
  }
}

/** Opens an application on each URL, runs `test` with them, and closes every one however the test ends. */
async function withApps<const U extends readonly string[]>(
  urls: U,
  test: (apps: { -readonly [K in keyof U]: App }) => Promise<void>,
): Promise<void> {
  const apps: App[] = [];
  try {
    for (const url of urls) apps.push(await App.open(url));
    await test(apps as { -readonly [K in keyof U]: App });
  } finally {
    for (const app of apps) app.close();
  }
}

const binarySend = (id: number, to: string, body: Uint8Array) => {
  const frame = Buffer.alloc(BINARY_HEADER_BYTES + 2 + to.length + body.length);
  frame[0] = BinaryKind.send;
  frame.writeUInt32BE(id, 1);
  frame.writeUInt16BE(to.length, 5);
  frame.write(to, 7, 'latin1');
  frame.set(body, 7 + to.length);
  return frame;
};

describe('loopix client API (JSON frames)', () => {
  it("answers selfAddress, sends a message and delivers it as a received frame to the recipient's application", async () => {
    await withApps([aliceUrl, bobUrl], async ([a, b]) => {
      expect(await a.request({ type: 'selfAddress', id: 'who' })).toEqual({
        type: 'selfAddress',
        id: 'who',
        address: alice.address,
      });
      const bobAddress = (await b.request({ type: 'selfAddress', id: 1 })).address as string;
      const sent = await a.request({ type: 'send', id: 2, to: bobAddress, message: 'hello über the API' });
      expect(sent).toMatchObject({ type: 'sent', id: 2 });
      expect(sent.messageId).toMatch(/^[0-9a-f]{32}$/);
      const got = await b.waitJson((f) => f.type === 'received' && f.messageId === sent.messageId);
      expect(got.message).toBe('hello über the API');
      expect(Buffer.from(got.data as string, 'base64').toString()).toBe('hello über the API');
      expect(typeof got.latencyMs).toBe('number');

      const bytes = Uint8Array.from([0, 255, 1, 254, 0xc3]); // not UTF-8: only data, no message
      const sent2 = await a.request({
        type: 'send',
        id: 3,
        to: bobAddress,
        data: Buffer.from(bytes).toString('base64'),
      });
      const got2 = await b.waitJson((f) => f.type === 'received' && f.messageId === sent2.messageId);
      expect(got2.message).toBeUndefined();
      expect(new Uint8Array(Buffer.from(got2.data as string, 'base64'))).toEqual(bytes);
    });
  });

  it('sends anonymously with reply SURBs: the recipient gets a sender tag, not an address, and its reply comes back', async () => {
    await withApps([aliceUrl, bobUrl], async ([a, b]) => {
      const anon = await a.request({
        type: 'sendAnonymous',
        id: 'anon',
        to: bob.address,
        message: 'who am I?',
        replySurbs: 2,
      });
      expect(anon).toMatchObject({ type: 'sent', id: 'anon' });
      const got = await b.waitJson((f) => f.type === 'received' && f.messageId === anon.messageId);
      expect(got.message).toBe('who am I?');
      expect(typeof got.senderTag).toBe('string');
      expect(JSON.stringify(got)).not.toContain(alice.address.split(':')[2]!); // no trace of the sender's key
      const rep = await b.request({ type: 'reply', id: 'rep', senderTag: got.senderTag, message: 'a reply' });
      expect(rep).toMatchObject({ type: 'sent', id: 'rep' });
      const back = await a.waitJson((f) => f.type === 'received' && f.messageId === rep.messageId);
      expect(back.message).toBe('a reply');
    });
  });

  it('answers malformed and invalid requests with error frames naming the problem and keeps the connection usable', async () => {
    await withApps([aliceUrl], async ([a]) => {
      a.ws.send('{not json');
      await a.waitJson((f) => f.type === 'error' && f.code === ApiErrorCode.malformed);
      a.ws.send('[1,2]');
      expect(await a.request({ type: 'fly', id: 'u' })).toMatchObject({
        type: 'error',
        code: ApiErrorCode.unknownType,
        field: 'type',
      });
      expect(await a.request({ type: 'send', id: 'n', to: bob.address })).toMatchObject({
        code: ApiErrorCode.invalidField,
        field: 'message',
      });
      expect(await a.request({ type: 'send', id: 'b64', to: bob.address, data: 'no base64!' })).toMatchObject({
        code: ApiErrorCode.invalidField,
        field: 'data',
      });
      expect(await a.request({ type: 'send', id: 'addr', to: 'loopix1:zz', message: 'x' })).toMatchObject({
        code: ApiErrorCode.badAddress,
        field: 'to',
      });
      expect(
        await a.request({
          type: 'send',
          id: 'big',
          to: bob.address,
          data: Buffer.alloc(params.maxMessageBytes + 1).toString('base64'),
        }),
      ).toMatchObject({
        code: ApiErrorCode.messageTooLarge,
        field: 'message',
      });
      expect(
        await a.request({ type: 'sendAnonymous', id: 's', to: bob.address, message: 'x', replySurbs: -1 }),
      ).toMatchObject({ code: ApiErrorCode.invalidField, field: 'replySurbs' });
      expect(a.json().filter((f) => f.code === ApiErrorCode.malformed)).toHaveLength(2);
      expect(a.closed).toBeUndefined();
      expect(await a.request({ type: 'selfAddress', id: 'still-here' })).toMatchObject({ address: alice.address });
    });
  });

  it('answers a frame over the size limit with an error frame, then closes with 1009', async () => {
    const a = await App.open(aliceUrl);
    a.ws.send(JSON.stringify({ type: 'send', id: 1, to: bob.address, message: 'x'.repeat(aliceApi.maxFrameBytes) }));
    await vi.waitFor(() => expect(a.closed).toBeDefined(), { timeout: 5000 });
    expect(a.json()).toEqual([expect.objectContaining({ type: 'error', code: ApiErrorCode.frameTooLarge })]);
    expect(a.closed!.code).toBe(1009);
  });
});

describe('loopix client API (binary frames)', () => {
  it('sends, answers selfAddress and delivers received frames in the binary framing', async () => {
    await withApps([aliceUrl, `${bobUrl}/?format=binary`], async ([a, b]) => {
      b.ws.send(Buffer.from([BinaryKind.selfAddress, 0, 0, 0, 9]));
      const self = await vi.waitFor(
        () => b.binary().find((f) => f[0] === BinaryKind.selfAddressReply) ?? Promise.reject(new Error('none')),
      );
      expect(self.readUInt32BE(1)).toBe(9);
      expect(self.subarray(BINARY_HEADER_BYTES).toString('latin1')).toBe(bob.address);

      const body = Uint8Array.from({ length: 600 }, (_, i) => i % 251);
      a.ws.send(binarySend(0xdeadbeef, bob.address, body));
      const sent = await vi.waitFor(
        () => a.binary().find((f) => f[0] === BinaryKind.sent) ?? Promise.reject(new Error('none')),
      );
      expect(sent.readUInt32BE(1)).toBe(0xdeadbeef);
      expect(sent.length).toBe(BINARY_HEADER_BYTES + MESSAGE_ID_BYTES);
      const got = await vi.waitFor(
        () => b.binary().find((f) => f[0] === BinaryKind.received) ?? Promise.reject(new Error('none')),
        { timeout: 20_000, interval: 20 },
      );
      expect(got.subarray(BINARY_HEADER_BYTES, BINARY_HEADER_BYTES + MESSAGE_ID_BYTES)).toEqual(
        sent.subarray(BINARY_HEADER_BYTES),
      );
      expect(new Uint8Array(got.subarray(BINARY_HEADER_BYTES + MESSAGE_ID_BYTES + 4))).toEqual(body);
    });
  });

  it('answers a truncated or unknown binary frame with a binary error frame and stays open', async () => {
    await withApps([aliceUrl], async ([a]) => {
      a.ws.send(Buffer.from([BinaryKind.send, 0, 0, 0, 5, 0, 200, 0x6c])); // declares a 200-byte address, has 1
      a.ws.send(Buffer.from([0x42, 0, 0, 0, 6]));
      a.ws.send(Buffer.from([1, 2]));
      const errors = await vi.waitFor(() => {
        const e = a.binary().filter((f) => f[0] === BinaryKind.error);
        if (e.length < 3) throw new Error('waiting');
        return e;
      });
      const decode = (f: Buffer) => ({
        id: f.readUInt32BE(1),
        code: f.subarray(6, 6 + f[5]!).toString('latin1'),
        message: f.subarray(6 + f[5]!).toString('utf8'),
      });
      expect(errors.map(decode)).toEqual([
        expect.objectContaining({ id: 5, code: ApiErrorCode.malformed, message: expect.stringContaining('to') }),
        expect.objectContaining({ id: 6, code: ApiErrorCode.unknownType }),
        expect.objectContaining({ id: 0, code: ApiErrorCode.malformed }),
      ]);
      expect(await a.request({ type: 'selfAddress', id: 'ok' })).toMatchObject({ address: alice.address });
    });
  });
});

describe('loopix client API (several applications, defenses)', () => {
  it('serves two applications on one client: both can send, both get every received message', async () => {
    await withApps([bobUrl, `${bobUrl}/?format=binary`, aliceUrl, aliceUrl], async ([b1, b2, a1, a2]) => {
      const s1 = await a1.request({ type: 'send', id: 'one', to: bob.address, message: 'from app one' });
      const s2 = await a2.request({ type: 'send', id: 'two', to: bob.address, message: 'from app two' });
      expect(a1.json().some((f) => f.id === 'two')).toBe(false); // answers go to the asking app only
      for (const s of [s1, s2]) await b1.waitJson((f) => f.type === 'received' && f.messageId === s.messageId);
      const ids = await vi.waitFor(
        () => {
          const got = b2
            .binary()
            .filter((f) => f[0] === BinaryKind.received)
            .map((f) => f.subarray(BINARY_HEADER_BYTES, BINARY_HEADER_BYTES + MESSAGE_ID_BYTES).toString('hex'));
          if (got.length < 2) throw new Error('waiting');
          return got;
        },
        { timeout: 20_000, interval: 20 },
      );
      expect(ids.sort()).toEqual([s1.messageId, s2.messageId].sort());
    });
  });

  it('keeps what arrives while no application is connected for the next one', async () => {
    await vi.waitFor(() => expect(bobApi.stats().connections).toBe(0));
    await withApps([aliceUrl], async ([a]) => {
      const s = await a.request({ type: 'send', id: 'later', to: bob.address, message: 'read me later' });
      await vi.waitFor(() => expect(bobApi.stats().backlog).toBe(1), { timeout: 20_000, interval: 20 });
      const b = await App.open(bobUrl);
      expect(await b.waitJson((f) => f.type === 'received')).toMatchObject({
        messageId: s.messageId,
        message: 'read me later',
      });
      b.close();
    });
  });

  it('refuses a WebSocket handshake from a browser origin that is not allowed (a web page scripting the API)', async () => {
    // What a page on another site does: the browser adds its Origin header to the handshake.
    await expect(App.open(aliceUrl, { Origin: 'https://evil.example' })).rejects.toThrow('HTTP 403');
    expect(aliceApi.stats().refused_origin).toBeGreaterThanOrEqual(1);
    const allowed = await App.open(aliceUrl, { Origin: 'http://localhost:5173' });
    expect(await allowed.request({ type: 'selfAddress', id: 1 })).toMatchObject({ address: alice.address });
    allowed.close();
  });

  it('refuses to listen off the loopback interface unless allowed in so many words', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      const err = thrown(() => new ClientApiServer({ client: apiClientFor(alice), host }));
      expect(isLoopixError(err, 'ERR_LOOPIX_API_OFF_HOST'), host).toBe(true);
    }
    expect(
      () => new ClientApiServer({ client: apiClientFor(alice), host: '0.0.0.0', allowOffHost: true }),
    ).not.toThrow();
    expect(['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'].every(isLoopbackHost)).toBe(
      true,
    );
  });
});

describe('loopix client API (traffic on the wire)', () => {
  it('adds no packets: 200 messages through the API still leave at λP + λL + λD, real fragments replacing drops', async () => {
    // The client on simulated time with an in-memory transport (as in client-traffic.test.ts); the API server
    // and the application over a real WebSocket in front of it.
    const net = makeNetwork(backend, { providers: 2, perLayer: 1 });
    const { client, sim, transport } = simClient({ backend, topology: net.topology, providerId: net.providers[0]!.id });
    const { submitted } = transport;
    const api = new ClientApiServer({ client: apiClientFor(client), port: 0 });
    const app = await App.open((await api.start()).url);
    try {
      client.start();
      const to = simClient({ backend, topology: net.topology, providerId: net.providers[1]!.id }).client.address;
      for (let i = 0; i < 200; i++) app.ws.send(JSON.stringify({ type: 'send', id: i, to, message: `message ${i}` }));
      await vi.waitFor(() => expect(client.stats().send_buffer).toBe(200), { timeout: 20_000 });
      const T = 100; // simulated seconds
      sim.advance(T * 1000);
      const s = client.stats();
      const expected = (SIM_PARAMS.lambdaP + SIM_PARAMS.lambdaL + SIM_PARAMS.lambdaD) * T;
      // Poisson: 300 ± 17; an API that put its 200 messages on the wire beside the streams would show ~500.
      expect(Math.abs(submitted.length - expected)).toBeLessThanOrEqual(5 * Math.sqrt(expected));
      expect(s.sent_real + s.sent_drop_cover + s.loops_sent + s.drops_sent).toBe(submitted.length);
      // Small messages share envelopes (docs/pipeline.md "The client"): all 200 left in fewer real packets, and
      // the λP events after that carried drop covers — the rate on the wire did not change either way.
      expect(s.send_buffer).toBe(0);
      expect(s.sent_real).toBeLessThan(200);
      expect(s.sent_real + s.sent_drop_cover).toBe(submitted.length - s.loops_sent - s.drops_sent);
    } finally {
      app.close();
      await api.stop();
      await client.stop();
    }
  });
});

describe('loopix client API (anonymous mailboxes)', () => {
  it('openMailbox returns a loopixpo1: address in both framings, and a send to it through the API is a PUSH to its mailbox', async () => {
    // A topology with provider 1 listed as a post office; both clients on simulated time, in-memory transports.
    const net = withPostOffice(makeNetwork(backend, { providers: 2, perLayer: 1 }), 1);
    const { topology } = net;
    const poId = net.providers[1]!.id;
    const sim = new SimulatedScheduler();
    const WALL = 1_700_000_000_000;
    const transport = new MemoryTransport();
    const { submitted } = transport;
    const make = () =>
      simClient({
        backend,
        topology,
        providerId: net.providers[0]!.id,
        params: { mailboxEpochS: 100, mailboxGraceS: 10 },
        sim,
        transport,
        wallMs: WALL,
      }).client;
    const sender = make();
    const recipient = make();
    const senderApi = new ClientApiServer({ client: apiClientFor(sender), port: 0 });
    const recipientApi = new ClientApiServer({ client: apiClientFor(recipient), port: 0 });
    const s = await App.open((await senderApi.start()).url);
    const r = await App.open((await recipientApi.start()).url);
    try {
      const opened = await r.request({ type: 'openMailbox', id: 'mb' });
      expect(opened).toMatchObject({ type: 'mailbox', id: 'mb' });
      const address = opened.address as string;
      expect(address.startsWith(`loopixpo1:${poId}:`)).toBe(true);
      // Binary: kind 0x05 with the post office's id as body; the answer is 0x85 with the address.
      r.ws.send(Buffer.concat([Buffer.from([BinaryKind.openMailbox, 0, 0, 0, 4]), Buffer.from(poId, 'latin1')]));
      const bin = await vi.waitFor(
        () => r.binary().find((f) => f[0] === BinaryKind.mailboxReply) ?? Promise.reject(new Error('none')),
      );
      expect(bin.readUInt32BE(1)).toBe(4);
      const second = bin.subarray(BINARY_HEADER_BYTES).toString('latin1');
      expect(second.startsWith(`loopixpo1:${poId}:`) && second !== address).toBe(true);
      // A node that is not a post office: an error naming the field; the connection stays usable.
      expect(await r.request({ type: 'openMailbox', id: 'no', postOffice: net.providers[0]!.id })).toMatchObject({
        type: 'error',
        code: ApiErrorCode.noPostOffice,
        field: 'postOffice',
      });
      expect(await s.request({ type: 'send', id: 'bad', to: `${address.slice(0, -2)}zz`, message: 'x' })).toMatchObject(
        { type: 'error', code: ApiErrorCode.badAddress, field: 'to' },
      );

      const sent = await s.request({ type: 'send', id: 'push', to: address, message: 'to a mailbox' });
      expect(sent).toMatchObject({ type: 'sent', id: 'push' });
      sender.start();
      // Until the push left in a λP slot (it is retransmitted only after its ack timeout, far later).
      for (let i = 0; i < 120 && sender.stats().po_pushes_sent === 0; i++) sim.advance(500);
      expect(sender.stats().po_pushes_sent).toBe(1);
      const pushes = submitted
        .map((p) => route(backend, net, net.providers[0]!.id, p).trace.at(-1)!)
        .flatMap((t) =>
          t.nodeId === poId && t.result.kind === 'final'
            ? [decodeRequest(net.geometry, t.result.id, t.result.content)]
            : [],
        );
      expect(pushes).toHaveLength(1);
      const push = pushes[0]!;
      expect(push.kind).toBe('push');
      if (push.kind === 'push')
        expect(toHex(push.mailboxId)).toBe(
          toHex(mailboxId(parseAnonymousAddress(net.geometry, address).secret, mailboxEpochAt(WALL, 100_000))),
        );
    } finally {
      s.close();
      r.close();
      await Promise.all([senderApi.stop(), recipientApi.stop()]);
      await Promise.all([sender.stop(), recipient.stop()]);
    }
  });

  it('openMailbox on a network without a post office answers ERR_LOOPIX_API_NO_POST_OFFICE', async () => {
    await withApps([aliceUrl], async ([a]) => {
      expect(await a.request({ type: 'openMailbox', id: 1 })).toMatchObject({
        type: 'error',
        id: 1,
        code: ApiErrorCode.noPostOffice,
      });
      expect(await a.request({ type: 'selfAddress', id: 2 })).toMatchObject({ address: alice.address });
    });
  });
});
