/**
 * Whole testnet runs for tests: `loopix testnet` as a user runs it (a child process of bin/loopix.js, the
 * compiled dist/, run to its end, and the one JSON summary that `--json` prints as its last line), and
 * runTestnet (src/testnet/run.ts) in this process without its live table and log.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runTestnet, type TestnetOptions, type TestnetSummary } from '../../src/testnet/run.js';

export const BIN = fileURLToPath(new URL('../../bin/loopix.js', import.meta.url));

/** The smallest network: one mix layer of one mix, and one provider. */
export const SMALLEST_NETWORK = ['--layers', '1', '--per-layer', '1', '--providers', '1'] as const;

export interface TestnetRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock seconds the run took. */
  readonly wallS: number;
  /** The last line of stdout (with --json, the summary). */
  readonly last: string;
  /** The summary: the last line of stdout parsed as JSON (throws if it is not). */
  summary(): Record<string, any>;
}

export function runTestnetCli(
  args: readonly string[],
  o: { readonly timeoutMs: number; readonly env?: NodeJS.ProcessEnv },
): TestnetRun {
  const started = performance.now();
  const r = spawnSync(process.execPath, [BIN, 'testnet', ...args], {
    encoding: 'utf8',
    timeout: o.timeoutMs,
    ...(o.env ? { env: o.env } : {}),
  });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    wallS: (performance.now() - started) / 1000,
    last,
    summary: () => JSON.parse(last) as Record<string, any>,
  };
}

/** runTestnet in this process, quietly: one crypto worker per node, no live table, no log unless given, the directory removed afterwards. */
export function runQuietTestnet(
  o: Omit<TestnetOptions, 'workersPerNode' | 'keep' | 'table' | 'log'> & Partial<Pick<TestnetOptions, 'log'>>,
): Promise<TestnetSummary> {
  return runTestnet({ workersPerNode: 1, keep: false, table: null, log: () => {}, ...o });
}
