/**
 * `loopix mix --config FILE` as an operator runs it: a real child process of bin/loopix.js (compiled dist/)
 * forwards packets after their header delays, reports drops by reason in its stats lines, exits 0 on
 * SIGTERM; a bad config or a topology with a bad signature stops start-up with exit code 2 and one line
 * naming the problem.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Command } from '../src/sphinx/types.js';
import { native } from './helpers/backends.js';
import { buildPacket, LinkPeer, makeNetwork, type TestNetwork } from './node-fixture.js';
import { exitCodeAfterSigterm } from './helpers/child-exit.js';

const BIN = fileURLToPath(new URL('../bin/loopix.js', import.meta.url));
const runSync = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });

interface Stats {
  counters: Record<string, number>;
  dropped: Record<string, number>;
  gauges: Record<string, unknown>;
}

let net: TestNetwork;
beforeAll(async () => {
  net = await makeNetwork(native, { layers: 3, perLayer: 1 });
});
afterAll(() => net?.cleanup());

describe('loopix mix (child process)', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('forwards packets, counts drops by reason in its stats, and exits 0 on SIGTERM', async () => {
    const sink = await LinkPeer.bind(net, 'mix-2.0', native.x25519);
    const provider = await LinkPeer.bind(net, 'provider-0', native.x25519);
    const config = net.writeConfig('mix-1.0', { statsIntervalS: 0.2, log: { level: 'info' } });
    child = spawn(process.execPath, [BIN, 'mix', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let latest: Stats | undefined;
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const msg = JSON.parse(line) as { type: string; node: string; stats: Stats };
        if (msg.type === 'stats' && msg.node === net.nodes['mix-1.0']!.entry.id) latest = msg.stats;
      }
    });
    const waitStats = async (ok: (s: Stats) => boolean, what: string) => {
      const deadline = Date.now() + 8000;
      while (!(latest && ok(latest))) {
        if (child!.exitCode !== null) throw new Error(`node exited (${child!.exitCode}): ${stderr}`);
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; last stats ${JSON.stringify(latest)}; stderr ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await waitStats(() => true, 'the first stats line');
      const n = net.nodes;
      const path = (delayUs: number, next?: Uint8Array) =>
        buildPacket(native, net, [
          { node: n['mix-1.0']!.entry, command: Command.RELAY, delayUs, ...(next ? { address: next } : {}) },
          { node: n['mix-2.0']!.entry, command: Command.RELAY },
          { node: n['mix-3.0']!.entry, command: Command.RELAY },
          { node: n['provider-0']!.entry, command: Command.DROP },
        ]);
      const valid = path(150_000);
      const replayed = path(1_000);
      const tampered = path(1_000);
      tampered[net.g.offsets.gamma + 1]! ^= 0xff;
      const sentAt = performance.now();
      await provider.send('mix-1.0', [valid, replayed, replayed]);
      await provider.sendRaw(net.nodes['mix-1.0']!.entry.udp.port, [new Uint8Array(100)]);
      await provider.send('mix-1.0', [tampered, path(1_000, new Uint8Array(16).fill(0xee))]);
      await sink.waitFor(2, 5000);
      expect(sink.received.at(-1)!.at - sentAt).toBeGreaterThanOrEqual(145); // the valid packet's 150 ms delay
      await waitStats(
        (s) => s.counters.forwarded === 2 && Object.values(s.dropped).reduce((a, b) => a + b, 0) === 4,
        'counted drops',
      );
      expect(latest!.dropped).toEqual({ replay: 1, bad_size: 1, invalid_mac: 1, unknown_next: 1 });
      expect(latest!.counters.received).toBe(6);
      expect(await exitCodeAfterSigterm(child)).toBe(0);
    } finally {
      await sink.close();
      await provider.close();
    }
  });
});

describe('loopix provider (child process)', () => {
  it('starts its pipeline and client front end, reports stats over IPC, and exits 0 on SIGTERM', async () => {
    const config = net.writeConfig('provider-0', { statsIntervalS: 0.2 });
    const child = spawn(process.execPath, [BIN, 'provider', '--config', config], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const stats = await new Promise<Stats>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no stats message; stderr: ${stderr}`)), 8000);
        child.on('message', (m: { type: string; stats: Stats }) => {
          if (m.type === 'stats') {
            clearTimeout(t);
            resolve(m.stats);
          }
        });
        child.once('exit', (code) => reject(new Error(`provider exited (${code}): ${stderr}`)));
      });
      expect(stats.gauges.ws_port).toBe(Number(new URL(net.nodes['provider-0']!.entry.ws!).port));
      expect(stats.gauges.inbox_packets).toBe(0);
      expect(await exitCodeAfterSigterm(child)).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

/** A start-up failure's one stderr line, `loopix <role>: CODE: message`, split up (undefined if not that shape). */
function cliError(stderr: string): { code: string; message: string } | undefined {
  const m = /^loopix \w+: (ERR_[A-Z0-9_]+): (.*)$/m.exec(stderr);
  return m ? { code: m[1]!, message: m[2]! } : undefined;
}

describe('loopix mix start-up errors', () => {
  it('a bad config value stops start-up with exit code 2 and names the field', () => {
    const config = net.writeConfig('mix-1.0', { params: { mu: -1 } });
    const r = runSync('mix', '--config', config);
    expect(r.status).toBe(2);
    expect(cliError(r.stderr)?.code).toBe('ERR_LOOPIX_CONFIG_INVALID');
    expect(cliError(r.stderr)?.message).toContain('params.mu');
    expect(r.stderr.trim().split('\n')).toHaveLength(1); // one line, no stack trace
  });

  it('a topology whose signature does not verify stops start-up with exit code 2', () => {
    const doc = JSON.parse(readFileSync(net.topologyFile, 'utf8')) as { nodes: { udp: { port: number } }[] };
    doc.nodes[0]!.udp.port += 1;
    const forged = join(net.dir, 'forged-topology.json');
    writeFileSync(forged, JSON.stringify(doc));
    const r = runSync('mix', '--config', net.writeConfig('mix-1.0', { topologyFile: forged }));
    expect(r.status).toBe(2);
    expect(cliError(r.stderr)?.code).toBe('ERR_LOOPIX_TOPOLOGY_SIGNATURE');
  });

  it('a node id missing from the topology, or of the other role, stops start-up with exit code 2', () => {
    const missing = runSync('mix', '--config', net.writeConfig('mix-1.0', { id: 'ab'.repeat(16) }));
    expect(missing.status).toBe(2);
    expect(cliError(missing.stderr)?.code).toBe('ERR_LOOPIX_STARTUP_MISMATCH');
    expect(cliError(missing.stderr)?.message).toContain(`id: node ${'ab'.repeat(16)} is not in the topology`);
    const wrongRole = runSync('provider', '--config', net.writeConfig('mix-1.0', { provider: { dataDir: net.dir } }));
    expect(wrongRole.status).toBe(2);
    expect(cliError(wrongRole.stderr)?.code).toBe('ERR_LOOPIX_STARTUP_MISMATCH');
    expect(cliError(wrongRole.stderr)?.message).toContain('is a mix in the topology, not a provider');
  });

  it('a corrupt replay-filter snapshot stops start-up with exit code 2 naming the file (never a silent empty filter)', () => {
    const stateDir = join(net.dir, 'corrupt-state');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, `replay-${net.topology.epoch}.snap`), Buffer.alloc(200, 7));
    const r = runSync('mix', '--config', net.writeConfig('mix-1.0', { replay: { stateDir } }));
    expect(r.status).toBe(2);
    expect(cliError(r.stderr)?.code).toBe('ERR_LOOPIX_REPLAY_STATE_CORRUPT');
    expect(cliError(r.stderr)?.message).toContain(join('corrupt-state', `replay-${net.topology.epoch}.snap`));
  });

  it('a key file that does not match the topology stops start-up with exit code 2', () => {
    const r = runSync('mix', '--config', net.writeConfig('mix-1.0', { keyFile: net.nodes['mix-2.0']!.keyFile }));
    expect(r.status).toBe(2);
    expect(cliError(r.stderr)?.code).toBe('ERR_LOOPIX_STARTUP_MISMATCH');
    expect(cliError(r.stderr)?.message).toMatch(/^config .*: keyFile: /);
  });
});
