/**
 * `loopix client send` and `loopix client recv`: a client process for one message or for receiving.
 * Both read a client config (src/config/schema.ts ClientConfig); output is JSON lines on stdout, logs go to
 * stderr.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { numberOption, positiveInt } from './options.js';
import type { LoopixClient } from '../client/client.js';
import { clientFromConfigFile, type NodeClientOptions } from '../client/node.js';
import { LoopixError } from '../errors.js';
import { prepareClientDirectory } from '../directory/client-setup.js';
import { registerClientServe } from './client-serve.js';

/** Optional overrides for embedding and tests (e.g. a specific Sphinx backend). */
export type ClientCommandDeps = Partial<Omit<NodeClientOptions, 'config' | 'keyPair' | 'topology'>>;

const seconds = (name: string) =>
  numberOption(name, (n) => Number.isFinite(n) && n > 0, 'a positive number of seconds');

function line(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function asText(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

export interface SendOptions {
  config: string;
  to: string;
  message?: string;
  file?: string;
  timeout: number;
}

export async function runClientSend(o: SendOptions, deps: ClientCommandDeps = {}): Promise<void> {
  if ((o.message === undefined) === (o.file === undefined))
    throw new InvalidArgumentError('give exactly one of --message TEXT or --file PATH');
  const bytes = o.file !== undefined ? new Uint8Array(readFileSync(o.file)) : new TextEncoder().encode(o.message);
  await prepareClientDirectory(o.config);
  const client = clientFromConfigFile(o.config, deps);
  client.start();
  try {
    await client.waitConnected(o.timeout * 1000);
    const pending = client.send(o.to, bytes);
    pending.catch(() => {});
    const delivery = await withTimeout(
      pending,
      o.timeout * 1000,
      `message ${pending.messageId} not acknowledged within ${o.timeout} s; it stays in the client store and the next client run resumes it`,
    );
    // Envelopes a killed earlier run left in the store finish too before this one exits.
    await untilAllAcked(client, o.timeout * 1000);
    line({
      sent: true,
      acked: delivery.acknowledged,
      messageId: delivery.messageId,
      to: o.to,
      bytes: bytes.length,
      fragments: delivery.fragments,
      transmissions: delivery.transmissions,
      from: client.address,
    });
  } finally {
    await client.stop();
  }
}

export interface FlushOptions {
  config: string;
  timeout: number;
}

/** `loopix client flush`: resumes what an earlier run left unacknowledged in the store, exits when done. */
export async function runClientFlush(o: FlushOptions, deps: ClientCommandDeps = {}): Promise<void> {
  const resumed: string[] = [];
  await prepareClientDirectory(o.config);
  const client = clientFromConfigFile(o.config, { ...deps, onDelivered: (ids) => resumed.push(...ids) });
  const pendingAtStart = client.stats().unacked_fragments;
  client.start();
  try {
    await client.waitConnected(o.timeout * 1000);
    await untilAllAcked(client, o.timeout * 1000);
    line({ flushed: true, fragments: pendingAtStart, messageIds: resumed });
  } finally {
    await client.stop();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>(
      (_, reject) => (timer = setTimeout(() => reject(new LoopixError('ERR_LOOPIX_CLIENT_TIMEOUT', message)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

async function untilAllAcked(client: LoopixClient, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (client.stats().unacked_fragments > 0 || client.stats().send_buffer > 0) {
    if (Date.now() > deadline) {
      const s = client.stats();
      throw new LoopixError(
        'ERR_LOOPIX_CLIENT_TIMEOUT',
        `${s.unacked_fragments} fragments still unacknowledged after ${ms / 1000} s (${s.sent_real} sent, ${s.acks_received} acks received, connected: ${s.connected}); they stay in the client store`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RecvOptions {
  config: string;
  count?: number;
  timeout?: number;
}

export async function runClientRecv(o: RecvOptions, deps: ClientCommandDeps = {}): Promise<void> {
  await prepareClientDirectory(o.config);
  const client = clientFromConfigFile(o.config, deps);
  client.start();
  process.stderr.write(`${JSON.stringify({ address: client.address })}\n`);
  let received = 0;
  const timer = o.timeout !== undefined ? setTimeout(() => void client.stop(), o.timeout * 1000) : undefined;
  const onSignal = () => void client.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for await (const m of client.messages()) {
      received++;
      const text = asText(m.bytes);
      line({
        messageId: m.messageId,
        bytes: m.bytes.length,
        latencyMs: m.latencyMs,
        ...(text !== undefined ? { text } : {}),
        base64: Buffer.from(m.bytes).toString('base64'),
      });
      if (o.count !== undefined && received >= o.count) break;
    }
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Let the acknowledgements of what was received leave (they wait for λP slots) before stopping.
    await client.flushed(5000).catch(() => {});
    await client.stop();
    process.stderr.write(`${JSON.stringify({ stats: client.stats() })}\n`);
  }
  if (o.count !== undefined && received < o.count) {
    process.stderr.write(`loopix client recv: received ${received} of ${o.count} messages before the timeout\n`);
    process.exitCode = 1;
  }
}

/** Adds `client send` and `client recv` to the program. */
export function registerClientCommands(program: Command): void {
  const client = program
    .command('client')
    .description('a loopix client: send a message, print received ones, or serve the local API');
  client
    .command('send')
    .description(
      'send one message (fragmented as needed) to a loopix1: address, then exit once the recipient acknowledged every fragment',
    )
    .requiredOption('--config <file>', 'client config JSON')
    .requiredOption('--to <address>', 'recipient address loopix1:<provider id>:<public key>')
    .option('--message <text>', 'the message text (UTF-8)')
    .option('--file <path>', 'send the contents of this file')
    .option(
      '--timeout <s>',
      'give up when not connected or not acknowledged within this many seconds',
      seconds('--timeout'),
      60,
    )
    .action((o: SendOptions) => runClientSend(o));
  client
    .command('flush')
    .description(
      'resume the sends an earlier run left unacknowledged in the client store; exit when all are acknowledged',
    )
    .requiredOption('--config <file>', 'client config JSON')
    .option('--timeout <s>', 'give up after this many seconds', seconds('--timeout'), 120)
    .action((o: FlushOptions) => runClientFlush(o));
  client
    .command('recv')
    .description('print received messages as JSON lines ({messageId, bytes, latencyMs, text?, base64})')
    .requiredOption('--config <file>', 'client config JSON')
    .option('--count <n>', 'exit after this many messages', positiveInt('--count'))
    .option('--timeout <s>', 'exit after this many seconds', seconds('--timeout'))
    .action((o: RecvOptions) => runClientRecv(o));
  registerClientServe(client);
}
