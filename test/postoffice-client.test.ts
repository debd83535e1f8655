/**
 * The client's post office traffic over simulated time with an in-memory transport: pool deposits take
 * drop-cover slots (the total rate stays λP + λL + λD), every deposit is a well-formed PULL for the mailbox of
 * its release epoch whose SURB starts at the post office, and a push takes a λP slot.
 */
import { describe, expect, it } from 'vitest';
import { mailboxEpochAt, mailboxId, parseAnonymousAddress } from '../src/postoffice/mailbox.js';
import { decodeRequest, type PoRequest } from '../src/postoffice/wire.js';
import { ackTimeoutMs } from '../src/client/retransmit.js';
import { clientBackend, makeNetwork, route, toHex, withPostOffice } from './client-fixtures.js';
import { simClient, within } from './helpers/sim-client.js';

const backend = clientBackend();
const base = makeNetwork(backend, { layers: 3, perLayer: 2, providers: 2 });
// The same network with provider 1 listed as a post office.
const net = withPostOffice(base, 1);
const topology = net.topology;
const poId = net.providers[1]!.id;
const g = net.geometry;
const P0 = base.providers[0]!;

const WALL = 1_700_000_000_000;
const EPOCH_S = 100;

/** The PO's view of what `c` submitted (each packet routed from P0 to its end): its PUSHes, in order. */
function pushesOf(c: ReturnType<typeof makeClient>) {
  return c.transport.submitted
    .map((p) => route(backend, net, P0.id, p).trace.at(-1)!)
    .flatMap((t): PoRequest[] =>
      t.nodeId === poId && t.result.kind === 'final' ? [decodeRequest(g, t.result.id, t.result.content)] : [],
    )
    .flatMap((r) => (r.kind === 'push' ? [r] : []));
}

/** A client of P0 on simulated time whose mailboxes turn over every EPOCH_S (release rounds of 2 s, a pool of 20). */
const makeClient = () =>
  simClient({
    backend,
    topology,
    providerId: P0.id,
    params: { poRoundMs: 2000, poPoolSize: 20, mailboxEpochS: EPOCH_S, mailboxGraceS: 10 },
    wallMs: WALL,
  });

describe('the client’s post office traffic (simulated time)', () => {
  const T = 600; // simulated seconds

  it('pool deposits replace drop-cover packets: the total rate stays λP + λL + λD', async () => {
    const { client, sim, transport } = makeClient();
    const address = client.openMailbox();
    expect(address.startsWith(`loopixpo1:${poId}:`)).toBe(true);
    client.start();
    sim.advance(T * 1000);
    const s = client.stats();
    // µ to fill the pool, then one per 2-s round as the provider releases them.
    within(s.po_pool_deposits, 20 + T / 2);
    within(s.drops_sent + s.po_pool_deposits, T);
    expect(transport.pooled.length).toBe(s.po_pool_deposits);
    within(transport.submitted.length + transport.pooled.length, 3 * T);
    await client.stop();
  });

  it('every deposit is a PULL at the post office for the mailbox of its epoch, with a SURB that starts there', async () => {
    const { client, sim, transport } = makeClient();
    const mailbox = parseAnonymousAddress(g, client.openMailbox());
    client.start();
    sim.advance(60_000);
    await client.stop();
    expect(transport.pooled.length).toBeGreaterThan(20);
    const ids = new Set(
      [mailboxEpochAt(WALL, EPOCH_S * 1000), mailboxEpochAt(WALL + 100_000, EPOCH_S * 1000)]
        .flatMap((e) => [e, e - 1])
        .map((e) => toHex(mailboxId(mailbox.secret, e))),
    );
    for (const p of transport.pooled) {
      const r = route(backend, net, P0.id, p);
      const last = r.trace.at(-1)!;
      expect(last.nodeId).toBe(poId);
      expect(last.result.kind).toBe('final');
      if (last.result.kind !== 'final') continue;
      const req = decodeRequest(g, last.result.id, last.result.content);
      expect(req.kind).toBe('pull');
      if (req.kind !== 'pull') continue;
      expect(ids.has(toHex(req.mailboxId))).toBe(true);
      expect(toHex(req.surb.subarray(0, g.addressBytes))).toBe(poId);
    }
  });

  it('a message to an anonymous address is one PUSH in a λP slot, sealed so the PO sees no plaintext', async () => {
    const { client, sim, transport } = makeClient();
    const { client: recipient } = makeClient();
    const address = recipient.openMailbox();
    const body = new TextEncoder().encode('secret words for a mailbox');
    const handle = client.send(address, body);
    client.start();
    // Until the first push left (a λP slot); its retransmission is due only after the ack timeout.
    for (let i = 0; i < 120 && client.stats().po_pushes_sent === 0; i++) sim.advance(500);
    // Unacknowledged (nobody answers the pull here): the send() promise stays pending, the push was sent once.
    let settled = false;
    void handle.then(
      () => (settled = true),
      () => (settled = true),
    );
    await Promise.resolve();
    expect(settled).toBe(false);
    const s = client.stats();
    expect(s.po_pushes_sent).toBe(1);
    const pushes = transport.submitted
      .map((p) => route(backend, net, P0.id, p).trace.at(-1)!)
      .filter((t) => t.nodeId === poId && t.result.kind === 'final')
      .map((t) => (t.result.kind === 'final' ? decodeRequest(g, t.result.id, t.result.content) : undefined));
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.kind).toBe('push');
    if (pushes[0]!.kind === 'push') {
      expect(toHex(pushes[0]!.mailboxId)).toBe(
        toHex(mailboxId(parseAnonymousAddress(g, address).secret, mailboxEpochAt(WALL, EPOCH_S * 1000))),
      );
      expect(Buffer.from(pushes[0]!.envelope).includes(Buffer.from(body))).toBe(false);
    }
    // Too large for one envelope: rejected at once with a code.
    await expect(client.send(address, new Uint8Array(5000))).rejects.toMatchObject({ code: 'ERR_LOOPIX_PO_MESSAGE' });
    await Promise.all([client.stop(), recipient.stop()]);
  });

  it('a lost push is retransmitted and resolves once acknowledged through its SURB-ack; a duplicate is delivered once and acknowledged again', async () => {
    const sender = makeClient();
    const recipient = makeClient();
    const address = recipient.client.openMailbox();
    expect(parseAnonymousAddress(g, address).ackProviderId).toBe(P0.id); // where the SURB-ack must start
    let recipientInbox: string | undefined; // the recipient's inbox id at P0 (what a DELIVER names)
    /** The PO's view of the sender's packets: its PUSHes, in order. */
    const pushes = () => pushesOf(sender);
    /** Plays the PO: answers one of the recipient's pooled pulls with `envelope`, into the recipient's inbox. */
    const answer = (pull: Uint8Array, envelope: Uint8Array) => {
      const hop = route(backend, net, P0.id, pull).trace.at(-1)!;
      if (hop.result.kind !== 'final') throw new Error('pull did not reach the PO');
      const req = decodeRequest(g, hop.result.id, hop.result.content);
      if (req.kind !== 'pull') throw new Error('not a pull');
      const reply = backend.createSurbReply(g, req.surb, envelope);
      const delivered = route(backend, net, toHex(reply.firstHop), reply.packet).delivered!;
      recipientInbox = delivered.clientId;
      return recipient.client.receive([delivered.packet]);
    };
    /** The recipient's packets after index `from` that arrive in another client's inbox: its SURB-acks. */
    const acksFrom = (from: number) =>
      recipient.transport.submitted
        .slice(from)
        .map((p) => route(backend, net, P0.id, p).delivered)
        .flatMap((d) => (d && d.clientId !== recipientInbox ? [d.packet] : []));

    const handle = sender.client.send(address, new TextEncoder().encode('once only'));
    sender.client.start();
    recipient.client.start();
    for (let i = 0; i < 120 && sender.client.stats().po_pushes_sent === 0; i++) sender.sim.advance(500);
    recipient.sim.advance(30_000); // pool deposits
    expect(pushes()).toHaveLength(1); // this one is "lost": never answered
    const timeout = ackTimeoutMs(sender.client.params, net.topology.doc.layers, 1) + 2 * sender.client.params.poRoundMs;
    sender.sim.advance(timeout - 1000);
    expect(pushes()).toHaveLength(1); // not before its ack timeout
    for (let i = 0; i < 120 && sender.client.stats().po_pushes_sent < 2; i++) sender.sim.advance(500);
    const sent = pushes();
    expect(sent).toHaveLength(2);
    expect(sender.client.stats().retransmissions).toBe(1);
    // A fresh envelope each time (fresh ephemeral key), the same message id inside.
    expect(toHex(sent[0]!.envelope)).not.toBe(toHex(sent[1]!.envelope));

    const pulls = recipient.transport.pooled;
    expect(pulls.length).toBeGreaterThanOrEqual(2);
    const mark = recipient.transport.submitted.length;
    await answer(pulls[0]!, sent[1]!.envelope);
    recipient.sim.advance(30_000); // the SURB-ack leaves in a λP slot
    const acks = acksFrom(mark);
    expect(acks).toHaveLength(1);
    await sender.client.receive(acks);
    const d = await handle;
    expect(d).toMatchObject({ acknowledged: true, transmissions: 2 });

    // The "lost" first transmission turns up after all: not delivered again, but acknowledged again (harmless).
    const mark2 = recipient.transport.submitted.length;
    await answer(pulls[1]!, sent[0]!.envelope);
    recipient.sim.advance(30_000);
    expect(acksFrom(mark2)).toHaveLength(1);
    await sender.client.receive(acksFrom(mark2));
    const r = recipient.client.stats();
    expect(r.received_real).toBe(1);
    expect(r.duplicates_ignored).toBe(1);
    expect(sender.client.stats().messages_acked).toBe(1);
    const it = recipient.client.messages()[Symbol.asyncIterator]();
    expect(new TextDecoder().decode((await it.next()).value!.bytes)).toBe('once only');
    await Promise.all([sender.client.stop(), recipient.client.stop()]);
  });

  it('a push acknowledged while its resend waits for a λP slot leaves the send buffer at once, and is not sent again', async () => {
    const sender = makeClient();
    const recipient = makeClient();
    const address = recipient.client.openMailbox();
    const pushes = () => pushesOf(sender);
    const handle = sender.client.send(address, new TextEncoder().encode('acked late'));
    sender.client.start();
    recipient.client.start();
    for (let i = 0; i < 120 && sender.client.stats().po_pushes_sent === 0; i++) sender.sim.advance(500);
    recipient.sim.advance(30_000); // pool deposits
    const [first] = pushes();
    expect(first).toBeDefined();
    expect(sender.client.stats().send_buffer).toBe(0);
    // The ack timeout re-queues the push for the next λP slot: the send buffer holds it again.
    for (let i = 0; i < 10_000 && sender.client.stats().send_buffer === 0; i++) sender.sim.advance(5);
    expect(sender.client.stats().send_buffer).toBe(1);
    expect(sender.client.stats().po_pushes_sent).toBe(1);
    // Before that slot comes, the first transmission's SURB-ack arrives (it was only slow).
    const hop = route(backend, net, P0.id, recipient.transport.pooled[0]!).trace.at(-1)!;
    if (hop.result.kind !== 'final') throw new Error('pull did not reach the PO');
    const req = decodeRequest(g, hop.result.id, hop.result.content);
    if (req.kind !== 'pull') throw new Error('not a pull');
    const reply = backend.createSurbReply(g, req.surb, first!.envelope);
    const delivered = route(backend, net, toHex(reply.firstHop), reply.packet).delivered!;
    const recipientInbox = delivered.clientId;
    const mark = recipient.transport.submitted.length;
    await recipient.client.receive([delivered.packet]);
    recipient.sim.advance(30_000);
    const acks = recipient.transport.submitted
      .slice(mark)
      .map((p) => route(backend, net, P0.id, p).delivered)
      .flatMap((d) => (d && d.clientId !== recipientInbox ? [d.packet] : []));
    expect(acks).toHaveLength(1);
    await sender.client.receive(acks);
    expect(await handle).toMatchObject({ acknowledged: true, transmissions: 1 });
    expect(sender.client.stats().send_buffer).toBe(0);
    sender.sim.advance(30_000);
    expect(sender.client.stats().po_pushes_sent).toBe(1);
    await Promise.all([sender.client.stop(), recipient.client.stop()]);
  });
});
