/**
 * `loopix testnet --netns`: every node in its own network namespace with its own address on a bridge, links
 * shaped by tc netem; every namespace is removed at the end, on Ctrl-C, and — after a SIGKILL — at the next
 * start. Without root it refuses in one line. Needs root and iproute2 (skipped otherwise); link shaping needs
 * the kernel's sch_netem.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CONTINENTS,
  continentOf,
  linkMatrix,
  listNamespaces,
  netemSupported,
  removeLeftovers,
} from '../src/testnet/netns.js';
import { BIN, runTestnetCli, SMALLEST_NETWORK } from './helpers/testnet-run.js';
import { expectLoopixError } from './helpers/errors.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasIp = spawnSync('ip', ['-V']).status === 0 && spawnSync('tc', ['-V']).status === 0;
const canNetns = isRoot && hasIp;
const SMALL = [...SMALLEST_NETWORK, '--clients', '1', '--message-interval', '1', '--drain-timeout', '30'];

const ours = (pid: number) => listNamespaces().filter((n) => n.startsWith(`lpx-${pid}-`));
const bridgeExists = (pid: number) => spawnSync('ip', ['link', 'show', `lpxb${pid}`]).status === 0;

let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

function startTestnet(args: string[]): {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
} {
  const c = spawn(process.execPath, [BIN, 'testnet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child = c;
  let out = '';
  let err = '';
  c.stdout.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => c.once('exit', (code) => resolve(code)));
  return { child: c, out: () => out, err: () => err, exit };
}

describe('link matrices', () => {
  it('continents puts providers, clients and even layers in Europe, odd layers in the US (AnonPoP §8.2)', () => {
    expect(['provider-0', 'clients', 'mix-2.1'].map(continentOf)).toEqual(['eu', 'eu', 'eu']);
    expect(['mix-1.0', 'mix-3.1'].map(continentOf)).toEqual(['us', 'us']);
    // Every hop of a path (provider → L1 → L2 → L3 → provider) crosses the Atlantic.
    for (const [a, b] of [
      ['provider-0', 'mix-1.0'],
      ['mix-1.0', 'mix-2.0'],
      ['mix-2.0', 'mix-3.0'],
      ['mix-3.0', 'provider-1'],
    ]) {
      expect(CONTINENTS.link(a!, b!).delayMs).toBe(38);
    }
  });

  it('a custom matrix file gives per-direction links and rejects a bad field by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'loopix-matrix-'));
    try {
      const good = join(dir, 'm.json');
      writeFileSync(
        good,
        JSON.stringify({
          default: { delayMs: 5 },
          links: { 'mix-1.0>provider-0': { delayMs: 80, jitterMs: 4, lossPct: 1 } },
        }),
      );
      const m = linkMatrix(good);
      expect(m.link('mix-1.0', 'provider-0')).toEqual({ delayMs: 80, jitterMs: 4, lossPct: 1 });
      expect(m.link('provider-0', 'mix-1.0')).toEqual({ delayMs: 5, jitterMs: 0, lossPct: 0 });
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, JSON.stringify({ links: { 'a>b': { lossPct: 150 } } }));
      expectLoopixError(() => linkMatrix(bad), 'ERR_LOOPIX_NETNS_MATRIX', 'links.a>b.lossPct');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!canNetns)('loopix testnet --netns (root)', () => {
  // One client sending to itself at one message a second overloads its λP stream (each message and its acks
  // take ≈ 4 slots): the backlog is carried out during the drain, and 6 s of sending make "no message at all"
  // improbable (e^-6).
  it('runs every node in its own namespace at its own address, delivers, and removes every namespace at the end', async () => {
    const t = startTestnet(['--netns', 'none', '--duration', '6', '--json', ...SMALL]);
    const pid = t.child.pid!;
    const seen = await vi.waitFor(
      () => {
        if (t.child.exitCode !== null) throw new Error(`testnet exited: ${t.err()}`);
        const list = ours(pid);
        if (list.length < 2) throw new Error('namespaces not up yet');
        return list;
      },
      { timeout: 30_000, interval: 100 },
    );
    const addresses = seen.map(
      (ns) =>
        /inet (10\.211\.\d+\.\d+)/.exec(
          spawnSync('ip', ['-n', ns, 'addr', 'show', 'eth0'], { encoding: 'utf8' }).stdout,
        )?.[1],
    );
    expect(new Set(addresses).size).toBe(2);
    expect(await t.exit, t.err().slice(-2000)).toBe(0);
    const s = JSON.parse(t.out().trim().split('\n').at(-1)!) as {
      sent_real: number;
      delivered_intact: number;
      node_exits: Record<string, number>;
    };
    expect(s.sent_real).toBeGreaterThan(0);
    expect(s.delivered_intact).toBe(s.sent_real);
    expect(Object.values(s.node_exits)).toEqual([0, 0, 0, 0, 0]); // 2 nodes and 3 directory authorities
    expect(ours(pid)).toEqual([]);
    expect(bridgeExists(pid)).toBe(false);
  }, 120_000);

  it('Ctrl-C removes the namespaces; after a SIGKILL the next start removes the leftovers', async () => {
    const a = startTestnet(['--netns', 'none', ...SMALL]);
    await vi.waitFor(() => expect(a.err()).toContain('node processes up'), { timeout: 60_000, interval: 100 });
    expect(ours(a.child.pid!)).toHaveLength(2);
    a.child.kill('SIGINT');
    await a.exit;
    expect(ours(a.child.pid!)).toEqual([]);
    expect(bridgeExists(a.child.pid!)).toBe(false);

    const b = startTestnet(['--netns', 'none', ...SMALL]);
    const pid = b.child.pid!;
    await vi.waitFor(() => expect(ours(pid).length).toBe(2), { timeout: 30_000, interval: 100 });
    b.child.kill('SIGKILL');
    await b.exit;
    const left = ours(pid);
    expect(left).toHaveLength(2); // a killed run cannot clean up…
    expect(removeLeftovers()).toEqual(expect.arrayContaining(left));
    expect(ours(pid)).toEqual([]); // …the next start does (NetnsTestbed.create runs removeLeftovers first)
    expect(bridgeExists(pid)).toBe(false);
  }, 120_000);

  it('continents: shapes the links with netem, or says in one line that this kernel has no netem', async () => {
    if (netemSupported()) {
      const t = startTestnet(['--netns', 'continents', '--duration', '4', '--json', ...SMALL, '--mu', '20']);
      expect(await t.exit, t.err().slice(-2000)).toBe(0);
      const s = JSON.parse(t.out().trim().split('\n').at(-1)!) as { loop_rtt_ms: { p50: number } };
      // A client loop crosses clients→provider→mix-1→provider→clients: 4 one-way links of ≥ 36 ms (38 ± 2; the
      // clients' host and the provider are both in Europe: 2 × 12 ms), so ≥ 96 ms before any mixing delay.
      expect(s.loop_rtt_ms.p50).toBeGreaterThan(96);
    } else {
      const r = runTestnetCli(['--netns', 'continents', '--duration', '4', ...SMALL], { timeoutMs: 60_000 });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^loopix testnet: ERR_LOOPIX_NETNS_NETEM: /)]);
    }
    expect(listNamespaces().filter((n) => !n.endsWith('-probe'))).toEqual(
      expect.not.arrayContaining([expect.stringMatching(new RegExp(`^lpx-${process.pid}-`))]),
    );
  }, 120_000);

  it.skipIf(spawnSync('setpriv', ['--version']).status !== 0)('without root: one line saying so', () => {
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        BIN,
        'testnet',
        '--netns',
        '--duration',
        '1',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^loopix testnet: ERR_LOOPIX_NETNS_ROOT: --netns needs root/),
    ]);
    expect(r.status).toBe(2);
  });
});
