/**
 * The command line as an operator meets it: `--version`, a fast `--help`, one-line errors with stable
 * codes, `loopix init` configs that validate and run (the docs/operations.md walk-through from `loopix init`
 * to a node serving /metrics), bench results kept out of the committed bench/results, and the systemd unit
 * examples of docs/operations.md accepted by `systemd-analyze verify`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ClientConfigSchema, loadConfigFile, NodeConfigSchema } from '../src/config/schema.js';
import { loadNodeKeyFile } from '../src/node/keys.js';
import { DEFAULT_GEOMETRY } from '../src/geometry.js';
import { freeTcpPort, freeUdpPort } from '../src/testnet/network.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'loopix.js');
const run = (args: string[], o: { cwd?: string } = {}) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, cwd: o.cwd });
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'loopix-cli-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Least CPU time (user + system, s) of n runs of `node ARGS`, measured by bash's `time`: CPU time, unlike
 * wall time, does not grow when other jobs share the machine's cores, and on an idle machine it is the
 * answer time.
 */
function leastCpu(n: number, args: string[]): number {
  let best = Infinity;
  const quoted = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  for (let i = 0; i < n; i++) {
    const r = spawnSync('bash', ['-c', `TIMEFORMAT='%3U %3S'; time ${quoted} > /dev/null`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const [user, sys] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
    best = Math.min(best, user! + sys!);
  }
  return best;
}

describe('loopix --version and --help', () => {
  it('--version prints the package version', () => {
    const r = run(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    );
  });

  it('--help lists every command and needs under 0.3 s of CPU beyond a bare `node` start', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const c of ['init', 'mix', 'provider', 'client', 'testnet', 'bench', 'sim', 'keygen', 'topology'])
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    // Node's own start-up is measured alongside and subtracted (it alone is ~0.05-0.1 s of CPU).
    const node = leastCpu(3, ['-e', '0']);
    const help = leastCpu(3, [BIN, '--help']);
    expect(help - node).toBeLessThan(0.3);
  });

  it('a command-level --help still lists its options', () => {
    const r = run(['testnet', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--duration');
  });
});

describe('one-line errors with stable codes', () => {
  it('a bad init role is one line naming ERR_LOOPIX_INIT_ROLE, exit 2, no stack trace', () => {
    const r = run(['init', 'router', '--dir', tmp()]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^loopix init: ERR_LOOPIX_INIT_ROLE: role must be mix, provider or client/),
    ]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('init refuses to overwrite existing keys without --force (ERR_LOOPIX_INIT_EXISTS)', () => {
    const dir = tmp();
    expect(run(['init', 'mix', '--dir', dir]).status).toBe(0);
    const key = readFileSync(join(dir, 'mix.key.json'), 'utf8');
    const r = run(['init', 'mix', '--dir', dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^loopix init: ERR_LOOPIX_INIT_EXISTS: /);
    expect(readFileSync(join(dir, 'mix.key.json'), 'utf8')).toBe(key);
    expect(run(['init', 'mix', '--dir', dir, '--force']).status).toBe(0);
    expect(readFileSync(join(dir, 'mix.key.json'), 'utf8')).not.toBe(key);
  });
});

describe('loopix init', () => {
  it('writes commented configs that validate, with keys the config names (mode 0600)', () => {
    const dir = tmp();
    for (const role of ['mix', 'provider', 'client'] as const) {
      const r = run(['init', role, '--dir', dir, '--authority-key', 'ab'.repeat(32)]);
      expect(r.status, r.stderr).toBe(0);
      const config = join(dir, `${role}.json`);
      expect(readFileSync(config, 'utf8')).toMatch(/^\s*\/\/ /m);
      const parsed = loadConfigFile(role === 'client' ? ClientConfigSchema : NodeConfigSchema, config);
      expect(parsed.authorityPublicKey).toBe('ab'.repeat(32));
      expect(statSync(join(dir, `${role}.key.json`)).mode & 0o077).toBe(0);
      expect(loadNodeKeyFile(join(dir, `${role}.key.json`)).kind).toBe('single');
    }
    const node = loadConfigFile(NodeConfigSchema, join(dir, 'provider.json'));
    expect(node.id).toHaveLength(DEFAULT_GEOMETRY.addressBytes * 2);
    expect(node.ops?.listen).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(node.provider?.dataDir).toBe('data');
  });

  it('--epochs writes a key store whose public keys are printed by epoch', () => {
    const dir = tmp();
    const r = run(['init', 'mix', '--dir', dir, '--epochs', '5..7']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { publicKeys: Record<string, string> };
    expect(Object.keys(out.publicKeys)).toEqual(['5', '6', '7']);
    const keys = loadNodeKeyFile(join(dir, 'mix.key.json'));
    expect(keys.kind === 'epochs' && keys.keys.map((k) => Buffer.from(k.publicKey).toString('hex'))).toEqual(
      Object.values(out.publicKeys),
    );
  });

  describe('from loopix init to a node serving /metrics (the docs/operations.md walk-through)', () => {
    const children: ChildProcess[] = [];
    afterAll(() => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    });

    it('init a provider and a mix, sign their topology, start both, scrape both', async () => {
      const dir = tmp();
      const authorityFile = join(dir, 'authority.json');
      const a = run(['authority', 'keygen', '--out', authorityFile]);
      expect(a.status, a.stderr).toBe(0);
      const authorityKey = (JSON.parse(a.stdout) as { authorityPublicKey: string }).authorityPublicKey;
      const entries: unknown[] = [];
      const metricsPorts: number[] = [];
      for (const role of ['provider', 'mix'] as const) {
        const hostDir = join(dir, role);
        mkdirSync(hostDir);
        const metricsPort = await freeTcpPort();
        metricsPorts.push(metricsPort);
        const r = run([
          'init',
          role,
          '--dir',
          hostDir,
          '--name',
          `${role}-1`,
          '--authority-key',
          authorityKey,
          '--port',
          String(await freeUdpPort()),
          '--ws-port',
          String(await freeTcpPort()),
          '--metrics-port',
          String(metricsPort),
        ]);
        expect(r.status, r.stderr).toBe(0);
        entries.push((JSON.parse(r.stdout) as { topologyEntry: unknown }).topologyEntry);
      }
      const body = {
        version: 1,
        epoch: 1,
        issuedAt: new Date().toISOString(),
        geometry: {
          maxHops: DEFAULT_GEOMETRY.maxHops,
          addressBytes: DEFAULT_GEOMETRY.addressBytes,
          contentBytes: DEFAULT_GEOMETRY.contentBytes,
        },
        layers: 1,
        nodes: entries,
      };
      writeFileSync(join(dir, 'body.json'), JSON.stringify(body));
      const s = run([
        'topology',
        'sign',
        '--authority',
        authorityFile,
        '--in',
        join(dir, 'body.json'),
        '--out',
        join(dir, 'topology.json'),
      ]);
      expect(s.status, s.stderr).toBe(0);
      for (const role of ['provider', 'mix'] as const) {
        writeFileSync(join(dir, role, 'topology.json'), readFileSync(join(dir, 'topology.json')));
        // The generated config binds 0.0.0.0; a test stays on loopback.
        const cfg = join(dir, role, `${role}.json`);
        writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/"host": "0\.0\.0\.0"/g, '"host": "127.0.0.1"'));
        const child = spawn(process.execPath, [BIN, role, '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('exit', (code) => {
          if (code !== 0 && code !== null) stderr += `\nexited ${code}`;
        });
        children.push(child);
        Object.assign(child, { stderrText: () => stderr });
      }
      // Each node's own loops cross the other (a 1-layer network), so both forward packets.
      for (const [i, port] of metricsPorts.entries()) {
        await vi.waitFor(
          async () => {
            if (children[i]!.exitCode !== null)
              throw new Error(`node exited: ${(children[i] as unknown as { stderrText: () => string }).stderrText()}`);
            const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
            const m = /^loopix_packets_forwarded_total\{[^}]*\} (\d+)/m.exec(text);
            if (!m || Number(m[1]) < 1) throw new Error('nothing forwarded yet');
            expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
          },
          { timeout: 30_000, interval: 250 },
        );
      }
    });
  });
});

describe('bench results', () => {
  it('go to ./loopix-bench-results of the current directory, never over the committed bench/results', () => {
    const cwd = tmp();
    const committed = join(ROOT, 'bench', 'results', 'cost.json');
    const before = existsSync(committed) ? readFileSync(committed, 'utf8') : undefined;
    const r = run(['bench', 'cost', '--json', '--max-rate', '12000', '--cores', '2'], { cwd });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(cwd, 'loopix-bench-results', 'cost.json'))).toBe(true);
    expect(existsSync(committed) ? readFileSync(committed, 'utf8') : undefined).toBe(before);
  });
});

describe('systemd units in docs/operations.md', () => {
  const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
  it.skipIf(!hasAnalyze)('every ```ini unit block passes systemd-analyze verify', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
    const units = [...doc.matchAll(/```ini\n# (loopix-[a-z-]+\.service)\n([\s\S]*?)```/g)].map((m) => ({
      name: m[1]!,
      text: m[2]!,
    }));
    expect(units.map((u) => u.name).sort()).toEqual([
      'loopix-authority.service',
      'loopix-mix.service',
      'loopix-provider.service',
    ]);
    const dir = tmp();
    for (const u of units) {
      // ExecStart must name an existing executable for verify: point the documented path at this checkout.
      const file = join(dir, u.name);
      writeFileSync(file, u.text.replace(/\/usr\/bin\/loopix/g, BIN).replace(/\/usr\/bin\/node/g, process.execPath));
      const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
      const problems = (r.stderr + r.stdout).split('\n').filter((l) => l.includes(u.name));
      expect(problems, `${u.name}: ${r.stderr}`).toEqual([]);
      expect(r.status, r.stderr).toBe(0);
    }
  });
});
