/**
 * A node's directory agent (config `directory`): before the node starts it announces itself with a signed
 * descriptor and obtains a valid document for the current epoch (from the authorities, or the last one kept
 * in `topologyFile`); while it runs it
 *
 *  - re-announces itself every epoch (its key store may have grown: `loopix keygen --epochs … --append`);
 *  - follows the documents (src/directory/follower.ts), writing each to `topologyFile`, which the epoch stage
 *    re-reads every `epochs.refreshS` (src/node/epochs.ts);
 *  - says in its log and metrics when the next document does not list it, or lists another key for it
 *    (`directory_self_missing`, `directory_self_key_mismatch`; gauge `directory_self_listed`);
 *  - stops its own loops while its document is expired (they would only be dropped as key_expired) and says
 *    why (`directory_document_expired`);
 *  - files loop reports (src/directory/reporter.ts).
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import { loadConfigFile, NodeConfigSchema, type NodeConfig } from '../config/schema.js';
import { LoopixError } from '../errors.js';
import { loadNodeKeyFile } from '../node/keys.js';
import type { RunningNode } from '../node/mix.js';
import { loadTopologyFile, TopologyIndex } from '../topology/document.js';
import type { Role } from '../topology/types.js';
import { MAX_DESCRIPTOR_KEYS } from './schemas.js';
import { signDescriptor } from './descriptor.js';
import { epochAtMs } from './document.js';
import { DirectoryFetcher, type Schedule } from './fetcher.js';
import { DirectoryFollower, writeDocumentFile } from './follower.js';
import { nodeIdFor, type IdentityKey } from './identity.js';
import { loadIdentityKeyFile } from './identity-file.js';
import { LoopReporter } from './reporter.js';
import type { NodeDirectoryConfig } from './config.js';
import { setTimeout as sleep } from 'node:timers/promises';

const abs = (base: string, p: string) => (isAbsolute(p) ? p : resolve(base, p));

export class NodeDirectoryAgent {
  private follower: DirectoryFollower | undefined;
  private reporter: LoopReporter | undefined;
  private announceTimer: NodeJS.Timeout | undefined;
  private announcedEpoch = -1;
  private selfListed = true;

  private constructor(
    private readonly role: Role,
    private readonly dir: NodeDirectoryConfig,
    private readonly topologyFile: string,
    private readonly keyFile: string,
    private readonly selfId: string,
    readonly identity: IdentityKey,
    readonly fetcher: DirectoryFetcher,
    private schedule: Schedule,
    private readonly log: Logger,
    private readonly loopWindowS: number,
    /** The node serves as a post office (config provider.postOffice): its descriptor says so. */
    private readonly postOffice: boolean,
  ) {}

  /**
   * Runs before the node's own start-up (src/node/startup.ts reads `topologyFile` after this): undefined for
   * a node without a `directory` section. Throws a LoopixError when no valid document can be had within
   * `directory.startupWaitS`.
   */
  static async prepare(configFile: string, role: Role, log: Logger): Promise<NodeDirectoryAgent | undefined> {
    const config: NodeConfig = loadConfigFile(NodeConfigSchema, configFile);
    const dir = config.directory;
    if (!dir) return undefined;
    const base = dirname(resolve(configFile));
    const identity = loadIdentityKeyFile(abs(base, dir.identityKeyFile));
    const derived = nodeIdFor(identity.publicKey, config.id.length / 2);
    if (derived !== config.id)
      throw new LoopixError(
        'ERR_LOOPIX_DIRECTORY_NODE_ID',
        `config ${configFile}: id must be ${derived}, the id of identity key ${identity.publicKey}`,
        { field: 'id' },
      );
    const fetcher = new DirectoryFetcher(dir);
    const topologyFile = abs(base, config.topologyFile);
    const deadline = Date.now() + dir.startupWaitS * 1000;
    let cached: TopologyIndex | undefined;
    if (existsSync(topologyFile)) {
      try {
        cached = new TopologyIndex(loadTopologyFile(topologyFile, fetcher.trust));
      } catch (err) {
        log.warn(
          { file: topologyFile, err: (err as Error).message },
          'kept directory document not usable; fetching a new one',
        );
      }
    }
    let schedule: Schedule | undefined = cached?.rotates
      ? {
          epoch: cached.epochAt(Date.now()),
          epochLengthS: cached.doc.epochLengthS!,
          genesisEpoch: cached.doc.epoch,
          genesisMs: cached.doc.epochStartMs!,
        }
      : undefined;
    let lastErr = '';
    while (!schedule) {
      try {
        schedule = await fetcher.schedule();
      } catch (err) {
        lastErr = (err as Error).message;
        if (Date.now() > deadline)
          throw new LoopixError(
            'ERR_LOOPIX_DIRECTORY_UNAVAILABLE',
            `no directory authority reachable within ${dir.startupWaitS} s: ${lastErr}`,
          );
        await sleep(500);
      }
    }
    const agent = new NodeDirectoryAgent(
      role,
      dir,
      topologyFile,
      abs(base, config.keyFile),
      config.id,
      identity,
      fetcher,
      schedule,
      log,
      config.params.loopWindowS,
      role === 'provider' && config.provider?.postOffice !== undefined,
    );
    await agent.announce();
    if (cached && cached.doc.epoch >= agent.epochNow() && Date.now() < cached.expiresAtMs) return agent;
    for (let wait = 250; ; wait = Math.min(wait * 2, 2000)) {
      const epoch = agent.epochNow();
      try {
        const doc = await fetcher.document(epoch);
        if (doc.nodes.some((n) => n.id === config.id)) {
          writeDocumentFile(topologyFile, doc);
          log.info({ epoch, signatures: doc.signatures.length }, 'directory document obtained');
          return agent;
        }
        // Announced after the authorities' vote for this epoch: listed from the next one on.
        lastErr = `the document of epoch ${epoch} does not list this node yet`;
        if (wait >= 2000) log.info({ epoch }, 'not listed in the current document yet; waiting for the next epoch');
      } catch (err) {
        lastErr = (err as Error).message;
      }
      if (cached && Date.now() < cached.expiresAtMs) {
        log.warn(
          { epoch: cached.doc.epoch, err: lastErr },
          'no current document from the authorities; starting from the kept one',
        );
        return agent;
      }
      if (Date.now() > deadline)
        throw new LoopixError(
          'ERR_LOOPIX_DIRECTORY_UNAVAILABLE',
          `no valid directory document for epoch ${epoch} within ${dir.startupWaitS} s: ${lastErr}`,
        );
      await sleep(wait);
    }
  }

  private epochNow(): number {
    return epochAtMs(this.schedule, Date.now());
  }

  /** Signs and uploads the descriptor: keys of the key store from the previous epoch on. */
  async announce(): Promise<void> {
    const epoch = this.epochNow();
    const keys: { epoch: number; publicKey: string }[] = [];
    const file = loadNodeKeyFile(this.keyFile);
    if (file.kind !== 'epochs')
      throw new LoopixError(
        'ERR_LOOPIX_DIRECTORY_KEYS',
        `${this.keyFile}: a node using the directory needs a key store with one key per epoch (loopix keygen --epochs A..B)`,
        { field: 'keyFile' },
      );
    keys.push(
      ...file.keys
        .filter((k) => k.epoch >= epoch - 1)
        .slice(0, MAX_DESCRIPTOR_KEYS)
        .map((k) => ({ epoch: k.epoch, publicKey: Buffer.from(k.publicKey).toString('hex') })),
    );
    for (const k of file.keys) k.privateKey.fill(0);
    if ((keys.length === 0 || keys[keys.length - 1]!.epoch <= epoch) && this.announcedEpoch !== epoch) {
      this.log.error(
        { epoch, keyFile: this.keyFile },
        'the key store has no key for the next epoch: add keys (loopix keygen --epochs … --append) or the node drops out of the directory',
      );
    }
    if (keys.length === 0) {
      this.announcedEpoch = epoch;
      return;
    }
    const a = this.dir.announce;
    const descriptor = signDescriptor(
      {
        version: 1,
        identityKey: this.identity.publicKey,
        id: this.selfId,
        name: a.name,
        role: this.role,
        layer: a.layer,
        udp: { host: a.udp.host, port: a.udp.port },
        ...(a.ws ? { ws: a.ws } : {}),
        ...(this.postOffice ? { postOffice: true as const } : {}),
        keys,
        issuedAtMs: Date.now(),
      },
      this.identity,
    );
    const results = await this.fetcher.uploadAll('/v1/descriptor', { descriptor });
    const ok = results.filter((r) => r.ok).length;
    this.announcedEpoch = epoch;
    const refused = results.filter((r) => !r.ok).map((r) => `${r.url}: ${r.status} ${r.message}`);
    if (ok < this.fetcher.trust.threshold)
      this.log.warn({ epoch, accepted: ok, refused }, 'descriptor reached fewer authorities than the threshold');
    else this.log.info({ epoch, accepted: ok, refused, keys: keys.map((k) => k.epoch) }, 'descriptor uploaded');
  }

  /** Starts following, re-announcing and reporting for a running node. */
  start(node: RunningNode): void {
    const m = node.pipeline.metrics;
    const current = new TopologyIndex(loadTopologyFile(this.topologyFile, this.fetcher.trust));
    m.gauge('directory_self_listed', () => this.selfListed);
    m.gauge('directory_document_epoch', () => this.follower?.document.doc.epoch ?? null);
    m.gauge('directory_document_expired', () => this.follower?.isExpired ?? false);
    const loops = node.pipeline.loops;
    this.follower = new DirectoryFollower({
      fetcher: this.fetcher,
      cacheFile: this.topologyFile,
      current,
      log: this.log,
      onFetched: (index) => {
        const self = index.node(this.selfId);
        const mine = this.myKey(index.doc.epoch);
        if (!self) {
          this.selfListed = false;
          m.count('directory_self_missing');
          this.log.warn(
            { epoch: index.doc.epoch },
            'this node is missing from the next directory document: no path will use it that epoch (did its descriptor reach the authorities before their vote? does the key store have a key for that epoch?)',
          );
        } else if (mine !== undefined && self.publicKey !== mine) {
          this.selfListed = false;
          m.count('directory_self_key_mismatch');
          this.log.warn(
            { epoch: index.doc.epoch, listed: self.publicKey, keyStore: mine },
            "the next directory document lists another key for this node than its key store's",
          );
        } else this.selfListed = true;
        if (index.excluded.has(this.selfId))
          this.log.error(
            { epoch: index.doc.epoch },
            'this node is EXCLUDED in the next document (named by more than f reporters): no path will use it',
          );
      },
      onAdopt: (index) => {
        if (this.follower?.isExpired) loops?.start();
        this.log.info(
          {
            epoch: index.doc.epoch,
            excluded: index.doc.directory?.excluded,
            removedLinks: index.doc.directory?.removedLinks.length,
          },
          'directory document adopted',
        );
      },
      onExpired: (reason) => {
        m.count('directory_document_expired');
        loops?.stop();
        this.log.error({ reason }, 'own loops stopped: no valid directory document');
      },
    });
    this.follower.start();
    this.announceTimer = setInterval(() => {
      if (this.epochNow() !== this.announcedEpoch)
        void this.announce().catch((err: unknown) =>
          this.log.error({ err: (err as Error).message }, 'descriptor upload failed'),
        );
    }, 1000);
    this.announceTimer.unref();
    if (this.dir.reports && loops) {
      this.reporter = new LoopReporter({
        selfId: this.selfId,
        identity: this.identity,
        fetcher: this.fetcher,
        total: () => loops.monitor.attribution().total,
        evidenceWindowS: Math.min(3600, Math.max(this.loopWindowS, 2 * this.schedule.epochLengthS)),
        params: () => this.follower?.document.doc.directory?.isolation,
        epoch: () => this.epochNow(),
        count: (name, by) => m.count(name, by),
        log: this.log,
      });
      this.reporter.start();
    }
  }

  private myKey(epoch: number): string | undefined {
    try {
      const file = loadNodeKeyFile(this.keyFile);
      if (file.kind !== 'epochs') return undefined;
      const k = file.keys.find((x) => x.epoch === epoch);
      for (const x of file.keys) x.privateKey.fill(0);
      return k ? Buffer.from(k.publicKey).toString('hex') : undefined;
    } catch {
      return undefined;
    }
  }

  stop(): void {
    this.follower?.stop();
    this.reporter?.stop();
    if (this.announceTimer) clearInterval(this.announceTimer);
  }
}
