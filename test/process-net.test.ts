/**
 * The test helper that starts node processes (test/helpers/process-net.ts) must not leave children behind
 * when one of them fails to start: the others, already up or still starting, are stopped, and the network's
 * directory is removed, before the failure reaches the test.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestnetFiles } from '../src/testnet/network.js';
import { NodeProcess } from '../src/testnet/processes.js';
import { native } from './helpers/backends.js';
import { startAll, startProcessNet } from './helpers/process-net.js';

const shape = { layers: 1, perLayer: 1, providers: 1, epoch: 3 };
const nodeConfig = {
  pipeline: { workers: 1 },
  statsIntervalS: 0.2,
  log: { level: 'warn' },
  replay: { maxRatePps: 1000 },
};
/** The mix cannot start: its key file does not exist (exit code 2). */
const broken = { 'mix-1.0': { keyFile: '/nonexistent/loopix-test.key.json' } };

describe('starting node processes for a test', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loopix-startall-'));
  const procs: NodeProcess[] = [];
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops the nodes that started when another fails, and rethrows its failure', async () => {
    const files = await createTestnetFiles({
      dir,
      shape,
      backend: native,
      params: { lambdaM: 1e-4 },
      nodeConfig,
      perNodeConfig: broken,
    });
    // The provider first, so it is running (or starting) when the mix fails.
    procs.push(
      ...['provider-0', 'mix-1.0'].map(
        (name) =>
          new NodeProcess(
            files.nodes.find((n) => n.name === name)!,
            dir,
          ),
      ),
    );
    await expect(startAll(procs)).rejects.toThrow(/mix-1\.0 exited with code 2/);
    expect(procs.map((p) => p.incarnations)).toEqual([1, 1]);
    expect(procs.map((p) => p.running)).toEqual([false, false]);
    expect(procs[1]!.exitCode).toBe(2);
  }, 30_000);

  it('startProcessNet also removes the network directory when a node fails to start', async () => {
    const prefix = `loopix-pnfail-${process.pid}-`;
    await expect(
      startProcessNet({ prefix, shape, backend: native, params: { lambdaM: 1e-4 }, nodeConfig, perNodeConfig: broken }),
    ).rejects.toThrow(/exited with code 2/);
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith(prefix))).toEqual([]);
  }, 30_000);
});
