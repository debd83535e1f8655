/**
 * A mix node (Loopix §2–§3, one stratified layer 1..L): the node pipeline with nothing else. Unwrap, replay
 * check, hold for the sender-chosen delay, forward to the adjacent layer; emit its own loops at λM and watch
 * how many return (§4.2.1).
 */
import type { Logger } from 'pino';
import { createLogger } from '../log.js';
import { loadSphinx } from '../sphinx/loader.js';
import type { SphinxBackend } from '../sphinx/types.js';
import { NodePipeline, type NodePacketPath, type NodeSetup, type NodeSnapshot } from './pipeline.js';

export interface RunningNode {
  readonly id: string;
  readonly role: 'mix' | 'provider';
  /** Bound UDP port. */
  readonly port: number;
  readonly pipeline: NodePacketPath;
  snapshot(): NodeSnapshot;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly log?: Logger;
  readonly backend?: SphinxBackend;
  /** Emit own loops (default true; tests of forwarding alone turn them off). */
  readonly loops?: boolean;
  /** Report stats on stdout / IPC (default true). */
  readonly reportStats?: boolean;
}

export function nodeLogger(setup: NodeSetup): Logger {
  return createLogger(`${setup.self.role} ${setup.self.name}`, setup.config.log.level);
}

export async function startMixNode(setup: NodeSetup, o: StartOptions = {}): Promise<RunningNode> {
  if (setup.self.role !== 'mix') throw new Error(`node ${setup.self.id} is a ${setup.self.role}, not a mix`);
  const log = o.log ?? nodeLogger(setup);
  const backend = o.backend ?? loadSphinx({ log: (line) => log.warn(line) }).backend;
  const pipeline = await NodePipeline.start({ ...setup, log, backend, loops: o.loops, reportStats: o.reportStats });
  log.info(
    {
      id: setup.self.id,
      layer: setup.self.layer,
      udp: pipeline.port,
      epoch: setup.topology.doc.epoch,
      sphinx: backend.name,
    },
    'mix node running',
  );
  return {
    id: setup.self.id,
    role: 'mix',
    port: pipeline.port,
    pipeline,
    snapshot: () => pipeline.snapshot(),
    close: () => pipeline.close(),
  };
}
