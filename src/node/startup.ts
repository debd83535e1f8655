/**
 * Node start-up: config, topology, key file, and the checks that tie them together. Anything wrong stops
 * start-up with ONE LoopixError whose code says what kind of problem it is (ConfigError, TopologyError,
 * KeyFileError, ReplayStoreError, or a StartupError for parts that do not fit together) and whose message
 * names the file and what is wrong in it (the CLI prints `code: message` and exits with code 2); no stack
 * traces for operator mistakes.
 *
 * Relative `keyFile` / `topologyFile` / `provider.dataDir` / `replay.stateDir` paths are resolved against the
 * config file's directory, so a network directory can be moved as a whole. The replay filter's state lives
 * in `<config dir>/<node id>.state` unless `replay.stateDir` says otherwise.
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { trustOf } from '../directory/config.js';
import { LoopixError, StartupError } from '../errors.js';
import { loadConfigFile, NodeConfigSchema, type NodeConfig } from '../config/schema.js';
import { loadSphinx } from '../sphinx/loader.js';
import { loadTopologyFile, TopologyIndex } from '../topology/document.js';
import type { Role } from '../topology/types.js';
import { checkClock } from './clock.js';
import { loadNodeKeyFile, type EpochKeyPair } from './keys.js';
import type { NodeSetup } from './pipeline.js';

export { StartupError };

function resolveFrom(base: string, p: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

/** Loads and cross-checks everything a node of `role` needs; throws a StartupError naming the problem. */
export function loadNodeSetup(configFile: string, role: Role): NodeSetup {
  try {
    return loadNodeSetupUnchecked(configFile, role);
  } catch (err) {
    // Config, topology, key-file and replay-state errors keep their own codes; anything else is unexpected.
    if (err instanceof LoopixError) throw err;
    throw new StartupError(`${configFile}: ${(err as Error)?.message ?? String(err)}`, {
      code: 'ERR_LOOPIX_STARTUP_FAILED',
      cause: err,
    });
  }
}

function loadNodeSetupUnchecked(configFile: string, role: Role): NodeSetup {
  const loaded = loadConfigFile(NodeConfigSchema, configFile);
  const base = dirname(resolve(configFile));
  const config: NodeConfig = Object.freeze({
    ...loaded,
    keyFile: resolveFrom(base, loaded.keyFile),
    topologyFile: resolveFrom(base, loaded.topologyFile),
    provider: loaded.provider
      ? Object.freeze({ ...loaded.provider, dataDir: resolveFrom(base, loaded.provider.dataDir) })
      : undefined,
    replay: Object.freeze({
      ...loaded.replay,
      stateDir: resolveFrom(base, loaded.replay.stateDir ?? join(base, `${loaded.id}.state`)),
    }),
  });
  // `message` starts with the config key it is about ("id: …", "keyFile: …"), which becomes the error's field.
  const fail = (message: string): never => {
    throw new StartupError(`config ${configFile}: ${message}`, { field: /^([\w.]+):/.exec(message)?.[1] });
  };

  const doc = loadTopologyFile(config.topologyFile, trustOf(config));
  const topology = new TopologyIndex(doc);
  checkClock(topology, Date.now(), config.epochs.graceS, config.topologyFile);
  const g = topology.geometry;
  if (config.id.length !== g.addressBytes * 2)
    fail(
      `id: must be ${g.addressBytes} bytes of hex (the topology's geometry.addressBytes), got ${config.id.length / 2}`,
    );
  const self = topology.node(config.id);
  if (!self) return fail(`id: node ${config.id} is not in the topology ${config.topologyFile}`);
  if (self.role !== role) fail(`id: node ${config.id} (${self.name}) is a ${self.role} in the topology, not a ${role}`);
  if (role === 'provider' && !config.provider)
    fail('provider: section required to run a provider (it names provider.dataDir)');
  if (role === 'mix' && config.provider) fail('provider: section given, but node is a mix');

  const keyFile = loadNodeKeyFile(config.keyFile);
  // A single key pair is the key of the document's epoch (a network whose keys do not rotate).
  const keys: readonly EpochKeyPair[] =
    keyFile.kind === 'single' ? [{ epoch: doc.epoch, ...keyFile.key }] : keyFile.keys;
  let backend;
  try {
    backend = loadSphinx().backend;
  } catch (err) {
    throw new StartupError(`no usable Sphinx implementation: ${(err as Error)?.message ?? String(err)}`, {
      code: 'ERR_LOOPIX_STARTUP_NO_SPHINX',
      cause: err,
    });
  }
  for (const k of keys) {
    const publicHex = Buffer.from(k.publicKey).toString('hex');
    const derived = Buffer.from(backend.x25519Base(k.privateKey)).toString('hex');
    if (derived !== publicHex)
      fail(
        `keyFile: private key of epoch ${k.epoch} in ${config.keyFile} does not belong to its public key ${publicHex}`,
      );
  }
  // The document names this node's keys for its epoch and (once published) the next; the key store must
  // hold the same ones, or every packet built from the document would fail at this node.
  for (const [epoch, published] of [
    [doc.epoch, self.publicKey],
    [doc.epoch + 1, self.nextPublicKey],
  ] as const) {
    if (published === undefined) continue;
    const mine = keys.find((k) => k.epoch === epoch);
    if (!mine) {
      if (epoch === doc.epoch && topology.epochAt(Date.now()) <= doc.epoch)
        fail(`keyFile: ${config.keyFile} has no key for the topology's epoch ${epoch}`);
      continue;
    }
    const publicHex = Buffer.from(mine.publicKey).toString('hex');
    if (publicHex !== published) {
      fail(
        `keyFile: public key ${publicHex} for epoch ${epoch} in ${config.keyFile} does not match the topology's ${epoch === doc.epoch ? 'publicKey' : 'nextPublicKey'} ${published} for node ${config.id}`,
      );
    }
  }
  const keyPair = keys.find((k) => k.epoch === doc.epoch) ?? keys[keys.length - 1]!;

  const loopHops = doc.layers + 1;
  if (loopHops > g.maxHops)
    fail(`topology has ${doc.layers} mix layers: a loop needs ${loopHops} hops but geometry.maxHops is ${g.maxHops}`);
  return {
    config,
    topology,
    self,
    keyPair,
    keys,
    stateDir: config.replay.persist ? config.replay.stateDir : undefined,
    configFile,
  };
}
