/** `loopix sim …` as a user runs it: the compiled CLI in a child process, --quick --json. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runQuickSim, type SimRun } from './helpers/quick-sim.js';

const BIN = fileURLToPath(new URL('../bin/loopix.js', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'loopix-sim-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Runs one simulator; the four run concurrently, each on one worker thread. */
const runSim = (args: string[]): Promise<SimRun> => runQuickSim(out, args);

const FIELDS: Record<string, string[]> = {
  entropy: ['lambda', 'mu', 'entropy_mean', 'entropy_sd'],
  epsilon: ['vary', 'value', 'epsilon_mean', 'epsilon_sd'],
  'n-1': ['s', 'lambda_m', 'p_sim', 'p_formula'],
  intersection: ['clients', 'epoch_slots', 'slot', 'completed_fraction'],
};

describe('loopix sim', () => {
  it('--quick --json of every simulator ends with one JSON object whose points carry the documented fields', async () => {
    const names = Object.keys(FIELDS);
    const results = await Promise.all(names.map((name) => runSim([name])));
    results.forEach((r, i) => {
      const name = names[i]!;
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
        sim: string;
        seed: number;
        command: string;
        date: string;
        points: Record<string, unknown>[];
        files: string[];
      };
      expect(report.sim).toBe(name);
      expect(report.seed).toBe(1);
      expect(report.command).toContain(`sim ${name}`);
      expect(report.points.length).toBeGreaterThan(0);
      for (const p of report.points) for (const f of FIELDS[name]!) expect(p, `${name}.${f}`).toHaveProperty(f);
      for (const f of report.files) expect(existsSync(f), f).toBe(true);
      expect(report.files.some((f) => f.endsWith('.svg'))).toBe(true);
    });
    const intersection = JSON.parse(results[3]!.stdout.trim().split('\n').at(-1)!) as {
      points: Array<{ epoch_slots: number | null }>;
    };
    expect(intersection.points.some((p) => p.epoch_slots === null)).toBe(true);
    expect(intersection.points.some((p) => p.epoch_slots === 180)).toBe(true);
  });

  it('rejects a bad option value with a message naming the option', () => {
    const r = spawnSync(process.execPath, [BIN, 'sim', 'n-1', '--s', '2,0.5', '--out', out], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--s must be a comma-separated list of numbers > 1, got "0.5"/);
  });
});
