/**
 * A testnet of separate hosts on one machine (`loopix testnet --netns`): every node runs in its own Linux
 * network namespace with its own address on a bridge, and every link carries a delay, jitter and loss
 * from `tc netem` — what crosses a real network, before anyone rents machines.
 *
 * Layout (one run; <pid> is the testnet process's pid, so names never clash between runs):
 *  - bridge `lpxb<pid>` in the root namespace, address 10.211.<s>.1/24 — the testnet process itself (its demo
 *    clients and Prometheus) is the host "clients" at that address;
 *  - namespace `lpx-<pid>-<i>` per node, with `lo` up and `eth0` (a veth whose root end `lpx<pid>v<i>` is on
 *    the bridge) at 10.211.<s>.<i + 2>/24;
 *  - per-link netem: on each namespace's eth0 (and on the bridge for traffic from the clients' host) an htb
 *    qdisc with one class per destination address, each with its own netem (delay ± jitter, loss), chosen by
 *    a u32 filter on the destination. Delays are one way; a round trip crosses two.
 *
 * Clean-up: `destroy()` deletes every namespace and the bridge (deleting a namespace deletes its veth, and
 * the root end with it). It runs at the end of the testnet, on Ctrl-C (the testnet's own shutdown), and from
 * a process 'exit' hook after a crash; a run killed with SIGKILL leaves its namespaces behind, and the next
 * `--netns` start removes every `lpx-<pid>-*` whose <pid> is no longer alive (`removeLeftovers`).
 *
 * Needs root (CAP_NET_ADMIN) and the `ip` and `tc` tools (iproute2) with the sch_netem module.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { LoopixError } from '../errors.js';
import { readJsonFile } from '../util/json-file.js';

/** One direction of one link. */
export interface LinkShape {
  /** One-way delay, ms. */
  readonly delayMs: number;
  /** Jitter (netem's uniform spread around the delay), ms. */
  readonly jitterMs: number;
  /** Loss, percent of packets. */
  readonly lossPct: number;
}

/** A link matrix: the shape of the link from one host to another (host names; "clients" is the testnet). */
export interface LinkMatrix {
  readonly name: string;
  link(from: string, to: string): LinkShape;
}

/** The name of the host the testnet process (demo clients, Prometheus) runs on. */
export const CLIENTS_HOST = 'clients';

/** Preset `lan`: one switch — 0.25 ms ± 0.05 ms one way, no loss. */
export const LAN: LinkMatrix = { name: 'lan', link: () => ({ delayMs: 0.25, jitterMs: 0.05, lossPct: 0 }) };

/**
 * Preset `continents`, after AnonPoP §8.2's placement on Amazon EC2: "every pair of communicating machines
 * will be located on different continents": the post office (our providers), the second mixes and the
 * clients in Europe, the first and third mixes in the US. Generalised: providers, clients and even mix
 * layers in Europe, odd layers in the US. One-way delays are typical public-cloud figures (assumed, not
 * measured here): transatlantic (US East – Western Europe, ~76 ms round trip) 38 ± 2 ms, within Europe
 * 12 ± 1 ms, within the US 6 ± 1 ms. No loss, so the testnet contract (every message arrives) still applies;
 * a custom matrix can add loss.
 */
export const CONTINENTS: LinkMatrix = {
  name: 'continents',
  link(from, to) {
    const a = continentOf(from);
    const b = continentOf(to);
    if (a !== b) return { delayMs: 38, jitterMs: 2, lossPct: 0 };
    return a === 'eu' ? { delayMs: 12, jitterMs: 1, lossPct: 0 } : { delayMs: 6, jitterMs: 1, lossPct: 0 };
  },
};

/** Continent of a testnet host in the `continents` preset (names: provider-i, mix-<layer>.<i>, clients). */
export function continentOf(host: string): 'eu' | 'us' {
  const m = /^mix-(\d+)\./.exec(host);
  return m && Number(m[1]) % 2 === 1 ? 'us' : 'eu';
}

/**
 * A custom matrix from a JSON file: `{"default": {delayMs, jitterMs, lossPct}, "links": {"mix-1.0>provider-0":
 * {...}, ...}}` (direction `from>to`; host names as in the testnet, "clients" for the testnet process).
 */
export function loadLinkMatrix(file: string): LinkMatrix {
  const json = readJsonFile(file, { label: '--netns', code: 'ERR_LOOPIX_NETNS_MATRIX', field: '--netns' }) as {
    default?: Partial<LinkShape>;
    links?: Record<string, Partial<LinkShape>>;
  };
  const shape = (s: Partial<LinkShape> | undefined, where: string): LinkShape => {
    const v = { delayMs: s?.delayMs ?? 0, jitterMs: s?.jitterMs ?? 0, lossPct: s?.lossPct ?? 0 };
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || (k === 'lossPct' && x > 100)) {
        throw new LoopixError(
          'ERR_LOOPIX_NETNS_MATRIX',
          `--netns ${file}: ${where}.${k} must be a number ≥ 0${k === 'lossPct' ? ' and ≤ 100' : ''}, got ${JSON.stringify(x)}`,
          { field: `${where}.${k}` },
        );
      }
    }
    return v;
  };
  const fallback = shape(json.default, 'default');
  const links = new Map(Object.entries(json.links ?? {}).map(([k, s]) => [k, shape(s, `links.${k}`)]));
  return { name: file, link: (from, to) => links.get(`${from}>${to}`) ?? fallback };
}

/** Preset `none`: namespaces and addresses only, links unshaped (kernels without sch_netem). */
export const NONE: LinkMatrix = { name: 'none', link: () => ({ delayMs: 0, jitterMs: 0, lossPct: 0 }) };

/** `none`, `lan`, `continents`, or a matrix file. */
export function linkMatrix(spec: string): LinkMatrix {
  if (spec === 'none') return NONE;
  if (spec === 'lan') return LAN;
  if (spec === 'continents') return CONTINENTS;
  return loadLinkMatrix(spec);
}

const NS_PREFIX = 'lpx-';

function run(cmd: string, args: readonly string[], input?: string): void {
  try {
    execFileSync(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], input });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new LoopixError('ERR_LOOPIX_NETNS_SETUP', `${cmd} ${args.join(' ')}: ${stderr || (err as Error).message}`);
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Namespaces of this module (`lpx-<pid>-<i>`) now present. */
export function listNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(NS_PREFIX));
}

/** Removes the namespaces and bridges of runs whose process is gone; returns the namespaces removed. */
export function removeLeftovers(): string[] {
  const removed: string[] = [];
  const deadPids = new Set<number>();
  for (const ns of listNamespaces()) {
    const pid = Number(ns.split('-')[1]);
    if (!Number.isInteger(pid) || alive(pid)) continue;
    spawnSync('ip', ['netns', 'delete', ns]);
    deadPids.add(pid);
    removed.push(ns);
  }
  for (const pid of deadPids) spawnSync('ip', ['link', 'delete', `lpxb${pid}`]);
  return removed;
}

/** Refuses early, in one line, when --netns cannot work here. */
export function checkNetnsSupport(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new LoopixError(
      'ERR_LOOPIX_NETNS_ROOT',
      '--netns needs root (CAP_NET_ADMIN) to create network namespaces and tc netem qdiscs; run as root or without --netns',
      { field: '--netns' },
    );
  }
  for (const tool of ['ip', 'tc']) {
    if (spawnSync(tool, ['-V']).error)
      throw new LoopixError('ERR_LOOPIX_NETNS_TOOLS', `--netns needs \`${tool}\` (iproute2) on PATH`, {
        field: '--netns',
      });
  }
}

/** True when the kernel offers the netem qdisc (tried on the loopback of a scratch namespace). */
export function netemSupported(): boolean {
  const ns = `${NS_PREFIX}${process.pid}-probe`;
  spawnSync('ip', ['netns', 'add', ns]);
  try {
    return (
      spawnSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'])
        .status === 0
    );
  } finally {
    spawnSync('ip', ['netns', 'delete', ns]);
  }
}

export interface NetnsHost {
  readonly name: string;
  readonly namespace: string;
  readonly address: string;
}

export class NetnsTestbed {
  readonly hosts = new Map<string, NetnsHost>();
  /** The bridge's address: the host "clients" (the testnet process). */
  readonly clientsAddress: string;
  readonly bridge: string;
  private destroyed = false;
  private readonly onExit = () => this.destroy();
  /**
   * A signal while nothing else handles it (during set-up, before the testnet installs its own handler):
   * remove everything and die of the signal as before. Once the testnet handles signals, it shuts the nodes
   * down first and calls destroy() itself.
   */
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) return;
    this.destroy();
    process.kill(process.pid, signal);
  };

  private constructor(
    readonly matrix: LinkMatrix,
    private readonly pid: number,
    private readonly subnet: string,
  ) {
    this.bridge = `lpxb${pid}`;
    this.clientsAddress = `${subnet}.1`;
  }

  /** Creates the bridge, one namespace per host, and the netem links between all of them. */
  static create(hostNames: readonly string[], matrix: LinkMatrix, pid = process.pid): NetnsTestbed {
    checkNetnsSupport();
    if (hostNames.length > 250)
      throw new LoopixError('ERR_LOOPIX_NETNS_SIZE', `--netns supports at most 250 hosts, got ${hostNames.length}`);
    removeLeftovers();
    const subnet = `10.211.${pid % 250}`;
    const bed = new NetnsTestbed(matrix, pid, subnet);
    process.once('exit', bed.onExit);
    process.on('SIGINT', bed.onSignal);
    process.on('SIGTERM', bed.onSignal);
    try {
      bed.build(hostNames);
    } catch (err) {
      bed.destroy();
      throw err;
    }
    return bed;
  }

  private build(hostNames: readonly string[]): void {
    const names = [CLIENTS_HOST, ...hostNames];
    const shaped = names.some((a) =>
      names.some((b) => a !== b && Object.values(this.matrix.link(a, b)).some((v) => v > 0)),
    );
    if (shaped && !netemSupported()) {
      throw new LoopixError(
        'ERR_LOOPIX_NETNS_NETEM',
        `--netns ${this.matrix.name}: this kernel has no tc netem qdisc (CONFIG_NET_SCH_NETEM / module sch_netem), so links cannot be delayed; use --netns none for namespaces without link shaping`,
        { field: '--netns' },
      );
    }
    run('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${this.clientsAddress}/24`, 'dev', this.bridge]);
    run('ip', ['link', 'set', this.bridge, 'up']);
    hostNames.forEach((name, i) => {
      const ns = `${NS_PREFIX}${this.pid}-${i}`;
      const veth = `lpx${this.pid}v${i}`;
      const address = `${this.subnet}.${i + 2}`;
      run('ip', ['netns', 'add', ns]);
      this.hosts.set(name, { name, namespace: ns, address });
      run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      run('ip', ['link', 'set', veth, 'master', this.bridge, 'up']);
      run('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    });
    const all: { name: string; address: string; ns: string | null; dev: string }[] = [
      { name: CLIENTS_HOST, address: this.clientsAddress, ns: null, dev: this.bridge },
      ...[...this.hosts.values()].map((h) => ({ name: h.name, address: h.address, ns: h.namespace, dev: 'eth0' })),
    ];
    if (!shaped) return;
    for (const from of all) {
      const lines = [
        `qdisc add dev ${from.dev} root handle 1: htb default 1`,
        `class add dev ${from.dev} parent 1: classid 1:1 htb rate 10gbit quantum 60000`,
      ];
      let k = 2;
      for (const to of all) {
        if (to === from) continue;
        const s = this.matrix.link(from.name, to.name);
        const netem = [
          `delay ${s.delayMs}ms`,
          s.jitterMs > 0 ? `${s.jitterMs}ms` : '',
          s.lossPct > 0 ? `loss ${s.lossPct}%` : '',
          'limit 100000',
        ]
          .filter(Boolean)
          .join(' ');
        lines.push(
          `class add dev ${from.dev} parent 1: classid 1:${k} htb rate 10gbit quantum 60000`,
          `qdisc add dev ${from.dev} parent 1:${k} handle ${k}: netem ${netem}`,
          `filter add dev ${from.dev} protocol ip parent 1: prio 1 u32 match ip dst ${to.address}/32 flowid 1:${k}`,
        );
        k++;
      }
      const batch = `${lines.join('\n')}\n`;
      if (from.ns === null) run('tc', ['-batch', '-'], batch);
      else run('ip', ['netns', 'exec', from.ns, 'tc', '-batch', '-'], batch);
    }
  }

  /** The command prefix that runs a program inside `host`'s namespace. */
  exec(host: string): string[] {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`no netns host ${host}`);
    return ['ip', 'netns', 'exec', h.namespace];
  }

  address(host: string): string {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`no netns host ${host}`);
    return h.address;
  }

  /** Deletes every namespace (and with it the veths) and the bridge. Idempotent, never throws. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    for (const h of this.hosts.values()) spawnSync('ip', ['netns', 'delete', h.namespace]);
    spawnSync('ip', ['link', 'delete', this.bridge]);
  }
}
