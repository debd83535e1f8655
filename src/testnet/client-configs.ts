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
import type { NodeEntry } from '../topology/types.js';
import type { AuthorityEntry } from '../directory/config.js';
import { writeKeyFile } from './network.js';

/** Where the clients get their documents: a static signed file, or the directory authorities. */
export type ClientTopologySource =
  | { readonly kind: 'static'; readonly topologyFile: string; readonly authorityPublicKey: string }
  | { readonly kind: 'directory'; readonly authorities: readonly AuthorityEntry[]; readonly threshold: number };

/** The names `loopix testnet` writes configs for. */
export const FIRST_CLIENTS = ['alice', 'bob'] as const;

export interface ClientConfigFiles {
  readonly name: string;
  readonly configFile: string;
  readonly addressFile: string;
  readonly address: string;
}

export function writeClientConfigs(
  files: { readonly dir: string; readonly providers: readonly NodeEntry[]; readonly source: ClientTopologySource },
  backend: SphinxBackend,
  params: Partial<NetworkParams>,
  names: readonly string[] = FIRST_CLIENTS,
): ClientConfigFiles[] {
  const dir = join(files.dir, 'clients');
  mkdirSync(dir, { recursive: true });
  const providers = files.providers;
  const src = files.source;
  return names.map((name, i) => {
    const provider = providers[i % providers.length]!;
    const { publicKey } = writeKeyFile(join(dir, `${name}.key.json`), backend);
    const config = {
      keyFile: `${name}.key.json`,
      providerId: provider.id,
      // A directory client keeps the last valid document in its own file (src/directory/client-setup.ts).
      ...(src.kind === 'static'
        ? { topologyFile: src.topologyFile, authorityPublicKey: src.authorityPublicKey }
        : {
            topologyFile: `${name}.topology.json`,
            directory: { authorities: src.authorities, threshold: src.threshold },
          }),
      params,
      log: { level: 'warn' },
    };
    parseConfig(ClientConfigSchema, config, name);
    const configFile = join(dir, `${name}.json`);
    writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
    const address = formatAddress({
      providerId: provider.id,
      publicKey: Uint8Array.from(Buffer.from(publicKey, 'hex')),
    });
    const addressFile = join(dir, `${name}.address`);
    writeFileSync(addressFile, `${address}\n`);
    return { name, configFile, addressFile, address };
  });
}
