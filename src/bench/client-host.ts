/**
 * A client host for the paper's figures (src/bench/figures/*): one process running many real LoopixClient
 * instances (src/client/client.ts) that share one TopologyIndex and one Sphinx backend, each with its own
 * key pair, provider session (WebSocket), Poisson streams and pulls — what 500 separate client processes
 * would do, in a few processes. src/bench/figures/testnet.ts forks it with an IPC channel.
 *
 * IPC (parent → host):
 *   {type:'init', topologyFile, authorityPublicKey, params, providerOffset}  → {type:'ready'}
 *   {type:'add', count}            → {type:'added', total, connected}   (starts them and waits for the sessions)
 *   {type:'messages', perClientPerS} → {type:'ok'}  real messages (one packet each) to random clients of this
 *                                    host, Poisson per client; 0 stops
 *   {type:'stats'}                 → {type:'stats', ...HostStats}
 *   {type:'stop'}                  → {type:'stopped'}
 */
import { randomBytes } from 'node:crypto';
import { LoopixClient } from '../client/client.js';
import { createNodeClient } from '../client/node.js';
import { NetworkParamsSchema, type NetworkParams } from '../config/schema.js';
import { loadSphinx } from '../sphinx/loader.js';
import { loadTopologyFile, TopologyIndex } from '../topology/document.js';

export interface HostStats {
  readonly clients: number;
  readonly connected: number;
  readonly sent_real: number;
  readonly sent_drop_cover: number;
  readonly loops_sent: number;
  readonly loops_returned: number;
  readonly drops_sent: number;
  readonly received_real: number;
  readonly skipped_offline: number;
  readonly build_errors: number;
  readonly messages_queued_by_app: number;
  /** Up to 20 000 most recent message latencies (ms), sender's send() → recipient's reassembly. */
  readonly message_latency_ms: number[];
  /** Up to 20 000 most recent client loop round-trip times (ms). */
  readonly loop_rtt_ms: number[];
  readonly cpu_ms: number;
}

const { backend } = loadSphinx();
let topology: TopologyIndex | undefined;
let params: NetworkParams | undefined;
let providerOffset = 0;
const clients: LoopixClient[] = [];
const latencies: number[] = [];
let messageRate = 0;
const timers = new Set<NodeJS.Timeout>();
let queuedByApp = 0;

function reply(m: unknown): void {
  process.send?.(m);
}

async function drain(c: LoopixClient): Promise<void> {
  for await (const m of c.messages()) {
    latencies.push(m.latencyMs);
    if (latencies.length > 40_000) latencies.splice(0, 20_000);
  }
}

async function add(count: number): Promise<void> {
  const providers = topology!.providers;
  const fresh: LoopixClient[] = [];
  for (let i = 0; i < count; i++) {
    const privateKey = Uint8Array.from(randomBytes(32));
    const provider = providers[(providerOffset + clients.length + i) % providers.length]!;
    fresh.push(
      createNodeClient({
        config: { providerId: provider.id, params: params! },
        keyPair: { privateKey, publicKey: backend.x25519Base(privateKey) },
        topology: topology!,
        backend,
        rttSampleLimit: 2000,
      }),
    );
  }
  for (const c of fresh) c.start();
  await Promise.all(fresh.map((c) => c.waitConnected(60_000).catch(() => undefined)));
  for (const c of fresh) {
    clients.push(c);
    void drain(c);
    if (messageRate > 0) schedule(c);
  }
  reply({ type: 'added', total: clients.length, connected: clients.filter((c) => c.connected).length });
}

function schedule(c: LoopixClient): void {
  if (messageRate <= 0) return;
  const wait = (-Math.log(1 - Math.random()) / messageRate) * 1000;
  const t = setTimeout(() => {
    timers.delete(t);
    if (messageRate <= 0) return;
    const to = clients[Math.floor(Math.random() * clients.length)]!;
    queuedByApp++;
    void c.send(to.address, randomBytes(64)).catch(() => undefined);
    schedule(c);
  }, wait);
  timers.add(t);
}

function setMessages(rate: number): void {
  messageRate = rate;
  for (const t of timers) clearTimeout(t);
  timers.clear();
  if (rate > 0) for (const c of clients) schedule(c);
}

function stats(): HostStats {
  const s = clients.map((c) => c.stats());
  const sum = (f: (x: (typeof s)[number]) => number) => s.reduce((a, x) => a + f(x), 0);
  const cpu = process.cpuUsage();
  return {
    clients: clients.length,
    connected: s.filter((x) => x.connected).length,
    sent_real: sum((x) => x.sent_real),
    sent_drop_cover: sum((x) => x.sent_drop_cover),
    loops_sent: sum((x) => x.loops_sent),
    loops_returned: sum((x) => x.loops_returned),
    drops_sent: sum((x) => x.drops_sent),
    received_real: sum((x) => x.received_real),
    skipped_offline: sum((x) => x.skipped_offline.payload + x.skipped_offline.loop + x.skipped_offline.drop),
    build_errors: sum((x) => x.build_errors),
    messages_queued_by_app: queuedByApp,
    message_latency_ms: latencies.slice(-20_000),
    loop_rtt_ms: clients.flatMap((c) => c.loopRttSamples()).slice(-20_000),
    cpu_ms: (cpu.user + cpu.system) / 1000,
  };
}

process.on('message', (m: { type: string; [k: string]: unknown }) => {
  switch (m.type) {
    case 'init':
      topology = new TopologyIndex(loadTopologyFile(m.topologyFile as string, m.authorityPublicKey as string));
      params = NetworkParamsSchema.parse(m.params);
      providerOffset = Number(m.providerOffset ?? 0);
      reply({ type: 'ready' });
      break;
    case 'add':
      void add(Number(m.count)).catch((err: Error) => reply({ type: 'error', message: err.message }));
      break;
    case 'messages':
      setMessages(Number(m.perClientPerS));
      reply({ type: 'ok' });
      break;
    case 'stats':
      reply({ type: 'stats', ...stats() });
      break;
    case 'stop':
      setMessages(0);
      void Promise.all(clients.map((c) => c.stop())).then(() => {
        reply({ type: 'stopped' });
        process.exit(0);
      });
      break;
  }
});
process.on('disconnect', () => process.exit(0));
