/**
 * Node start-up: config, topology, key file, and the checks that tie them together. Anything wrong stops
 * start-up with ONE StartupError whose message names the file and what is wrong in it (the CLI prints it and
 * exits with code 2); no stack traces for operator mistakes.
 *
 * Relative `keyFile` / `topologyFile` / `provider.dataDir` paths are resolved against the config file's
 * directory, so a network directory can be moved as a whole.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, loadConfigFile, NodeConfigSchema, type NodeConfig } from '../config/schema.js';
import { loadSphinx } from '../sphinx/loader.js';
import { loadTopologyFile, TopologyError, TopologyIndex } from '../topology/document.js';
import type { Role } from '../topology/types.js';
import { KeyFileError, loadKeyPairFile } from './keys.js';
import type { NodeSetup } from './pipeline.js';

export class StartupError extends Error {
  override readonly name = 'StartupError';
}

function resolveFrom(base: string, p: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

/** Loads and cross-checks everything a node of `role` needs; throws a StartupError naming the problem. */
export function loadNodeSetup(configFile: string, role: Role): NodeSetup {
  try {
    return loadNodeSetupUnchecked(configFile, role);
  } catch (err) {
    if (err instanceof StartupError) throw err;
    if (err instanceof ConfigError || err instanceof TopologyError || err instanceof KeyFileError) throw new StartupError(err.message);
    throw new StartupError(`${configFile}: ${(err as Error)?.message ?? String(err)}`);
  }
}

function loadNodeSetupUnchecked(configFile: string, role: Role): NodeSetup {
  const loaded = loadConfigFile(NodeConfigSchema, configFile);
  const base = dirname(resolve(configFile));
  const config: NodeConfig = Object.freeze({
    ...loaded,
    keyFile: resolveFrom(base, loaded.keyFile),
    topologyFile: resolveFrom(base, loaded.topologyFile),
    provider: loaded.provider ? Object.freeze({ ...loaded.provider, dataDir: resolveFrom(base, loaded.provider.dataDir) }) : undefined,
  });
  const fail = (message: string): never => {
    throw new StartupError(`config ${configFile}: ${message}`);
  };

  const doc = loadTopologyFile(config.topologyFile, config.authorityPublicKey);
  const topology = new TopologyIndex(doc);
  const g = topology.geometry;
  if (config.id.length !== g.addressBytes * 2) fail(`id: must be ${g.addressBytes} bytes of hex (the topology's geometry.addressBytes), got ${config.id.length / 2}`);
  const self = topology.node(config.id);
  if (!self) return fail(`id: node ${config.id} is not in the topology ${config.topologyFile}`);
  if (self.role !== role) fail(`id: node ${config.id} (${self.name}) is a ${self.role} in the topology, not a ${role}`);
  if (role === 'provider' && !config.provider) fail('provider: section required to run a provider (it names provider.dataDir)');
  if (role === 'mix' && config.provider) fail('provider: section given, but node is a mix');

  const keyPair = loadKeyPairFile(config.keyFile);
  const publicHex = Buffer.from(keyPair.publicKey).toString('hex');
  if (publicHex !== self.publicKey) {
    fail(`keyFile: public key ${publicHex} in ${config.keyFile} does not match the topology's publicKey ${self.publicKey} for node ${config.id}`);
  }
  let backend;
  try {
    backend = loadSphinx().backend;
  } catch (err) {
    throw new StartupError(`no usable Sphinx implementation: ${(err as Error)?.message ?? String(err)}`);
  }
  const derived = Buffer.from(backend.x25519Base(keyPair.privateKey)).toString('hex');
  if (derived !== publicHex) fail(`keyFile: private key in ${config.keyFile} does not belong to its public key ${publicHex}`);

  const loopHops = doc.layers + 1;
  if (loopHops > g.maxHops) fail(`topology has ${doc.layers} mix layers: a loop needs ${loopHops} hops but geometry.maxHops is ${g.maxHops}`);
  return { config, topology, self, keyPair, configFile };
}
