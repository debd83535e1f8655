/**
 * A client started from a config file with a `directory` section: before it starts, make sure its
 * `topologyFile` holds a valid document of the authorities (fetch the current epoch's when the kept one is
 * missing, invalid or expired); while it runs, follow the documents (src/directory/follower.ts) instead of
 * re-reading the file.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ClientConfigSchema, loadConfigFile } from '../config/schema.js';
import { LoopixError } from '../errors.js';
import { loadTopologyFile, TopologyIndex } from '../topology/document.js';
import { DirectoryFetcher } from './fetcher.js';
import { DirectoryFollower, writeDocumentFile } from './follower.js';
import { epochAtMs } from './document.js';

/** Ensures a valid kept document for a client config with `directory`; no-op without one. */
export async function prepareClientDirectory(configFile: string): Promise<void> {
  const config = loadConfigFile(ClientConfigSchema, configFile);
  if (!config.directory) return;
  const file = isAbsolute(config.topologyFile)
    ? config.topologyFile
    : resolve(dirname(resolve(configFile)), config.topologyFile);
  const fetcher = new DirectoryFetcher(config.directory);
  if (existsSync(file)) {
    try {
      const kept = new TopologyIndex(loadTopologyFile(file, fetcher.trust));
      if (Date.now() < kept.expiresAtMs) return;
    } catch {
      // fetch a new one
    }
  }
  const s = await fetcher.schedule();
  const doc = await fetcher.document(epochAtMs(s, Date.now()));
  writeDocumentFile(file, doc);
}

/** The follower a directory client runs (started and stopped with the client). */
export function clientFollower(o: {
  configDirectory: NonNullable<ReturnType<typeof ClientConfigSchema.parse>['directory']>;
  cacheFile: string;
  current: TopologyIndex;
  adopt: (index: TopologyIndex) => void;
  stop: (reason: string) => void;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
}): DirectoryFollower {
  if (!o.current.rotates)
    throw new LoopixError('ERR_LOOPIX_DIRECTORY_MALFORMED', 'a directory document must carry an epoch schedule', {
      field: 'epochLengthS',
    });
  return new DirectoryFollower({
    fetcher: new DirectoryFetcher(o.configDirectory),
    cacheFile: o.cacheFile,
    current: o.current,
    onAdopt: o.adopt,
    onExpired: o.stop,
    log: o.log,
  });
}
