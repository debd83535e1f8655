/**
 * Plots as SVG files, rendered headless from Vega-Lite specifications (vega + vega-lite: well-kept,
 * declarative, no browser or canvas needed for SVG). Benchmarks and simulators describe *what* to plot; this
 * module only compiles and renders.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { LoopixError } from '../errors.js';

export type { TopLevelSpec };

/**
 * vega and vega-lite are optionalDependencies: a node's install may leave them out (`npm ci --omit=optional`),
 * so they load only when a plot is drawn, and their absence is one clear error rather than a failed start.
 */
async function loadVega(): Promise<{ vega: typeof import('vega'); compile: typeof import('vega-lite').compile }> {
  try {
    const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
    return { vega, compile: vl.compile };
  } catch (err) {
    throw new LoopixError(
      'ERR_LOOPIX_PLOT_MISSING',
      `plots need the optional packages vega and vega-lite (npm install vega vega-lite): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** Renders a Vega-Lite spec to an SVG document string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { vega, compile } = await loadVega();
  const { spec: vegaSpec } = compile(spec);
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders `spec` and writes it to `file` (directories created). */
export async function writeSvg(file: string, spec: TopLevelSpec): Promise<void> {
  const svg = await renderSvg(spec);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, svg);
}

export interface LinePlotOptions {
  readonly title: string;
  readonly x: { readonly field: string; readonly title: string; readonly log?: boolean };
  readonly y: { readonly field: string; readonly title: string; readonly log?: boolean };
  /** Field whose values name the series (one line each). */
  readonly series?: { readonly field: string; readonly title: string };
  /** Optional field with the standard deviation of y, drawn as an error band. */
  readonly ySd?: string;
  readonly data: readonly Record<string, unknown>[];
  readonly width?: number;
  readonly height?: number;
}

/** The common case: one or more lines of y over x, with points, optionally with ±sd error bars. */
export function linePlot(o: LinePlotOptions): TopLevelSpec {
  const scale = (log?: boolean) => (log ? { type: 'log' as const } : { zero: false });
  const x = { field: o.x.field, type: 'quantitative' as const, title: o.x.title, scale: scale(o.x.log) };
  const color = o.series ? { field: o.series.field, type: 'nominal' as const, title: o.series.title } : undefined;
  const layers: object[] = [
    {
      mark: { type: 'line', point: true },
      encoding: {
        x,
        y: { field: o.y.field, type: 'quantitative', title: o.y.title, scale: scale(o.y.log) },
        ...(color ? { color } : {}),
      },
    },
  ];
  if (o.ySd) {
    layers.push({
      transform: [
        { calculate: `datum['${o.y.field}'] - datum['${o.ySd}']`, as: '__lo' },
        { calculate: `datum['${o.y.field}'] + datum['${o.ySd}']`, as: '__hi' },
      ],
      mark: { type: 'errorbar' },
      encoding: {
        x,
        y: { field: '__lo', type: 'quantitative', title: o.y.title },
        y2: { field: '__hi' },
        ...(color ? { color } : {}),
      },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: o.title,
    width: o.width ?? 480,
    height: o.height ?? 300,
    background: 'white',
    data: { values: o.data as Record<string, unknown>[] },
    layer: layers,
  } as TopLevelSpec;
}
