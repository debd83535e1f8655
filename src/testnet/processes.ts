/**
 * One node of a local network as a real child process (`node bin/loopix.js mix|provider --config FILE`) with
 * an IPC channel: the node reports its statistics over it; its JSON logs go to `<dir>/<name>.log`.
 *
 * Failure injection (src/testnet/failures.ts): `kill()` SIGKILLs the process, `restart()` starts it again
 * with the same config file — same id, key and UDP port. Each start is an *incarnation*; its counters start
 * from zero, so the last report of every earlier incarnation is kept (`snapshots()`) and nothing counted
 * before a crash disappears from the totals (it is at most one report interval stale).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
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
  /** The signal that ended the last incarnation, if any (SIGKILL after kill()). */
  exitSignal: NodeJS.Signals | null = null;
  /** The last report of each earlier incarnation (before a kill or stop followed by restart()). */
  readonly earlier: NodeSnapshot[] = [];
  /** How many times start()/restart() ran. */
  incarnations = 0;
  private statsListeners: (() => void)[] = [];
  /** Called with every statistics report as it arrives (`--check-mixing` accumulates the probe samples). */
  onReport: ((stats: NodeSnapshot) => void) | undefined;

  constructor(
    readonly node: TestnetNode,
    private readonly dir: string,
    /** A command prefix the node runs under, e.g. `ip netns exec NS` (src/testnet/netns.ts); none: a plain fork. */
    private readonly wrap: readonly string[] = [],
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.exitCode === null;
  }

  start(): void {
    if (this.running) throw new Error(`${this.node.name} is already running`);
    this.logFd = openSync(join(this.dir, `${this.node.name}.log`), 'a');
    this.exitCode = null;
    this.exitSignal = null;
    this.incarnations++;
    const args = [this.node.role, '--config', this.node.configFile];
    const options = {
      stdio: ['ignore', this.logFd, this.logFd, 'ipc'] as ('ignore' | number)[] & ['ignore', number, number, 'ipc'],
      env: { ...process.env, LOOPIX_NODE_NAME: this.node.name },
    };
    // Wrapped (`ip netns exec NS node …`): the IPC channel's fd and NODE_CHANNEL_FD pass through exec.
    const child =
      this.wrap.length === 0
        ? fork(loopixBin(), args, options)
        : spawn(this.wrap[0]!, [...this.wrap.slice(1), process.execPath, loopixBin(), ...args], {
            ...options,
            serialization: 'json',
          });
    this.child = child;
    this.ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) =>
        reject(new Error(`${this.node.name} exited with code ${code} before reporting (see ${this.node.name}.log)`)),
      );
      this.statsListeners.push(resolve);
    });
    this.ready.catch(() => {});
    child.on('message', (m: unknown) => {
      const msg = m as { type?: string; stats?: NodeSnapshot };
      if (msg?.type === 'stats' && msg.stats) {
        this.last = msg.stats;
        this.onReport?.(msg.stats);
        for (const l of this.statsListeners.splice(0)) l();
      }
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? -1;
        this.exitSignal = signal;
        if (this.logFd !== undefined) closeSync(this.logFd);
        this.logFd = undefined;
        resolve(code);
      }),
    );
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
  stop(graceMs = 5000): Promise<number | null> {
    return stopChild(this.child, this.exitCode, this.exited, graceMs);
  }

  /**
   * Starts the node again after it exited (killed or stopped), with the same config: same id, key and UDP
   * port. The port is free as soon as the old process is gone — UDP has no TIME_WAIT, and 'exit' fires after
   * the kernel closed the dead process's sockets — so start-up needs no retry; a bind failure would surface
   * as `ready` rejecting (exit code 2, "port in use"). Resolves once the new incarnation reports statistics.
   */
  async restart(): Promise<void> {
    if (this.running) throw new Error(`${this.node.name} is still running; kill() or stop() it first`);
    await this.exited;
    if (this.last) this.earlier.push(this.last);
    this.last = undefined;
    this.start();
    await this.ready;
  }

  /** The last report of every incarnation, oldest first: sum these for totals over the whole run. */
  snapshots(): NodeSnapshot[] {
    return this.last ? [...this.earlier, this.last] : [...this.earlier];
  }

  /** SIGKILL now (failure tests). */
  kill(): Promise<void> {
    return killChild(this.child, this.exitCode, this.exited);
  }
}

/**
 * Stops a child process of ours: SIGTERM, then SIGKILL after `graceMs`; resolves with its exit code once it
 * is gone (at once when it already exited). `exited` resolves when the child's 'exit' event fired.
 */
export async function stopChild(
  child: ChildProcess | undefined,
  exitCode: number | null,
  exited: Promise<number | null>,
  graceMs: number,
): Promise<number | null> {
  if (!child || exitCode !== null) return exitCode;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/** SIGKILLs a child process of ours that is still running and waits until it is gone. */
export async function killChild(
  child: ChildProcess | undefined,
  exitCode: number | null,
  exited: Promise<unknown>,
): Promise<void> {
  if (child && exitCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
}
