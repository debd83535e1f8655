/**
 * The node config files of a testnet, the parts both kinds share (a testnet with one signing authority,
 * src/testnet/network.ts, and one with directory authorities, src/testnet/authorities.ts): checking the
 * per-node overrides name real nodes, the role's sections (provider data directory, post office, listen
 * address off loopback; the ops endpoint), and writing a config once it parses.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NodeConfigSchema, parseConfig } from '../config/schema.js';
import { LoopixError } from '../errors.js';
import type { NodeEntry, Role } from '../topology/types.js';
import type { TestnetNode } from './network.js';

/** Throws ERR_LOOPIX_TESTNET_UNKNOWN_NODE when `perNodeConfig` names a node the testnet does not have. */
export function checkPerNodeNames(
  specs: readonly { readonly name: string }[],
  perNodeConfig: Readonly<Record<string, unknown>> | undefined,
): void {
  for (const name of Object.keys(perNodeConfig ?? {})) {
    if (!specs.some((s) => s.name === name))
      throw new LoopixError(
        'ERR_LOOPIX_TESTNET_UNKNOWN_NODE',
        `no node named "${name}" in this testnet (${specs.map((s) => s.name).join(', ')})`,
        { field: name },
      );
  }
}

export interface NodeConfigTail {
  readonly dir: string;
  readonly name: string;
  readonly role: Role;
  /** The node's own address (127.0.0.1, or its address inside --netns). */
  readonly host: string;
  /** The provider's WebSocket URL. */
  readonly ws?: string;
  /** This provider also serves as the post office. */
  readonly postOffice: boolean;
  readonly metricsPort?: number;
  /** Extra top-level fields for every node, then for this one (later wins). */
  readonly nodeConfig?: Record<string, unknown>;
  readonly perNodeConfig?: Readonly<Record<string, Record<string, unknown>>>;
}

/** The config sections after the node's own (`provider`, `ops`), then the caller's extra fields. */
export function nodeConfigTail(o: NodeConfigTail): Record<string, unknown> {
  const { host, metricsPort } = o;
  return {
    ...(o.role === 'provider'
      ? {
          provider: {
            dataDir: join(o.dir, `${o.name}-data`),
            ...(o.postOffice ? { postOffice: {} } : {}),
            ...(host !== '127.0.0.1' ? { listen: { host, port: Number(new URL(o.ws!).port) } } : {}),
          },
        }
      : {}),
    // Off loopback only inside --netns, where the address is the node's own on the testnet's private bridge.
    ...(metricsPort !== undefined
      ? { ops: { listen: { host, port: metricsPort }, allowRemote: host !== '127.0.0.1' } }
      : {}),
    ...o.nodeConfig,
    ...o.perNodeConfig?.[o.name],
  };
}

/** Checks `config` (failing here, not in a child process), writes `<dir>/<name>.config.json`, and describes the node. */
export function writeNodeConfig(
  dir: string,
  node: { readonly name: string; readonly role: Role; readonly entry: NodeEntry; readonly keyFile: string },
  config: Record<string, unknown>,
  metrics: { readonly host: string; readonly port?: number },
): TestnetNode {
  parseConfig(NodeConfigSchema, config, node.name);
  const configFile = join(dir, `${node.name}.config.json`);
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  return {
    name: node.name,
    role: node.role,
    entry: node.entry,
    keyFile: node.keyFile,
    configFile,
    ...(metrics.port !== undefined ? { metrics: `${metrics.host}:${metrics.port}` } : {}),
  };
}
