/**
 * Real node processes for a test, started and torn down in one place: a testnet's files in a fresh temporary
 * directory (src/testnet/network.ts), a NodeProcess per node, all started together. When any of them fails
 * to start, the ones that did start (or are still starting) are stopped and the directory removed before the
 * error reaches the test, so a failed beforeAll leaves no child process behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestnetFiles,
  type CreateTestnetOptions,
  type TestnetFiles,
  type TestnetNode,
} from '../../src/testnet/network.js';
import { NodeProcess } from '../../src/testnet/processes.js';

/** A child process with the NodeProcess / AuthorityProcess life cycle. */
export interface Startable {
  start(): void;
  readonly ready: Promise<void>;
  stop(): Promise<unknown>;
}

/**
 * Starts every process and waits until all are ready. If one fails, stops all of them (those already up and
 * those still starting) and rethrows the first failure.
 */
export async function startAll(procs: readonly Startable[]): Promise<void> {
  const started: Startable[] = [];
  try {
    for (const p of procs) {
      p.start();
      started.push(p);
    }
  } catch (err) {
    await Promise.all(started.map((p) => p.stop()));
    throw err;
  }
  const results = await Promise.allSettled(procs.map((p) => p.ready));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(procs.map((p) => p.stop()));
    throw failed.reason;
  }
}

export interface ProcessNet {
  readonly dir: string;
  readonly files: TestnetFiles;
  /** The started nodes, in the order of `files.nodes`. */
  readonly nodes: readonly NodeProcess[];
  /** The started node named `name` (throws for a name not started). */
  node(name: string): NodeProcess;
  /** Stops every node (SIGTERM, then SIGKILL) and removes the directory. Safe to call twice. */
  close(): Promise<void>;
}

export interface ProcessNetOptions extends Omit<CreateTestnetOptions, 'dir'> {
  /** Prefix of the temporary directory's name (default "loopix-net-"). */
  readonly prefix?: string;
  /** Which of the testnet's nodes to start (default: all). */
  readonly start?: (node: TestnetNode) => boolean;
}

/** Writes a testnet into a fresh temporary directory and starts its nodes (see the module comment). */
export async function startProcessNet(o: ProcessNetOptions): Promise<ProcessNet> {
  const { prefix, start, ...testnet } = o;
  const dir = mkdtempSync(join(tmpdir(), prefix ?? 'loopix-net-'));
  let files: TestnetFiles;
  try {
    files = await createTestnetFiles({ ...testnet, dir });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const nodes = files.nodes.filter((n) => start?.(n) ?? true).map((n) => new NodeProcess(n, dir));
  try {
    await startAll(nodes);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let closed = false;
  return {
    dir,
    files,
    nodes,
    node(name) {
      const n = nodes.find((p) => p.node.name === name);
      if (!n) throw new Error(`no started node named ${name}`);
      return n;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(nodes.map((n) => n.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Node config for a test network that carries far fewer packets per second than a node can unwrap: one crypto
 * worker, and replay.maxRatePps given — no unwrap-rate measurement at start-up, and a replay filter of a few
 * MB instead of ≈ 200 MB per node that every snapshot and every stop would copy, hash and write.
 */
export function lightNodeConfig(o: {
  readonly statsIntervalS: number;
  /** Node log level (default: the node's). */
  readonly log?: string;
  /** AQM settings (src/node/aqm.ts), e.g. a lenient queueing bound for a loaded machine. */
  readonly aqm?: Readonly<Record<string, number>>;
}): Record<string, unknown> {
  return {
    pipeline: { workers: 1, ...(o.aqm ? { aqm: o.aqm } : {}) },
    statsIntervalS: o.statsIntervalS,
    ...(o.log ? { log: { level: o.log } } : {}),
    replay: { maxRatePps: 1000 },
  };
}
