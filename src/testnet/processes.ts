/**
 * One node of a local network as a real child process (`node bin/loopix.js mix|provider --config FILE`) with
 * an IPC channel: the node reports its statistics over it; its JSON logs go to `<dir>/<name>.log`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeSnapshot } from '../node/pipeline.js';
import { loopixBin } from '../paths.js';
import type { TestnetNode } from './network.js';

export class NodeProcess {
  private child: ChildProcess | undefined;
  private logFd: number | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  /** The latest statistics the node reported. */
  last: NodeSnapshot | undefined;
  /** Resolves on the first statistics report, i.e. once the node is up. */
  ready: Promise<void> = Promise.resolve();
  exitCode: number | null = null;
  private statsListeners: (() => void)[] = [];

  constructor(
    readonly node: TestnetNode,
    private readonly dir: string,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.exitCode === null;
  }

  start(): void {
    this.logFd = openSync(join(this.dir, `${this.node.name}.log`), 'a');
    this.exitCode = null;
    const child = fork(loopixBin(), [this.node.role, '--config', this.node.configFile], {
      stdio: ['ignore', this.logFd, this.logFd, 'ipc'],
      env: { ...process.env, LOOPIX_NODE_NAME: this.node.name },
    });
    this.child = child;
    this.ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`${this.node.name} exited with code ${code} before reporting (see ${this.node.name}.log)`)));
      this.statsListeners.push(resolve);
    });
    this.ready.catch(() => {});
    child.on('message', (m: unknown) => {
      const msg = m as { type?: string; stats?: NodeSnapshot };
      if (msg?.type === 'stats' && msg.stats) {
        this.last = msg.stats;
        for (const l of this.statsListeners.splice(0)) l();
      }
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => {
      this.exitCode = code ?? -1;
      if (this.logFd !== undefined) closeSync(this.logFd);
      this.logFd = undefined;
      resolve(code);
    }));
  }

  /** Resolves with the next statistics report (or after `timeoutMs` with the last one). */
  nextStats(timeoutMs = 3000): Promise<NodeSnapshot | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.last), timeoutMs);
      this.statsListeners.push(() => {
        clearTimeout(timer);
        resolve(this.last);
      });
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<number | null> {
    const child = this.child;
    if (!child || this.exitCode !== null) return this.exitCode;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** SIGKILL now (failure tests). */
  async kill(): Promise<void> {
    if (this.child && this.exitCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
