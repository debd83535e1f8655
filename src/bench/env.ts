/**
 * What every benchmark result records about where it ran, and where results go: the machine (cores, CPU
 * model, Node and OpenSSL versions) and the OpenSSL X25519 baseline measured in the same run
 * (src/bench/openssl-baseline.ts), because ratios to it are what carries over between machines.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { renderSvg, type TopLevelSpec } from '../plot/svg.js';
import { measureOpensslX25519 } from './openssl-baseline.js';

export interface MachineInfo {
  readonly cores: number;
  readonly cpu: string;
  readonly node: string;
  readonly openssl: string | null;
  /** 1-minute load average when the run started (others' work on a shared host shows up here). */
  readonly loadavg_1m: number;
}

export function machineInfo(opensslVersion: string | null): MachineInfo {
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    openssl: opensslVersion,
    loadavg_1m: Math.round(loadavg()[0]! * 100) / 100,
  };
}

/** The OpenSSL baseline (null rate when openssl is missing or seconds = 0), logged. */
export function baseline(
  seconds: number,
  log: (line: string) => void,
): { x25519PerS: number | null; version: string | null } {
  if (seconds <= 0) return { x25519PerS: null, version: null };
  const b = measureOpensslX25519(seconds);
  if (b.x25519PerS)
    log(`openssl speed ecdhx25519: ${Math.round(b.x25519PerS).toLocaleString('en-US')} op/s (${b.version})`);
  else log('openssl speed ecdhx25519: not available (openssl not installed?)');
  return { x25519PerS: b.x25519PerS === null ? null : Math.round(b.x25519PerS), version: b.version };
}

/**
 * Default results directory: ./loopix-bench-results under the current directory (or $LOOPIX_BENCH_RESULTS).
 * The committed results in <repo>/bench/results are only written when asked: `--results-dir bench/results`.
 */
export function defaultResultsDir(): string {
  return resolve(process.env.LOOPIX_BENCH_RESULTS ?? 'loopix-bench-results');
}

/** Writes `<dir>/<name>.json` (and `<dir>/<name>.svg` from `spec`); returns the paths written. */
export async function writeResults(dir: string, name: string, json: unknown, spec?: TopLevelSpec): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, `${name}.json`)];
  writeFileSync(files[0]!, `${JSON.stringify(json, null, 2)}\n`);
  if (spec) {
    const svg = join(dir, `${name}.svg`);
    writeFileSync(svg, await renderSvg(spec));
    files.push(svg);
  }
  return files;
}

/** Several Vega-Lite views stacked vertically in one SVG. */
export function stack(title: string, views: readonly TopLevelSpec[]): TopLevelSpec {
  const strip = (v: TopLevelSpec) => {
    const { $schema: _s, background: _b, ...rest } = v as unknown as Record<string, unknown>;
    return rest;
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    background: 'white',
    vconcat: views.map(strip),
  } as unknown as TopLevelSpec;
}
