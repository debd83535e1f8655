/**
 * Ready-to-use client configs for a local network, so a newcomer can send a message from one terminal to
 * another without writing any (README "Send your first message"). For each name, in `<dir>/clients/`:
 * `<name>.key.json` (X25519 key pair, mode 0600), `<name>.json` (a ClientConfig whose paths are relative to
 * it, so the folder can be moved) and `<name>.address` (the loopix1: address, one line, for `--to`).
 * Clients are spread over the providers in turn, so the first two talk across providers.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatAddress } from '../address.js';
import { ClientConfigSchema, parseConfig, type NetworkParams } from '../config/schema.js';
import type { SphinxBackend } from '../sphinx/types.js';
import type { TestnetFiles } from './network.js';
import { writeKeyFile } from './network.js';

/** The names `loopix testnet` writes configs for. */
export const FIRST_CLIENTS = ['alice', 'bob'] as const;

export interface ClientConfigFiles {
  readonly name: string;
  readonly configFile: string;
  readonly addressFile: string;
  readonly address: string;
}

export function writeClientConfigs(files: TestnetFiles, backend: SphinxBackend, params: Partial<NetworkParams>, names: readonly string[] = FIRST_CLIENTS): ClientConfigFiles[] {
  const dir = join(files.dir, 'clients');
  mkdirSync(dir, { recursive: true });
  const providers = files.index.providers;
  return names.map((name, i) => {
    const provider = providers[i % providers.length]!;
    const { publicKey } = writeKeyFile(join(dir, `${name}.key.json`), backend);
    const config = {
      keyFile: `${name}.key.json`,
      providerId: provider.id,
      topologyFile: '../topology.json',
      authorityPublicKey: files.authority.publicKey,
      params,
      log: { level: 'warn' },
    };
    parseConfig(ClientConfigSchema, config, name);
    const configFile = join(dir, `${name}.json`);
    writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
    const address = formatAddress({ providerId: provider.id, publicKey: Uint8Array.from(Buffer.from(publicKey, 'hex')) });
    const addressFile = join(dir, `${name}.address`);
    writeFileSync(addressFile, `${address}\n`);
    return { name, configFile, addressFile, address };
  });
}
