/**
 * Vega-Lite charts to pictures: a spec (data inline) compiled by Vega-Lite, rendered by Vega
 * to SVG, and drawn by Vega onto a @napi-rs/canvas context (its `externalContext` option) for
 * the PNG, in our font. The path the evaluation chart takes (src/evaluate/chart.ts), for the
 * charts predict draws.
 *
 * Vega measures text with node-canvas when it is installed and guesses widths otherwise (0.8
 * em per character, far wider than Inter); measuring with our canvas instead gives legends and
 * axis titles the room their text really takes, in the SVG as in the PNG.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { toPng, whiteCanvas, type Context } from './png.js';

const metrics = (vega as unknown as { textMetrics: { width: (item: unknown, text: unknown) => number } }).textMetrics;
const vegaFont = (vega as unknown as { font: (item: unknown) => string }).font;
let measure: Context | undefined;
metrics.width = (item, text) => {
  const t = text === null || text === undefined ? '' : String(text).trim();
  if (!t) return 0;
  measure ??= whiteCanvas(1, 1).getContext('2d');
  measure.font = vegaFont(item);
  return measure.measureText(t).width;
};

/** The SVG and PNG of a Vega-Lite spec. */
export async function renderVegaLite(spec: TopLevelSpec): Promise<{ svg: string; png: Buffer }> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const size = /^<svg[^>]*\swidth="(\d+(?:\.\d+)?)"[^>]*\sheight="(\d+(?:\.\d+)?)"/.exec(svg);
    if (!size) throw new Error('vega rendered an SVG without a size');
    const canvas = whiteCanvas(Math.round(Number(size[1])), Math.round(Number(size[2])));
    await view.toCanvas(1, { externalContext: canvas.getContext('2d') });
    return { svg, png: await toPng(canvas) };
  } finally {
    view.finalize();
  }
}
