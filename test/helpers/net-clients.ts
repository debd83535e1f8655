/**
 * Real LoopixClients of a testnet whose nodes run as processes (helpers/process-net.ts): each with a fresh
 * key file in the testnet's directory (as `loopix keygen` writes it), the testnet's signed topology, the
 * native Sphinx backend and the WebSocket transport to its provider.
 */
import { join } from 'node:path';
import type { KeyPair, LoopixClient } from '../../src/client/client.js';
import { createNodeClient, type NodeClientOptions } from '../../src/client/node.js';
import { NetworkParamsSchema, type NetworkParams } from '../../src/config/schema.js';
import { writeKeyFile, type TestnetFiles } from '../../src/testnet/network.js';
import { native } from './backends.js';

/** A fresh key pair, written to `<dir>/<name>.key.json`. */
export function freshClientKeyPair(dir: string, name: string): KeyPair {
  const k = writeKeyFile(join(dir, `${name}.key.json`), native);
  return { publicKey: Uint8Array.from(Buffer.from(k.publicKey, 'hex')), privateKey: k.privateKey };
}

/** A client of the testnet's provider `providerIndex` with `params` (the rest at their defaults). */
export function testnetClient(
  files: TestnetFiles,
  o: {
    readonly keyPair: KeyPair;
    readonly providerIndex: number;
    readonly params: Partial<NetworkParams>;
  } & Partial<Omit<NodeClientOptions, 'config' | 'keyPair' | 'topology' | 'backend'>>,
): LoopixClient {
  const { keyPair, providerIndex, params, ...extra } = o;
  return createNodeClient({
    config: { providerId: files.index.providers[providerIndex]!.id, params: NetworkParamsSchema.parse(params) },
    keyPair,
    topology: files.index,
    backend: native,
    ...extra,
  });
}
