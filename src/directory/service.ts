/**
 * `loopix authority serve`: one authority as a running service — the state (src/directory/authority.ts),
 * the HTTP API (src/directory/server.ts), the vote clock, and the pulls from the peer authorities.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import { loadConfigFile } from '../config/schema.js';
import { createLogger } from '../log.js';
import { Authority } from './authority.js';
import { AuthorityConfigSchema, type AuthorityConfig } from './config.js';
import { loadIdentityKeyFile } from './identity-file.js';
import { startAuthorityServer, type AuthorityServer } from './server.js';

export interface RunningAuthority {
  readonly authority: Authority;
  readonly port: number;
  close(): Promise<void>;
}

/** Vote-clock resolution, ms: a document is built at most this long after its vote time. */
const TICK_MS = 100;

export async function startAuthority(config: AuthorityConfig, o: { log?: Logger } = {}): Promise<RunningAuthority> {
  const key = loadIdentityKeyFile(config.identityKeyFile);
  const log = o.log ?? createLogger(`authority ${key.publicKey.slice(0, 8)}`, config.log.level);
  const authority = new Authority(config, key, log);
  const server: AuthorityServer = await startAuthorityServer(authority, {
    host: config.listen.host,
    port: config.listen.port,
    maxBodyBytes: config.maxBodyBytes,
    log,
  });
  const peers = config.authorities.filter((a) => a.publicKey !== key.publicKey);
  let syncing = false;
  const peerDown = new Map<string, boolean>();
  const sync = async (): Promise<void> => {
    if (syncing) return;
    syncing = true;
    try {
      await Promise.all(
        peers.map(async (p) => {
          try {
            const res = await fetch(`${p.url.replace(/\/$/, '')}/v1/sync`, {
              signal: AbortSignal.timeout(Math.max(500, config.syncIntervalMs * 2)),
            });
            if (!res.ok) throw new Error(`HTTP ${res.status}`);
            const got = authority.mergePeer(await res.json());
            if (peerDown.get(p.url)) log.info({ peer: p.url }, 'peer authority reachable again');
            peerDown.set(p.url, false);
            if (got.descriptors + got.reports + got.signatures > 0)
              log.debug({ peer: p.url, ...got }, 'merged from peer');
          } catch (err) {
            if (!peerDown.get(p.url))
              log.warn(
                { peer: p.url, err: (err as Error).message },
                'peer authority unreachable (retrying every sync interval)',
              );
            peerDown.set(p.url, true);
          }
        }),
      );
      authority.tick(); // a signature or descriptor that just arrived may complete a vote
    } finally {
      syncing = false;
    }
  };
  const tick = setInterval(() => authority.tick(), TICK_MS);
  const syncTimer = setInterval(() => void sync(), config.syncIntervalMs);
  authority.tick();
  void sync();
  log.info(
    {
      port: server.port,
      publicKey: key.publicKey,
      peers: peers.length,
      threshold: authority.trust.threshold,
      epoch: authority.currentEpoch,
    },
    'directory authority running',
  );
  return {
    authority,
    port: server.port,
    async close() {
      clearInterval(tick);
      clearInterval(syncTimer);
      await server.close();
      authority.save();
    },
  };
}

/** Reads an authority config; relative paths are resolved against the config file's directory. */
export function loadAuthorityConfig(file: string): AuthorityConfig {
  const c = loadConfigFile(AuthorityConfigSchema, file);
  const base = dirname(resolve(file));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  return Object.freeze({ ...c, identityKeyFile: abs(c.identityKeyFile), dataDir: abs(c.dataDir) });
}
