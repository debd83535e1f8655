/**
 * The Node defaults for the runtime-neutral client (src/client/client.ts): the native Sphinx addon (via the
 * loader, TypeScript twin as fallback), the `ws` WebSocket session with the provider, key files and topology
 * files on disk, and the topology file watch. A browser build wires its own (IndexedDB, the browser's
 * WebSocket) and never imports this module.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import WebSocket from 'ws';
import { ClientConfigSchema, loadConfigFile } from '../config/schema.js';
import { LoopixError } from '../errors.js';
import { createLogger } from '../log.js';
import { loadSphinx } from '../sphinx/loader.js';
import type { SphinxBackend } from '../sphinx/types.js';
import { loadTopologyFile, TopologyIndex } from '../topology/document.js';
import { equalBytes, hexToBytes } from './bytes.js';
import { LoopixClient, type LoopixClientOptions, type TransportFactory } from './client.js';
import type { BackoffOptions, WebSocketFactory } from './connection.js';
import { webSocketTransport } from './transport.js';
import { SqliteStore } from './sqlite-store.js';
import type { KeyPair } from './keys.js';
import { TopologyWatch } from './topology-watch.js';
import { trustOf } from '../directory/config.js';
import { clientFollower } from '../directory/client-setup.js';
import { readJsonFile } from '../util/json-file.js';

/**
 * Node's WebSocket for the provider session: the `ws` package, with what a browser cannot set — no
 * permessage-deflate (records are encrypted, so incompressible), a payload limit of the largest record the
 * provider may send, and an opening-handshake timeout.
 */
export const nodeWebSocket: WebSocketFactory = (url, limits) =>
  new WebSocket(url, {
    perMessageDeflate: false,
    maxPayload: limits.maxPayloadBytes,
    handshakeTimeout: limits.handshakeTimeoutMs,
  });

/** The WebSocket session with the provider named in the topology (its entry's `ws` URL), over `ws`. */
export function wsTransport(backoff?: BackoffOptions): TransportFactory {
  return webSocketTransport(nodeWebSocket, backoff);
}

/** LoopixClient options with the Node defaults optional. */
export type NodeClientOptions = Omit<LoopixClientOptions, 'backend' | 'transport'> &
  Partial<Pick<LoopixClientOptions, 'backend' | 'transport'>>;

/** A client with the Node defaults: loadSphinx().backend and the WebSocket transport. */
export function createNodeClient(o: NodeClientOptions): LoopixClient {
  return new LoopixClient({
    ...o,
    backend: o.backend ?? loadSphinx().backend,
    transport: o.transport ?? wsTransport(o.backoff),
  });
}

/**
 * Reads a client config file (keyFile and topologyFile relative to it), its key pair and its topology, opens
 * its store `<keyFile>.state.sqlite` (unless `options.store` is given), and follows the directory's per-epoch
 * documents (rotating keys) for as long as the client runs.
 */
export function clientFromConfigFile(
  file: string,
  options: Partial<Omit<NodeClientOptions, 'config' | 'keyPair' | 'topology'>> = {},
): LoopixClient {
  const config = loadConfigFile(ClientConfigSchema, file);
  const base = dirname(resolve(file));
  const backend = options.backend ?? loadSphinx().backend;
  const keyFile = resolve(base, config.keyFile);
  const keyPair = readKeyPairFile(keyFile, backend);
  const topologyFile = resolve(base, config.topologyFile);
  if (config.directory && !existsSync(topologyFile)) {
    // A directory client keeps the last valid document in topologyFile; a fresh config has none yet, and
    // fetching one is asynchronous.
    throw new LoopixError(
      'ERR_LOOPIX_CLIENT_NO_DOCUMENT',
      `${file}: its topologyFile ${topologyFile} holds no directory document yet: await prepareClientDirectory(${JSON.stringify(file)}) first (it fetches the current one from the authorities)`,
      { field: 'topologyFile' },
    );
  }
  // The static file's authority key, or the directory's k of n trusted authorities (src/directory/config.ts).
  const topology = new TopologyIndex(loadTopologyFile(topologyFile, trustOf(config)));
  const log = options.log ?? createLogger('loopix-client', config.log.level);
  let watch: { start(): void; stop(): void } | undefined;
  // Unacknowledged envelopes, seen ids and reply SURBs live next to the key file (one client per key file).
  const store = options.store ?? new SqliteStore(`${keyFile}.state.sqlite`);
  const client = createNodeClient({
    ...options,
    config,
    keyPair,
    topology,
    backend,
    log,
    store,
    onStop: async () => {
      watch?.stop();
      await options.onStop?.();
      if (!options.store) await store.close();
    },
  });
  if (config.directory) {
    // Fetch each next epoch's document from the authorities themselves (k of n; src/directory/follower.ts),
    // keeping the last valid one in topologyFile; prepareClientDirectory made sure the file holds one.
    watch = clientFollower({
      configDirectory: config.directory,
      cacheFile: topologyFile,
      current: topology,
      adopt: (index) => client.setTopology(index),
      stop: (reason) => {
        log.error({ reason }, 'no valid directory document: the streams stop');
        client.stopStreams();
      },
      log,
    });
  } else {
    // A static signed file another process keeps fresh: re-read it.
    watch = new TopologyWatch({
      file: topologyFile,
      authorityPublicKey: trustOf(config),
      onUpdate: (index) => {
        if (index.doc.epoch > client.topology.doc.epoch || index.doc.issuedAt > client.topology.doc.issuedAt)
          client.setTopology(index);
      },
      onError: (message) => log.warn({ err: message }, 'topology file not adopted; keeping the current document'),
    });
  }
  watch.start();
  return client;
}

/** Reads a `loopix keygen` JSON key pair file ({publicKey, privateKey} hex) and checks that they match. */
export function readKeyPairFile(file: string, backend: SphinxBackend = loadSphinx().backend): KeyPair {
  const json = readJsonFile(file, { label: 'key file', code: 'ERR_LOOPIX_CLIENT_KEYFILE' }) as {
    publicKey?: unknown;
    privateKey?: unknown;
  };
  const hex32 = (name: string, v: unknown): Uint8Array => {
    if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v))
      throw new LoopixError(
        'ERR_LOOPIX_CLIENT_KEYFILE',
        `key file ${file}: ${name} must be 32 bytes of lowercase hex`,
        { field: name },
      );
    return hexToBytes(v);
  };
  const privateKey = hex32('privateKey', json.privateKey);
  const publicKey = hex32('publicKey', json.publicKey);
  if (!equalBytes(backend.x25519Base(privateKey), publicKey))
    throw new LoopixError('ERR_LOOPIX_CLIENT_KEYFILE', `key file ${file}: publicKey does not match privateKey`, {
      field: 'publicKey',
    });
  return { publicKey, privateKey };
}
