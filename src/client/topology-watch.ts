/**
 * Keeps a long-running client on the current topology document: with rotating keys (docs/operations.md "Key
 * epochs") each epoch's document carries that epoch's and the next epoch's node keys, so a client must read
 * the new one once per epoch or its packets will use expired keys. Polls the file's mtime (cheap) every
 * `intervalMs` and adopts a newer, correctly signed document; a bad one is logged and ignored.
 */
import { statSync } from 'node:fs';
import { loadTopologyFile, TopologyIndex, type TopologyTrust } from '../topology/document.js';

export interface TopologyWatchOptions {
  readonly file: string;
  /** The static file's authority key, or the directory's k of n (a cache file another process keeps fresh). */
  readonly authorityPublicKey: TopologyTrust;
  /** Called with a verified document newer than the current one; may throw to refuse it. */
  readonly onUpdate: (index: TopologyIndex) => void;
  readonly onError: (message: string) => void;
  readonly intervalMs?: number;
}

export class TopologyWatch {
  private timer: NodeJS.Timeout | undefined;
  private mtimeMs = 0;

  constructor(private readonly o: TopologyWatchOptions) {
    try {
      this.mtimeMs = statSync(o.file).mtimeMs;
    } catch {
      // checked again on every poll
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), this.o.intervalMs ?? 5000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One poll (also for tests). */
  poll(): void {
    try {
      const mtime = statSync(this.o.file).mtimeMs;
      if (mtime === this.mtimeMs) return;
      this.mtimeMs = mtime;
      this.o.onUpdate(new TopologyIndex(loadTopologyFile(this.o.file, this.o.authorityPublicKey)));
    } catch (err) {
      this.o.onError((err as Error).message);
    }
  }
}
