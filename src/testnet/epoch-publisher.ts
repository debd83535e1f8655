/**
 * The offline directory of a local network with rotating keys (one signed file, no authority processes;
 * `loopix testnet` uses the authorities of src/testnet/authorities.ts instead): at every epoch boundary it signs the new
 * epoch's topology document (that epoch's keys and the next epoch's, ARCHITECTURE.md "Directory") and
 * replaces topology.json atomically; the nodes pick it up within `epochs.refreshS`, the testnet's clients
 * get it at once. In a real deployment the authority does the same with the public keys the operators
 * published ahead of their epochs (docs/operations.md "Key epochs").
 */
import { renameSync, writeFileSync } from 'node:fs';
import { TopologyIndex } from '../topology/document.js';
import { epochTopology, type TestnetFiles } from './network.js';

export class EpochPublisher {
  private timer: NodeJS.Timeout | undefined;
  private published: number;
  private stopped = false;
  /** Documents published after the first, by epoch. */
  readonly history: number[] = [];

  constructor(
    private readonly files: TestnetFiles,
    private readonly onPublish: (index: TopologyIndex) => void,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    if (!files.epochPublicKeys || files.topology.epochLengthS === undefined)
      throw new Error('EpochPublisher needs a testnet with rotating keys');
    this.published = files.topology.epoch;
  }

  /** The epoch the schedule says it is now. */
  get currentEpoch(): number {
    return this.files.index.epochAt(Date.now());
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    const next = this.published + 1;
    const at = this.files.index.epochStart(next);
    this.timer = setTimeout(() => this.publish(next), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private publish(epoch: number): void {
    if (this.stopped) return;
    const { topology, epochPublicKeys, authority, topologyFile } = this.files;
    if (![...epochPublicKeys!.values()].every((keys) => keys.has(epoch))) {
      this.log(
        `testnet: no keys generated for epoch ${epoch}; the topology stays at epoch ${this.published} (nodes will drop packets as key_expired)`,
      );
      return;
    }
    const doc = epochTopology(
      {
        version: 1,
        geometry: topology.geometry,
        layers: topology.layers,
        epochLengthS: topology.epochLengthS,
        nodes: topology.nodes,
        firstEpoch: topology.epoch,
        firstEpochStartMs: topology.epochStartMs!,
      },
      epoch,
      epochPublicKeys!,
      authority,
    );
    const tmp = `${topologyFile}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`);
    renameSync(tmp, topologyFile);
    this.published = epoch;
    this.history.push(epoch);
    this.log(`testnet: key epoch ${epoch} began; topology re-signed`);
    this.onPublish(new TopologyIndex(doc));
    this.schedule();
  }
}
