/**
 * What every simulator writes: one JSON report (with the command line, date and seed, so a committed result
 * says how to reproduce it) and its SVG plots, into one output directory.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSvg, type TopLevelSpec } from '../plot/svg.js';

export interface SimReportBase {
  readonly sim: string;
  /** The command line that produced the report. */
  readonly command: string;
  /** ISO 8601 start time. */
  readonly date: string;
  readonly seed: number;
  readonly workers: number;
  readonly quick: boolean;
  /** Wall-clock seconds of the sweep. */
  readonly seconds: number;
  readonly params: Record<string, unknown>;
  /** One entry per plotted point (documented per simulator in docs/anonymity.md). */
  readonly points: Record<string, unknown>[];
}

/** A report as written: the base, any simulator-specific fields, and the files written (JSON and SVG). */
export type SimReport = SimReportBase & Record<string, unknown> & { readonly files: string[] };

export interface NamedPlot {
  /** File name without extension. */
  readonly name: string;
  readonly spec: TopLevelSpec;
}

/** The command line as typed, for the report (arguments with spaces quoted). */
export function commandLine(argv: readonly string[] = process.argv.slice(2)): string {
  return ['loopix', ...argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))].join(' ');
}

/** Writes `<out>/<base>.json` and one SVG per plot; returns the report with `files` filled in. */
export async function writeReport(
  out: string,
  base: string,
  report: SimReportBase & Record<string, unknown>,
  plots: readonly NamedPlot[],
): Promise<SimReport> {
  mkdirSync(out, { recursive: true });
  const files = [join(out, `${base}.json`), ...plots.map((p) => join(out, `${p.name}.svg`))];
  const { points, ...rest } = report;
  const full: SimReport = { ...rest, files, points }; // points last: the long part
  for (const p of plots) await writeSvg(join(out, `${p.name}.svg`), p.spec);
  writeFileSync(files[0]!, `${JSON.stringify(full, null, 1)}\n`);
  return full;
}
