/**
 * A provider (Loopix §2, §3.2: the first and last layer): the node pipeline, plus
 *   - the inbox: a DELIVER packet, once its delay has passed, is stored (still encrypted for the client) in
 *     the client's SQLite inbox; deliveries of one event-loop turn share one transaction (one fsync), and a
 *     packet counts as `delivered` only once that transaction committed;
 *   - the client front end (WebSocket): a client's SUBMIT enters the pipeline as a UDP arrival would, and is
 *     processed as the packet's first hop; PULL / ACK are served from the same inbox.
 * A DROP packet (the end of a drop cover packet) is discarded and counted (`drop_cover`).
 */
import { clientIdOf } from '../address.js';
import { inboxPath, openInbox } from '../provider/inbox.js';
import { resolveLimits } from '../provider/limits.js';
import type { ClientFrontEnd, Inbox } from '../provider/types.js';
import { startClientFrontEnd } from '../provider/ws-server.js';
import { loadSphinx } from '../sphinx/loader.js';
import { LoopixError } from '../errors.js';
import { effectiveMaxDelayUs } from '../max-delay.js';
import { PostOffice } from '../postoffice/office.js';
import { RequestPool } from '../postoffice/pool.js';
import { mailboxPath, openMailboxStore, type MailboxStore } from '../postoffice/store.js';
import { nodeLogger, type RunningNode, type StartOptions } from './mix.js';
import { NodePipeline, type NodePacketPath, type NodeSetup } from './pipeline.js';

/** Slack beyond the per-hop delay bound after which a post office answer has surely left this node, ms. */
const ANSWER_DEPARTURE_SLACK_MS = 5_000;

/** How often a post office deletes expired envelopes, ms. */
const MAILBOX_EXPIRY_INTERVAL_MS = 60_000;

/** How often idle client registrations are expired, ms. */
const CLIENT_EXPIRY_INTERVAL_MS = 3_600_000;

export interface ProviderStartOptions extends StartOptions {
  /** Use this inbox instead of opening the SQLite one in provider.dataDir (tests). Closed on close(). */
  readonly inbox?: Inbox;
  /** Start the WebSocket front end (default true). */
  readonly frontEnd?: boolean;
}

export interface RunningProvider extends RunningNode {
  readonly inbox: Inbox;
  /** The post office's mailboxes (provider.postOffice set), else undefined. */
  readonly mailboxes: MailboxStore | undefined;
  /** The request pool of this provider's clients (src/postoffice/pool.ts). */
  readonly requestPool: RequestPool;
  /** Bound WebSocket port (undefined without a front end). */
  readonly wsPort: number | undefined;
}

/** The WebSocket port of a provider: config provider.listen, else the topology's ws URL on 127.0.0.1. */
function wsListen(setup: NodeSetup): { host: string; port: number } {
  const configured = setup.config.provider?.listen;
  if (configured) return configured;
  const url = new URL(setup.self.ws ?? '');
  const port = url.port ? Number(url.port) : url.protocol === 'wss:' ? 443 : 80;
  return { host: '127.0.0.1', port };
}

export async function startProviderNode(setup: NodeSetup, o: ProviderStartOptions = {}): Promise<RunningProvider> {
  const { config, self, topology } = setup;
  if (self.role !== 'provider') throw new Error(`node ${self.id} is a ${self.role}, not a provider`);
  const providerConfig = config.provider;
  if (!providerConfig) throw new Error('provider: config section missing');
  const g = topology.geometry;
  const log = o.log ?? nodeLogger(setup);
  const backend = o.backend ?? loadSphinx({ log: (line) => log.warn(line) }).backend;

  // Post office role (AnonPoP §4): the config enables it, the topology must say so (senders find it there).
  const poConfig = providerConfig.postOffice;
  if (poConfig && self.postOffice !== true) {
    throw new LoopixError(
      'ERR_LOOPIX_PO_TOPOLOGY',
      `provider.postOffice is set but the topology does not list node ${self.id} with postOffice: true`,
      { field: 'provider.postOffice' },
    );
  }
  if (poConfig && config.pipeline.mode === 'sharded') {
    throw new LoopixError(
      'ERR_LOOPIX_PO_PIPELINE',
      'provider.postOffice needs pipeline.mode "pool" (the sharded path does not dispatch FINAL requests)',
      { field: 'pipeline.mode' },
    );
  }
  const mailboxes = poConfig ? openMailboxStore(mailboxPath(providerConfig.dataDir), g) : undefined;
  let postOffice: PostOffice | undefined;
  const inbox: Inbox = o.inbox ?? openInbox(inboxPath(providerConfig.dataDir), g);
  const storeMany = (
    inbox as { storeMany?: (e: readonly { clientId: Uint8Array; packet: Uint8Array }[]) => void }
  ).storeMany?.bind(inbox);
  // With closed registration only the listed clients have inboxes; a delivery to anyone else is dropped.
  const allowed =
    providerConfig.registration === 'closed'
      ? new Set(
          providerConfig.clients.map((k) =>
            Buffer.from(clientIdOf(g, Uint8Array.from(Buffer.from(k, 'hex')))).toString('hex'),
          ),
        )
      : null;

  let pending: { clientId: Uint8Array; packet: Uint8Array }[] = [];
  let flushScheduled = false;
  let pipeline: NodePacketPath | undefined;

  const flush = (): void => {
    flushScheduled = false;
    const entries = pending;
    pending = [];
    if (entries.length === 0 || !pipeline) return;
    const m = pipeline.metrics;
    try {
      if (storeMany) storeMany(entries);
      else for (const e of entries) inbox.store(e.clientId, e.packet);
      m.count('delivered', entries.length);
    } catch (err) {
      m.drop('inbox_error', entries.length);
      log.error({ err: (err as Error).message, packets: entries.length }, 'inbox store failed');
    }
  };

  const deliver = (clientId: Uint8Array, packet: Uint8Array): void => {
    if (allowed && !allowed.has(Buffer.from(clientId).toString('hex'))) {
      pipeline?.metrics.drop('unknown_client');
      return;
    }
    pending.push({ clientId, packet });
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };

  try {
    pipeline = await NodePipeline.start({
      ...setup,
      log,
      backend,
      deliver,
      loops: o.loops,
      reportStats: o.reportStats,
      ...(mailboxes
        ? { postOffice: (address: Uint8Array, content: Uint8Array) => postOffice?.handle(address, content) }
        : {}),
    });
  } catch (err) {
    if (!o.inbox) inbox.close();
    mailboxes?.close();
    throw err;
  }
  const p = pipeline;
  if (mailboxes) {
    postOffice = new PostOffice({
      geometry: g,
      selfId: self.id,
      backend,
      store: mailboxes,
      submit: (packet) => p.submit(packet),
      count: (name, by) => p.metrics.count(name, by),
      drop: (reason) => p.metrics.drop(reason),
      // Counts and error messages only: never a mailbox id, SURB or anything of a request (docs/threat-model.md).
      log: log.child({ module: 'postoffice' }),
      // The answer's first hop is this node: it leaves within that hop's delay bound (plus queueing slack).
      deleteAfterMs:
        effectiveMaxDelayUs(topology.doc, config.params.mu, config.params.maxDelayMs) / 1000 +
        ANSWER_DEPARTURE_SLACK_MS,
    });
    p.metrics.gauge('po_envelopes', () => mailboxes.total());
  }
  // The request pool (AnonPoP §6.1): one pooled pull per client per round, whether the client is online or not.
  const requestPool = new RequestPool(config.params.poPoolSize);
  const poolRound = setInterval(() => {
    const { released, ranDry } = requestPool.tick();
    for (const packet of released) p.submit(packet);
    if (released.length > 0) p.metrics.count('po_pool_released', released.length);
    if (ranDry > 0) p.metrics.count('po_pool_ran_dry', ranDry);
  }, config.params.poRoundMs);
  poolRound.unref();
  p.metrics.gauge('po_pool_clients', () => requestPool.clients);
  const mailboxExpiry = mailboxes
    ? setInterval(() => {
        try {
          const n = mailboxes.expire(poConfig!.expiryS * 1000);
          if (n > 0) p.metrics.count('po_expired', n);
        } catch (err) {
          log.error({ err: (err as Error).message }, 'expiring post office envelopes failed');
        }
      }, MAILBOX_EXPIRY_INTERVAL_MS)
    : undefined;
  mailboxExpiry?.unref();

  let frontEnd: ClientFrontEnd | undefined;
  if (o.frontEnd !== false) {
    const listen = wsListen(setup);
    try {
      frontEnd = await startClientFrontEnd({
        geometry: g,
        host: listen.host,
        port: listen.port,
        pullK: config.params.pullK,
        registration: providerConfig.registration,
        allowedClients: providerConfig.clients,
        maxFrameBytes: providerConfig.maxFrameBytes,
        authTimeoutMs: providerConfig.authTimeoutMs,
        limits: resolveLimits(providerConfig.limits, config.params),
        clientAddress: providerConfig.clientAddress,
        inbox,
        ingress: p,
        pool: (clientKey, packet) => requestPool.deposit(clientKey, packet),
        currentEpoch: () => topology.epochAt(Date.now()),
        count: (name, by) => p.metrics.count(name, by),
        log: log.child({ module: 'ws' }),
      });
    } catch (err) {
      clearInterval(poolRound);
      if (mailboxExpiry) clearInterval(mailboxExpiry);
      await p.close();
      inbox.close();
      mailboxes?.close();
      throw err;
    }
    const fe = frontEnd;
    p.metrics.gauge('uws_native', () => (fe.uwsNative ? 1 : 0));
    p.metrics.gauge('ws_connections', () => fe.connections);
    p.metrics.gauge('ws_port', () => fe.port);
  }
  // Registration churn: forget keys that were not seen for registrationTtlS and hold nothing (hourly).
  const expireClients = (inbox as { expireClients?: (ttlMs: number) => number }).expireClients?.bind(inbox);
  const ttlMs = (providerConfig.registrationTtlS ?? 0) * 1000;
  const expiry =
    expireClients && ttlMs > 0
      ? setInterval(() => {
          try {
            const n = expireClients(ttlMs);
            if (n > 0) p.metrics.count('clients_expired', n);
          } catch (err) {
            log.error({ err: (err as Error).message }, 'expiring idle client registrations failed');
          }
        }, CLIENT_EXPIRY_INTERVAL_MS)
      : undefined;
  expiry?.unref();
  const total = (inbox as { total?: () => number }).total?.bind(inbox);
  if (total) p.metrics.gauge('inbox_packets', () => total());

  log.info(
    { id: self.id, udp: p.port, ws: frontEnd?.port, epoch: topology.doc.epoch, sphinx: backend.name },
    'provider running',
  );
  let closed = false;
  return {
    id: self.id,
    role: 'provider',
    port: p.port,
    wsPort: frontEnd?.port,
    pipeline: p,
    inbox,
    mailboxes,
    requestPool,
    snapshot: () => p.snapshot(),
    async close() {
      if (closed) return;
      closed = true;
      if (expiry) clearInterval(expiry);
      clearInterval(poolRound);
      if (mailboxExpiry) clearInterval(mailboxExpiry);
      postOffice?.close();
      await frontEnd?.close().catch(() => undefined);
      await p.close();
      flush();
      inbox.close();
      mailboxes?.close();
    },
  };
}
