/**
 * `loopix bench relay` across hosts, on one machine: the load generator and the sink run as `loopix bench
 * agent` in two network namespaces of their own (veth pairs to this namespace), the node here. Needs root and
 * iproute2; the test creates and removes the namespaces itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHORT_RELAY_FLAGS } from './helpers/bench-flags.js';

const BIN = fileURLToPath(new URL('../bin/loopix.js', import.meta.url));
const canNetns = process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('ip', ['-V']).status === 0;
const tag = `lpxr${process.pid % 100000}`;
const subnet = 100 + (process.pid % 50); // 10.<subnet>.{1,2}.0/24: distinct per run
const ns = { gen: `${tag}-gen`, sink: `${tag}-sink` };

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** A namespace joined to this one by a veth pair: here 10.S.N.1, there 10.S.N.2. */
function makeNamespace(name: string, n: number): void {
  const here = `${tag}h${n}`,
    there = `${tag}t${n}`;
  ip('netns', 'add', name);
  ip('link', 'add', here, 'type', 'veth', 'peer', 'name', there);
  ip('link', 'set', there, 'netns', name);
  ip('addr', 'add', `10.${subnet}.${n}.1/24`, 'dev', here);
  ip('link', 'set', here, 'up');
  ip('netns', 'exec', name, 'ip', 'addr', 'add', `10.${subnet}.${n}.2/24`, 'dev', there);
  ip('netns', 'exec', name, 'ip', 'link', 'set', there, 'up');
  ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
}

function startAgent(name: string, listen: string): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', name, process.execPath, BIN, 'bench', 'agent', '--listen', listen], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`agent in ${name} exited (${code}): ${err}`)));
  });
}

describe.runIf(canNetns)('bench relay with the generator and the sink on other hosts (network namespaces)', () => {
  const agents: ChildProcess[] = [];
  beforeAll(async () => {
    makeNamespace(ns.gen, 1);
    makeNamespace(ns.sink, 2);
    agents.push(await startAgent(ns.gen, `10.${subnet}.1.2:7400`));
    agents.push(await startAgent(ns.sink, `10.${subnet}.2.2:7401`));
  }, 60_000);
  afterAll(() => {
    for (const a of agents) a.kill();
    for (const name of Object.values(ns)) spawnSync('ip', ['netns', 'del', name]); // takes its veth ends with it
  });

  it('measures a node here fed from one namespace and drained into another', () => {
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        'bench',
        'relay',
        '--json',
        '--no-save',
        '--workers',
        '1',
        '--searches',
        '1',
        ...SHORT_RELAY_FLAGS,
        '--x25519-seconds',
        '0.2',
        '--target',
        `10.${subnet}.1.1:47${subnet}`,
        '--listen',
        `10.${subnet}.2.2:48${subnet}`,
        '--generator-agent',
        `10.${subnet}.1.2:7400`,
        '--sink-agent',
        `10.${subnet}.2.2:7401`,
      ],
      { encoding: 'utf8', timeout: 240_000 },
    );
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const j = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, any>;
    expect(j.max_pkt_per_s).toBeGreaterThan(0);
    expect(j.overhead_ms.p50).toBeGreaterThan(0);
  }, 250_000);
});
