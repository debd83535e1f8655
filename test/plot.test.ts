/** SVG rendering of plots (vega-lite, headless). */
import { describe, expect, it } from 'vitest';
import { linePlot, renderSvg } from '../src/plot/svg.js';

describe('plots', () => {
  it('render a line plot with two series and error bars to a standalone SVG naming its axes', async () => {
    const data = [1, 2, 3].flatMap((x) => ['a', 'b'].map((s) => ({ x, y: x * (s === 'a' ? 1 : 2), sd: 0.1, s })));
    const svg = await renderSvg(
      linePlot({
        title: 'T',
        x: { field: 'x', title: 'rate λ' },
        y: { field: 'y', title: 'entropy (bits)' },
        series: { field: 's', title: 'µ' },
        ySd: 'sd',
        data,
      }),
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('rate λ');
    expect(svg).toContain('entropy (bits)');
    expect(svg).toContain('</svg>');
  });
});
