/**
 * `loopix sim intersection --implementation`: the intersection simulator driven by this implementation's
 * mailbox epoch (params.mailboxEpochS in Appendix A's 60-s slots), from the defaults or a config file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runQuickSim, type SimRun } from './helpers/quick-sim.js';

const dir = mkdtempSync(join(tmpdir(), 'loopix-po-sim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<SimRun> {
  return runQuickSim(dir, [
    'intersection',
    ...args,
    '--clients',
    '40',
    '--slots',
    '240',
    '--pem-slots',
    '240',
    '--attacks',
    '40',
  ]);
}

describe('loopix sim intersection --implementation', () => {
  it("simulates PEM at the config's mailbox epoch, in 60-s slots, and records the parameters it used", async () => {
    const config = join(dir, 'client.json');
    writeFileSync(config, JSON.stringify({ params: { mailboxEpochS: 7200, poRoundMs: 500, poPoolSize: 30 } }));
    const r = await run(['--implementation', config]);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      params: { epochs: number[]; implementation: Record<string, number> };
      points: Array<{ epoch_slots: number | null }>;
    };
    expect(report.params.epochs).toEqual([120]);
    expect(report.params.implementation).toEqual({ mailboxEpochS: 7200, poRoundMs: 500, poPoolSize: 30 });
    expect(new Set(report.points.map((p) => p.epoch_slots))).toEqual(new Set([null, 120]));
  }, 30_000);

  it('refuses a config whose params are invalid, naming the field', async () => {
    const config = join(dir, 'bad.json');
    writeFileSync(config, JSON.stringify({ params: { mailboxEpochS: -5 } }));
    const r = await run(['--implementation', config]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('mailboxEpochS');
  }, 30_000);
});
