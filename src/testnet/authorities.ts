/**
 * The testnet's directory: n authority processes (`loopix authority serve`, default 3, valid with 2 of 3)
 * and node configs that use them — every node has its own Ed25519 identity key (its id is derived from it),
 * announces itself with a signed descriptor, fetches each epoch's document and keeps it in its own file.
 * The orchestrator signs nothing: it only writes each authority's config (registering every node's identity
 * key, as an operator would) and starts the processes.
 *
 * Bootstrap: the first epoch begins when the files are written; no authority votes until every registered
 * node has announced itself (config network.bootstrapUntilMs, `bootstrapS` at most), so all of them vote on
 * the same complete set however slowly the processes start on a loaded machine.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ISOLATION, type AuthorityEntry } from '../directory/config.js';
import { generateIdentityKey, nodeIdFor } from '../directory/identity.js';
import type { IsolationParams } from '../directory/schemas.js';
import { checkPerNodeNames, nodeConfigTail, writeNodeConfig } from './node-config.js';
import type { NetworkParams } from '../config/schema.js';
import { makeGeometry, type GeometryParams } from '../geometry.js';
import { killChild, stopChild } from './processes.js';
import { loopixBin } from '../paths.js';
import type { SphinxBackend } from '../sphinx/types.js';
import type { NodeEntry, Role } from '../topology/types.js';
import { freeTcpPort, freeUdpPort, testnetNodeSpecs, writeEpochKeyFile, type TestnetNode } from './network.js';

export interface DirectoryShape {
  readonly layers: number;
  readonly perLayer: number;
  readonly providers: number;
  readonly epoch: number;
  readonly epochLengthS: number;
  readonly epochKeys: number;
  readonly geometry?: Partial<GeometryParams>;
  /** Authorities (n) and signatures needed (k, default a majority). */
  readonly authorities: number;
  readonly threshold?: number;
  readonly isolation?: Partial<IsolationParams>;
  /** Longest wait for every node's descriptor before the first vote, s (default 300). */
  readonly bootstrapS?: number;
}

export interface TestnetAuthority {
  readonly name: string;
  readonly configFile: string;
  readonly publicKey: string;
  readonly url: string;
}

export interface DirectoryTestnetFiles {
  readonly dir: string;
  readonly nodes: readonly TestnetNode[];
  readonly authorities: readonly TestnetAuthority[];
  /** What clients and the orchestrator use to fetch documents. */
  readonly directory: {
    readonly authorities: readonly AuthorityEntry[];
    readonly threshold: number;
    readonly timeoutMs: number;
  };
  readonly genesisMs: number;
  readonly epochLengthS: number;
  readonly firstEpoch: number;
  readonly isolation: IsolationParams;
}

export interface CreateDirectoryTestnetOptions {
  readonly dir: string;
  readonly shape: DirectoryShape;
  readonly backend: SphinxBackend;
  readonly params: Partial<NetworkParams>;
  readonly nodeConfig?: Record<string, unknown>;
  readonly perNodeConfig?: Readonly<Record<string, Record<string, unknown>>>;
  /** Give every node an ops endpoint (/metrics, /healthz) on its own address and a free port. */
  readonly metrics?: boolean;
  /** Each node's own address by name (`loopix testnet --netns`); default 127.0.0.1. */
  readonly hosts?: ReadonlyMap<string, string>;
  /** The address the authorities listen on (reachable from every node); default 127.0.0.1. */
  readonly authorityHost?: string;
  /** Post office mode: provider-0 also serves as the post office (config provider.postOffice; its descriptor says so). */
  readonly postOffice?: boolean;
}

export async function createDirectoryTestnetFiles(o: CreateDirectoryTestnetOptions): Promise<DirectoryTestnetFiles> {
  const { dir, shape, backend } = o;
  mkdirSync(dir, { recursive: true });
  const g = makeGeometry(shape.geometry);
  const geometry = { maxHops: g.maxHops, addressBytes: g.addressBytes, contentBytes: g.contentBytes };
  const specs: { name: string; role: Role; layer: number }[] = testnetNodeSpecs(shape);
  const authorityHost = o.authorityHost ?? '127.0.0.1';
  checkPerNodeNames(specs, o.perNodeConfig);
  const threshold = shape.threshold ?? Math.floor(shape.authorities / 2) + 1;
  const authorities: (TestnetAuthority & { keyFile: string; port: number })[] = [];
  for (let i = 0; i < shape.authorities; i++) {
    const key = generateIdentityKey();
    const keyFile = join(dir, `authority-${i}.key.json`);
    writeFileSync(keyFile, `${JSON.stringify(key, null, 2)}\n`, { mode: 0o600 });
    const port = await freeTcpPort();
    authorities.push({
      name: `authority-${i}`,
      configFile: join(dir, `authority-${i}.config.json`),
      publicKey: key.publicKey,
      url: `http://${authorityHost}:${port}`,
      keyFile,
      port,
    });
  }
  const entries: AuthorityEntry[] = authorities.map((a) => ({ publicKey: a.publicKey, url: a.url }));
  const refreshS = Math.min(1, shape.epochLengthS / 8);
  const nodes: TestnetNode[] = [];
  const registry: { name: string; identityKey: string }[] = [];
  for (const spec of specs) {
    const identity = generateIdentityKey();
    const identityFile = join(dir, `${spec.name}.identity.json`);
    writeFileSync(identityFile, `${JSON.stringify(identity, null, 2)}\n`, { mode: 0o600 });
    registry.push({ name: spec.name, identityKey: identity.publicKey });
    const keyFile = join(dir, `${spec.name}.key.json`);
    const byEpoch = writeEpochKeyFile(keyFile, backend, shape.epoch, shape.epochKeys);
    const id = nodeIdFor(identity.publicKey, g.addressBytes);
    const host = o.hosts?.get(spec.name) ?? '127.0.0.1';
    const udp = { host, port: await freeUdpPort() };
    const ws = spec.role === 'provider' ? `ws://${host}:${await freeTcpPort()}` : undefined;
    const metricsPort = o.metrics ? await freeTcpPort() : undefined;
    const entry: NodeEntry = {
      id,
      name: spec.name,
      role: spec.role,
      layer: spec.layer,
      udp,
      ...(ws ? { ws } : {}),
      publicKey: byEpoch.get(shape.epoch)!,
      identityKey: identity.publicKey,
    };
    const config = {
      id,
      keyFile,
      topologyFile: join(dir, `${spec.name}.topology.json`),
      directory: {
        authorities: entries,
        threshold,
        timeoutMs: 10_000,
        startupWaitS: 600,
        identityKeyFile: identityFile,
        announce: { name: spec.name, layer: spec.layer, udp, ...(ws ? { ws } : {}) },
      },
      params: o.params,
      epochs: { refreshS },
      ...nodeConfigTail({
        dir,
        name: spec.name,
        role: spec.role,
        host,
        ws,
        postOffice: o.postOffice === true && spec.name === 'provider-0',
        metricsPort,
        nodeConfig: o.nodeConfig,
        perNodeConfig: o.perNodeConfig,
      }),
    };
    nodes.push(
      writeNodeConfig(dir, { name: spec.name, role: spec.role, entry, keyFile }, config, { host, port: metricsPort }),
    );
  }
  // The first epoch begins now; no authority votes before every node announced itself (or bootstrapS passed).
  const bootstrapS = shape.bootstrapS ?? 300;
  const genesisMs = Date.now();
  const isolation = { ...DEFAULT_ISOLATION, ...shape.isolation };
  for (const a of authorities) {
    const config = {
      identityKeyFile: a.keyFile,
      listen: { host: authorityHost, port: a.port },
      dataDir: join(dir, `${a.name}-data`),
      authorities: entries,
      threshold,
      network: {
        geometry,
        layers: shape.layers,
        epochLengthS: shape.epochLengthS,
        genesisEpoch: shape.epoch,
        genesisMs,
        bootstrapUntilMs: genesisMs + Math.round(bootstrapS * 1000),
        isolation,
      },
      nodes: registry,
      syncIntervalMs: Math.max(100, Math.min(1000, Math.round((shape.epochLengthS * 1000) / 10))),
      log: { level: 'info' },
    };
    writeFileSync(a.configFile, `${JSON.stringify(config, null, 2)}\n`);
  }
  return {
    dir,
    nodes,
    authorities: authorities.map(({ name, configFile, publicKey, url }) => ({ name, configFile, publicKey, url })),
    directory: { authorities: entries, threshold, timeoutMs: 10_000 },
    genesisMs,
    epochLengthS: shape.epochLengthS,
    firstEpoch: shape.epoch,
    isolation,
  };
}

/** One authority as a child process; `ready` resolves once it listens. */
export class AuthorityProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  ready: Promise<void> = Promise.resolve();
  exitCode: number | null = null;

  constructor(
    readonly authority: TestnetAuthority,
    private readonly dir: string,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.exitCode === null;
  }

  start(): void {
    const fd = openSync(join(this.dir, `${this.authority.name}.log`), 'a');
    this.exitCode = null;
    const child = fork(loopixBin(), ['authority', 'serve', '--config', this.authority.configFile], {
      stdio: ['ignore', fd, fd, 'ipc'],
    });
    this.child = child;
    this.ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) =>
        reject(
          new Error(
            `${this.authority.name} exited with code ${code} before listening (see ${this.authority.name}.log)`,
          ),
        ),
      );
      child.on('message', (m: unknown) => {
        if ((m as { type?: string })?.type === 'ready') resolve();
      });
    });
    this.ready.catch(() => {});
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.exitCode = code ?? -1;
        closeSync(fd);
        resolve(code);
      }),
    );
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs = 5000): Promise<number | null> {
    return stopChild(this.child, this.exitCode, this.exited, graceMs);
  }

  kill(): Promise<void> {
    return killChild(this.child, this.exitCode, this.exited);
  }
}
