/**
 * A small RGBA raster canvas and PNG encoder on node:zlib, for quick-look maps and charts.
 *
 * Why our own: the project runs on Node built-ins plus a handful of packages; a canvas
 * library (node-canvas, sharp) brings native builds for what is rectangles, lines, a bitmap
 * font and one zlib stream. The encoder writes 8-bit truecolour PNGs (RGB when every pixel
 * is opaque, else RGBA), non-interlaced, with a per-row adaptive filter (the usual
 * minimum-sum-of-absolute-differences heuristic), which keeps map PNGs small.
 *
 * Coordinates are pixels, x to the right and y down, (0, 0) the top-left pixel. Everything
 * drawn outside the canvas is clipped, never an error.
 */
import { deflateSync, inflateSync } from 'node:zlib';

/** '#rgb', '#rrggbb', '#rrggbbaa', or [r, g, b] / [r, g, b, a] with 0..255 components. */
export type Color = string | readonly number[];

/** Parse a Color to [r, g, b, a]; throws on a malformed colour (a programming error). */
export function parseColor(color: Color): [number, number, number, number] {
  if (typeof color === 'string') {
    if (/^#[0-9a-f]{3}$/i.test(color)) color = `#${color[1]}${color[1]}${color[2]}${color[2]}${color[3]}${color[3]}`;
    const m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(color);
    if (!m) throw new Error(`colour must be #rgb, #rrggbb or #rrggbbaa, got "${color}"`);
    const v = parseInt(m[1]!, 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255, m[2] ? parseInt(m[2], 16) : 255];
  }
  if (color.length !== 3 && color.length !== 4) throw new Error(`colour must have 3 or 4 components, got ${color.length}`);
  const c = color.map((x) => Math.max(0, Math.min(255, Math.round(x))));
  return [c[0]!, c[1]!, c[2]!, c.length === 4 ? c[3]! : 255];
}

// ---------------------------------------------------------------------------------------
// Bitmap font: 5x7 glyphs, one string per glyph, rows top to bottom separated by spaces,
// '#' = ink. Printable ASCII plus the degree sign; anything else draws as a hollow box.

const GLYPH_W = 5;
const GLYPH_H = 7;

const GLYPH_SOURCE: Record<string, string> = {
  ' ': '..... ..... ..... ..... ..... ..... .....',
  '!': '..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..',
  '"': '.#.#. .#.#. .#.#. ..... ..... ..... .....',
  '#': '.#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.',
  $: '..#.. .#### #.#.. .###. ..#.# ####. ..#..',
  '%': '##... ##..# ...#. ..#.. .#... #..## ...##',
  '&': '.##.. #..#. #.#.. .#... #.#.# #..#. .##.#',
  "'": '..#.. ..#.. .#... ..... ..... ..... .....',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '*': '..... ..#.. #.#.# .###. #.#.# ..#.. .....',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  ',': '..... ..... ..... ..... .##.. ..#.. .#...',
  '-': '..... ..... ..... ##### ..... ..... .....',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  '/': '..... ....# ...#. ..#.. .#... #.... .....',
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '##### ...#. ..#.. ...#. ....# #...# .###.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '..##. .#... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ...#. .##..',
  ':': '..... .##.. .##.. ..... .##.. .##.. .....',
  ';': '..... .##.. .##.. ..... .##.. ..#.. .#...',
  '<': '...#. ..#.. .#... #.... .#... ..#.. ...#.',
  '=': '..... ..... ##### ..... ##### ..... .....',
  '>': '.#... ..#.. ...#. ....# ...#. ..#.. .#...',
  '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
  '@': '.###. #...# ....# .##.# #.#.# #.#.# .###.',
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '###.. #..#. #...# #...# #...# #..#. ###..',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  '[': '.###. .#... .#... .#... .#... .#... .###.',
  '\\': '..... #.... .#... ..#.. ...#. ....# .....',
  ']': '.###. ...#. ...#. ...#. ...#. ...#. .###.',
  '^': '..#.. .#.#. #...# ..... ..... ..... .....',
  _: '..... ..... ..... ..... ..... ..... #####',
  '`': '.#... ..#.. ...#. ..... ..... ..... .....',
  a: '..... ..... .###. ....# .#### #...# .####',
  b: '#.... #.... #.##. ##..# #...# #...# ####.',
  c: '..... ..... .###. #.... #.... #...# .###.',
  d: '....# ....# .##.# #..## #...# #...# .####',
  e: '..... ..... .###. #...# ##### #.... .###.',
  f: '..##. .#..# .#... ###.. .#... .#... .#...',
  g: '..... .#### #...# #...# .#### ....# .###.',
  h: '#.... #.... #.##. ##..# #...# #...# #...#',
  i: '..#.. ..... .##.. ..#.. ..#.. ..#.. .###.',
  j: '...#. ..... ..##. ...#. ...#. #..#. .##..',
  k: '#.... #.... #..#. #.#.. ##... #.#.. #..#.',
  l: '.##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  m: '..... ..... ##.#. #.#.# #.#.# #...# #...#',
  n: '..... ..... #.##. ##..# #...# #...# #...#',
  o: '..... ..... .###. #...# #...# #...# .###.',
  p: '..... ..... ####. #...# ####. #.... #....',
  q: '..... ..... .##.# #..## .#### ....# ....#',
  r: '..... ..... #.##. ##..# #.... #.... #....',
  s: '..... ..... .###. #.... .###. ....# ####.',
  t: '.#... .#... ###.. .#... .#... .#..# ..##.',
  u: '..... ..... #...# #...# #...# #..## .##.#',
  v: '..... ..... #...# #...# #...# .#.#. ..#..',
  w: '..... ..... #...# #...# #.#.# #.#.# .#.#.',
  x: '..... ..... #...# .#.#. ..#.. .#.#. #...#',
  y: '..... ..... #...# #...# .#### ....# .###.',
  z: '..... ..... ##### ...#. ..#.. .#... #####',
  '{': '...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.',
  '|': '..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  '}': '.#... ..#.. ..#.. ...#. ..#.. ..#.. .#...',
  '~': '..... ..... .#... #.#.# ...#. ..... .....',
  '\u00b0': '.##.. #..#. #..#. .##.. ..... ..... .....',
};

const MISSING_GLYPH = '##### #...# #...# #...# #...# #...# #####';

/** Glyph bitmaps: GLYPH_H rows of GLYPH_W bits, bit 4 = leftmost column. */
const GLYPHS = new Map<string, Uint8Array>();
for (const [ch, src] of Object.entries(GLYPH_SOURCE)) GLYPHS.set(ch, compileGlyph(ch, src));
const MISSING = compileGlyph('missing', MISSING_GLYPH);

function compileGlyph(name: string, src: string): Uint8Array {
  const rows = src.split(' ');
  if (rows.length !== GLYPH_H || rows.some((r) => r.length !== GLYPH_W)) {
    throw new Error(`font glyph ${JSON.stringify(name)} is not ${GLYPH_W}x${GLYPH_H}`);
  }
  return Uint8Array.from(rows, (r) => [...r].reduce((bits, c) => (bits << 1) | (c === '#' ? 1 : 0), 0));
}

/** Characters the font draws (everything else is a hollow box). */
export const FONT_CHARACTERS = [...GLYPHS.keys()].join('');

export interface TextOptions {
  /** Integer magnification: each font pixel becomes scale x scale pixels. Default 1. */
  scale?: number;
  /** x is the left edge (default), the centre, or the right edge of the text. */
  align?: 'left' | 'center' | 'right';
  /** y is the top (default), the middle, or the bottom of the text. */
  baseline?: 'top' | 'middle' | 'bottom';
  /** Draw the text rotated 90 degrees counter-clockwise (reads bottom to top), e.g. a y-axis label. */
  vertical?: boolean;
  /** Optional box filled behind the text, 1 font pixel of padding. */
  background?: Color;
}

/** Width in pixels of text at a scale (one blank font column between glyphs). */
export function textWidth(text: string, scale = 1): number {
  const n = [...text].length;
  return n === 0 ? 0 : (n * (GLYPH_W + 1) - 1) * scale;
}

/** Height in pixels of one line of text at a scale. */
export function textHeight(scale = 1): number {
  return GLYPH_H * scale;
}

// ---------------------------------------------------------------------------------------
// Colour maps. Both are published polynomial fits, so no 256-entry table lives in the source:
//  - viridis: perceptually uniform, readable in greyscale and by colour-blind viewers; the
//    default for speed maps. Fit by Matt Zucker (shadertoy WlfXRN), within a few 1/255 of
//    matplotlib's table.
//  - turbo: Google's improved rainbow, more contrast between neighbouring speeds; fit by
//    Anton Mikhailov (Google AI blog, 2019), close in the middle, somewhat darker at the ends.

export type ColormapName = 'viridis' | 'turbo';

function viridisRgb(t: number): [number, number, number] {
  const c = [
    [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
    [0.1050930431085774, 1.404613529898575, 1.384590162594685],
    [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
    [-4.634230498983486, -5.799100973351585, -19.33244095627987],
    [6.228269936347081, 14.17993336680509, 56.69055260068105],
    [4.776384997670288, -13.74514537774601, -65.35303263337234],
    [-5.435455855934631, 4.645852612178535, 26.3124352495832],
  ];
  const out: [number, number, number] = [0, 0, 0];
  for (let ch = 0; ch < 3; ch++) {
    let v = 0;
    for (let k = 6; k >= 0; k--) v = v * t + c[k]![ch]!;
    out[ch] = v;
  }
  return out;
}

function turboRgb(t: number): [number, number, number] {
  const t2 = t * t;
  const t3 = t2 * t;
  const t4 = t2 * t2;
  const t5 = t4 * t;
  return [
    0.13572138 + 4.6153926 * t - 42.66032258 * t2 + 132.13108234 * t3 - 152.94239396 * t4 + 59.28637943 * t5,
    0.09140261 + 2.19418839 * t + 4.84296658 * t2 - 14.18503333 * t3 + 4.27729857 * t4 + 2.82956604 * t5,
    0.1066733 + 12.64194608 * t - 60.58204836 * t2 + 110.36276771 * t3 - 89.90310912 * t4 + 27.34824973 * t5,
  ];
}

const LUT_CACHE = new Map<ColormapName, Uint8Array>();

/** 256 x RGB lookup table of a colour map (index 0 = low end). */
export function colormapTable(name: ColormapName): Uint8Array {
  let lut = LUT_CACHE.get(name);
  if (!lut) {
    const f = name === 'viridis' ? viridisRgb : turboRgb;
    lut = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) {
      const rgb = f(i / 255);
      for (let ch = 0; ch < 3; ch++) lut[i * 3 + ch] = Math.max(0, Math.min(255, Math.round(rgb[ch]! * 255)));
    }
    LUT_CACHE.set(name, lut);
  }
  return lut;
}

/** Colour of value v on a map scaled from min to max (clamped at both ends). */
export function colormapColor(name: ColormapName, v: number, min: number, max: number): [number, number, number] {
  const lut = colormapTable(name);
  const i = colormapIndex(v, min, max);
  return [lut[i * 3]!, lut[i * 3 + 1]!, lut[i * 3 + 2]!];
}

function colormapIndex(v: number, min: number, max: number): number {
  const t = max > min ? (v - min) / (max - min) : 0;
  return Math.max(0, Math.min(255, Math.round(t * 255)));
}

// ---------------------------------------------------------------------------------------

export class Canvas {
  readonly width: number;
  readonly height: number;
  /** Row-major RGBA, 4 bytes per pixel. */
  readonly data: Uint8ClampedArray;

  constructor(width: number, height: number, background: Color = '#ffffff') {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new Error(`canvas size must be positive integers, got ${width}x${height}`);
    }
    this.width = width;
    this.height = height;
    this.data = new Uint8ClampedArray(width * height * 4);
    this.fillRect(0, 0, width, height, background);
  }

  /** [r, g, b, a] of a pixel (for tests and probes). */
  getPixel(x: number, y: number): [number, number, number, number] {
    const i = (y * this.width + x) * 4;
    return [this.data[i]!, this.data[i + 1]!, this.data[i + 2]!, this.data[i + 3]!];
  }

  /** Set one pixel; a translucent colour is blended over what is there ("source over"). */
  setPixel(x: number, y: number, color: Color): void {
    this.plot(Math.round(x), Math.round(y), parseColor(color));
  }

  private plot(x: number, y: number, c: readonly number[]): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    const a = c[3]!;
    const d = this.data;
    if (a >= 255) {
      d[i] = c[0]!;
      d[i + 1] = c[1]!;
      d[i + 2] = c[2]!;
      d[i + 3] = 255;
    } else if (a > 0) {
      const sa = a / 255;
      const da = d[i + 3]! / 255;
      const oa = sa + da * (1 - sa);
      for (let ch = 0; ch < 3; ch++) d[i + ch] = (c[ch]! * sa + d[i + ch]! * da * (1 - sa)) / oa;
      d[i + 3] = oa * 255;
    }
  }

  /** Fill the rectangle with top-left (x, y) and size w x h. */
  fillRect(x: number, y: number, w: number, h: number, color: Color): void {
    const c = parseColor(color);
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    if (c[3] >= 255) {
      const d = this.data;
      for (let yy = y0; yy < y1; yy++) {
        for (let xx = x0; xx < x1; xx++) {
          const i = (yy * this.width + xx) * 4;
          d[i] = c[0];
          d[i + 1] = c[1];
          d[i + 2] = c[2];
          d[i + 3] = 255;
        }
      }
      return;
    }
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.plot(xx, yy, c);
  }

  /** Outline of a rectangle, 1 pixel wide, inside the w x h box. */
  strokeRect(x: number, y: number, w: number, h: number, color: Color): void {
    this.fillRect(x, y, w, 1, color);
    this.fillRect(x, y + h - 1, w, 1, color);
    this.fillRect(x, y + 1, 1, h - 2, color);
    this.fillRect(x + w - 1, y + 1, 1, h - 2, color);
  }

  /** A straight line (Bresenham) from (x0, y0) to (x1, y1), both ends included. */
  line(x0: number, y0: number, x1: number, y1: number, color: Color, width = 1): void {
    const c = parseColor(color);
    let x = Math.round(x0);
    let y = Math.round(y0);
    const xe = Math.round(x1);
    const ye = Math.round(y1);
    const dx = Math.abs(xe - x);
    const dy = -Math.abs(ye - y);
    const sx = x < xe ? 1 : -1;
    const sy = y < ye ? 1 : -1;
    let err = dx + dy;
    // A square brush for thick lines; translucent thick lines would double-blend where the
    // brush overlaps itself, so they are drawn opaque-per-pixel via a visited set.
    const half = Math.floor((width - 1) / 2);
    const seen = width > 1 && c[3] < 255 ? new Set<number>() : undefined;
    for (;;) {
      if (width <= 1) this.plot(x, y, c);
      else {
        for (let by = y - half; by < y - half + width; by++) {
          for (let bx = x - half; bx < x - half + width; bx++) {
            if (seen) {
              const key = by * this.width + bx;
              if (seen.has(key)) continue;
              seen.add(key);
            }
            this.plot(bx, by, c);
          }
        }
      }
      if (x === xe && y === ye) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y += sy;
      }
    }
  }

  /**
   * Connected line through points [x0, y0, x1, y1, ...]; a NaN coordinate breaks the line
   * (a gap in a series), so missing values are never drawn as zero.
   */
  polyline(points: ArrayLike<number>, color: Color, width = 1): void {
    let px = NaN;
    let py = NaN;
    for (let i = 0; i + 1 < points.length; i += 2) {
      const x = points[i]!;
      const y = points[i + 1]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        px = NaN;
        continue;
      }
      if (Number.isFinite(px)) this.line(px, py, x, y, color, width);
      else this.line(x, y, x, y, color, width);
      px = x;
      py = y;
    }
  }

  /** Text in the built-in 5x7 font. Returns the drawn width in pixels. */
  text(x: number, y: number, text: string, color: Color, options: TextOptions = {}): number {
    const scale = Math.max(1, Math.round(options.scale ?? 1));
    const w = textWidth(text, scale);
    const h = textHeight(scale);
    const c = parseColor(color);
    // Along is the reading direction, across the glyph height; vertical text runs upwards.
    const along = options.align === 'center' ? -w / 2 : options.align === 'right' ? -w : 0;
    const across = options.baseline === 'middle' ? -h / 2 : options.baseline === 'bottom' ? -h : 0;
    const vertical = options.vertical ?? false;
    const ox = Math.round(vertical ? x + across : x + along);
    const oy = Math.round(vertical ? y - along : y + across);
    if (options.background !== undefined) {
      if (vertical) this.fillRect(ox - scale, oy - w - scale, h + 2 * scale, w + 2 * scale, options.background);
      else this.fillRect(ox - scale, oy - scale, w + 2 * scale, h + 2 * scale, options.background);
    }
    let pen = 0;
    for (const ch of text) {
      const glyph = GLYPHS.get(ch) ?? MISSING;
      for (let gy = 0; gy < GLYPH_H; gy++) {
        const bits = glyph[gy]!;
        if (bits === 0) continue;
        for (let gx = 0; gx < GLYPH_W; gx++) {
          if (!(bits & (1 << (GLYPH_W - 1 - gx)))) continue;
          for (let sy = 0; sy < scale; sy++) {
            for (let sx = 0; sx < scale; sx++) {
              const u = pen + gx * scale + sx; // along the text
              const v = gy * scale + sy; // down the glyph
              if (vertical) this.plot(ox + v, oy - 1 - u, c);
              else this.plot(ox + u, oy + v, c);
            }
          }
        }
      }
      pen += (GLYPH_W + 1) * scale;
    }
    return w;
  }

  /** Copy another canvas in with its top-left at (x, y) (opaque copy, clipped). */
  drawCanvas(src: Canvas, x: number, y: number): void {
    const x0 = Math.round(x);
    const y0 = Math.round(y);
    for (let sy = 0; sy < src.height; sy++) {
      const ty = y0 + sy;
      if (ty < 0 || ty >= this.height) continue;
      const sxStart = Math.max(0, -x0);
      const sxEnd = Math.min(src.width, this.width - x0);
      if (sxEnd <= sxStart) continue;
      const from = (sy * src.width + sxStart) * 4;
      this.data.set(src.data.subarray(from, from + (sxEnd - sxStart) * 4), (ty * this.width + x0 + sxStart) * 4);
    }
  }

  /**
   * A vertical or horizontal colour bar in the box (x, y, w, h) with the low end at the
   * bottom (vertical) or left (horizontal), outlined in the given colour.
   */
  colorBar(x: number, y: number, w: number, h: number, options: { colormap: ColormapName; vertical?: boolean; outline?: Color }): void {
    const lut = colormapTable(options.colormap);
    const vertical = options.vertical ?? h > w;
    const n = vertical ? h : w;
    for (let k = 0; k < n; k++) {
      const idx = n > 1 ? Math.round((k / (n - 1)) * 255) : 0;
      const col: [number, number, number] = [lut[idx * 3]!, lut[idx * 3 + 1]!, lut[idx * 3 + 2]!];
      if (vertical) this.fillRect(x, y + h - 1 - k, w, 1, col);
      else this.fillRect(x + k, y, 1, h, col);
    }
    if (options.outline !== undefined) this.strokeRect(x - 1, y - 1, w + 2, h + 2, options.outline);
  }

  /** The canvas as PNG bytes. */
  toPng(): Buffer {
    return encodePng(this.data, this.width, this.height);
  }
}

// ---------------------------------------------------------------------------------------
// PNG encoding (ISO/IEC 15948): signature, IHDR, one IDAT, IEND; chunk CRC-32 per the spec.

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (the PNG / zlib polynomial) of bytes. */
export function crc32(bytes: Uint8Array, start = 0xffffffff): number {
  let c = start;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * Encode RGBA pixels (row-major, 4 bytes each) as a PNG. Written as RGB (colour type 2)
 * when every pixel is opaque, which is a quarter smaller, else RGBA (colour type 6).
 */
export function encodePng(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, options: { level?: number } = {}): Buffer {
  if (rgba.length !== width * height * 4) {
    throw new Error(`encodePng: expected ${width}x${height}x4 = ${width * height * 4} bytes, got ${rgba.length}`);
  }
  let opaque = true;
  for (let i = 3; i < rgba.length; i += 4) {
    if (rgba[i] !== 255) {
      opaque = false;
      break;
    }
  }
  const bpp = opaque ? 3 : 4;
  const stride = width * bpp;
  const raw = new Uint8Array((stride + 1) * height);
  let prev = new Uint8Array(stride);
  let cur = new Uint8Array(stride);
  const candidates = Array.from({ length: 5 }, () => new Uint8Array(stride));
  for (let y = 0; y < height; y++) {
    if (opaque) {
      for (let x = 0, s = y * width * 4; x < width; x++, s += 4) {
        cur[x * 3] = rgba[s]!;
        cur[x * 3 + 1] = rgba[s + 1]!;
        cur[x * 3 + 2] = rgba[s + 2]!;
      }
    } else {
      cur.set(rgba.subarray(y * stride, (y + 1) * stride));
    }
    // Try the five filters and keep the one with the smallest sum of |signed residual|.
    let best = 0;
    let bestScore = Infinity;
    for (let f = 0; f < 5; f++) {
      const out = candidates[f]!;
      let score = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= bpp ? cur[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const x = cur[i]!;
        let r: number;
        if (f === 0) r = x;
        else if (f === 1) r = x - a;
        else if (f === 2) r = x - b;
        else if (f === 3) r = x - ((a + b) >> 1);
        else r = x - paeth(a, b, c);
        r &= 0xff;
        out[i] = r;
        score += r < 128 ? r : 256 - r;
        if (score >= bestScore) break;
      }
      if (score < bestScore) {
        bestScore = score;
        best = f;
      }
    }
    raw[y * (stride + 1)] = best;
    raw.set(candidates[best]!, y * (stride + 1) + 1);
    [prev, cur] = [cur, prev];
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = opaque ? 2 : 6; // colour type
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method 0 (adaptive)
  ihdr[12] = 0; // no interlace
  const idat = deflateSync(raw, { level: options.level ?? 6 });
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decode an 8-bit, non-interlaced truecolour PNG (what encodePng writes) back to RGBA.
 * Checks the signature and every chunk CRC; meant for tests and for checking our output,
 * not as a general PNG reader (palette, 16-bit and interlaced images are refused).
 */
export function decodePng(png: Uint8Array): { width: number; height: number; data: Uint8ClampedArray } {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG (bad signature)');
  let pos = 8;
  let width = 0;
  let height = 0;
  let colorType = -1;
  const idat: Buffer[] = [];
  let ended = false;
  while (pos + 12 <= buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    if (pos + 12 + len > buf.length) throw new Error(`PNG chunk ${type} runs past the end of the file`);
    const crc = buf.readUInt32BE(pos + 8 + len);
    if (crc32(buf.subarray(pos + 4, pos + 8 + len)) !== crc) throw new Error(`PNG chunk ${type}: CRC mismatch`);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      colorType = data[9]!;
      if (data[8] !== 8 || (colorType !== 2 && colorType !== 6) || data[12] !== 0) {
        throw new Error(`unsupported PNG: bit depth ${data[8]}, colour type ${colorType}, interlace ${data[12]}`);
      }
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') {
      ended = true;
      break;
    }
    pos += 12 + len;
  }
  if (!ended || colorType < 0) throw new Error('truncated PNG (no IHDR or IEND)');
  const bpp = colorType === 6 ? 4 : 3;
  const stride = width * bpp;
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length !== (stride + 1) * height) throw new Error(`PNG image data has ${raw.length} bytes, expected ${(stride + 1) * height}`);
  const out = new Uint8ClampedArray(width * height * 4);
  let prev = new Uint8Array(stride);
  let cur = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    const row = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp]! : 0;
      const b = prev[i]!;
      const c = i >= bpp ? prev[i - bpp]! : 0;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : f === 4 ? paeth(a, b, c) : NaN;
      if (Number.isNaN(pred)) throw new Error(`PNG row ${y}: unknown filter ${f}`);
      cur[i] = (row[i]! + pred) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      out[o] = cur[x * bpp]!;
      out[o + 1] = cur[x * bpp + 1]!;
      out[o + 2] = cur[x * bpp + 2]!;
      out[o + 3] = bpp === 4 ? cur[x * bpp + 3]! : 255;
    }
    [prev, cur] = [cur, prev];
  }
  return { width, height, data: out };
}

// ---------------------------------------------------------------------------------------
// Axis ticks and a line chart (used by evaluate for RMSE vs lead hour).

/** About `count` round tick values (1, 2, 5 x 10^k steps) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const start = Math.ceil(min / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = start; v <= max + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return ticks;
}

/** A tick label: as few decimals as the tick step needs. */
export function formatTick(v: number, step: number): string {
  const decimals = step > 0 ? Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))) : 0;
  return v.toFixed(decimals);
}

export interface ChartSeries {
  name: string;
  /** y values; NaN leaves a gap. */
  values: ArrayLike<number>;
  /** Line colour; default from a colour-blind-safe palette (Okabe-Ito). */
  color?: Color;
}

export interface LineChartOptions {
  series: ChartSeries[];
  /** x value of each index; default 1..n (e.g. lead hours). */
  x?: ArrayLike<number>;
  xLabel: string;
  yLabel: string;
  title: string;
  width?: number;
  height?: number;
  /** y axis range; default from the data, including 0 when all values are positive. */
  yMin?: number;
  yMax?: number;
  /** Draw a dot at every point (default true when there are at most 48 points). */
  markers?: boolean;
}

/** Okabe-Ito palette: distinguishable with the common colour-vision deficiencies. */
export const SERIES_COLORS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#f0e442', '#000000'];

/**
 * A line chart with title, axes, nice ticks, grid lines, axis labels and a legend, e.g.
 * RMSE (m/s) against lead hour for the model and its baselines. The legend goes in a corner
 * no curve passes through, with headroom added above the data when every corner is taken.
 * Returns the canvas (with where the legend went and the drawn points, pixel x, y pairs per
 * series); call .toPng() for the bytes.
 */
export function lineChart(options: LineChartOptions): Canvas & { legend?: LegendBox; lines: number[][] } {
  const width = options.width ?? 720;
  const height = options.height ?? 440;
  const canvas = new Canvas(width, height, '#ffffff');
  const n = Math.max(0, ...options.series.map((s) => s.values.length));
  const xs = Array.from({ length: n }, (_, i) => (options.x ? Number(options.x[i]) : i + 1));
  let dataLo = Infinity;
  let dataHi = -Infinity;
  for (const s of options.series) {
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i]!;
      if (Number.isFinite(v)) {
        dataLo = Math.min(dataLo, v);
        dataHi = Math.max(dataHi, v);
      }
    }
  }
  if (!Number.isFinite(dataLo)) {
    dataLo = 0;
    dataHi = 1;
  }
  const finiteXs = xs.filter(Number.isFinite);
  let xLo = finiteXs.length ? Math.min(...finiteXs) : 0;
  let xHi = finiteXs.length ? Math.max(...finiteXs) : 1;
  if (xHi === xLo) {
    xLo -= 1;
    xHi += 1;
  }
  const xTicks = niceTicks(xLo, xHi, 8).filter((t) => t >= xLo && t <= xHi);
  const xStep = xTicks.length >= 2 ? xTicks[1]! - xTicks[0]! : 1;

  // Legend box size: it depends only on the names.
  const rowH = textHeight() + 6;
  const legend = options.series.length > 0
    ? { w: 8 + 18 + 6 + Math.max(...options.series.map((s) => textWidth(s.name))) + 8, h: options.series.length * rowH + 8 }
    : undefined;

  // The plot for a given top of the y axis; `headroom` extra tick steps above the data make
  // room for the legend when every corner would cover a curve.
  const layout = (headroom: number) => {
    let yLo = Math.min(dataLo, 0);
    let yHi = dataHi;
    yLo = options.yMin ?? yLo;
    yHi = options.yMax ?? yHi;
    const yTicks = niceTicks(yLo, yHi, 6);
    if (yTicks.length >= 2) {
      yLo = Math.min(yLo, yTicks[0]!);
      const step = yTicks[1]! - yTicks[0]!;
      if (yTicks[yTicks.length - 1]! < yHi) yTicks.push(Number((yTicks[yTicks.length - 1]! + step).toPrecision(12)));
      for (let k = 0; k < headroom; k++) yTicks.push(Number((yTicks[yTicks.length - 1]! + step).toPrecision(12)));
      yHi = Math.max(yHi, yTicks[yTicks.length - 1]!);
    }
    if (yHi === yLo) yHi = yLo + 1;
    const yStep = yTicks.length >= 2 ? yTicks[1]! - yTicks[0]! : 1;
    const yLabels = yTicks.map((t) => formatTick(t, yStep));
    const labelW = Math.max(0, ...yLabels.map((t) => textWidth(t)));
    const left = 14 + textHeight() + 6 + labelW + 6;
    const top = 12 + textHeight(2) + 10;
    const plotW = width - left - 16;
    const plotH = height - top - (8 + textHeight() + 8 + textHeight() + 10);
    const px = (x: number): number => left + ((x - xLo) / (xHi - xLo)) * (plotW - 1);
    const py = (y: number): number => top + plotH - 1 - ((y - yLo) / (yHi - yLo)) * (plotH - 1);
    const lines = options.series.map((s) => {
      const pts: number[] = [];
      for (let i = 0; i < s.values.length; i++) {
        const v = s.values[i]!;
        const x = xs[i]!;
        if (Number.isFinite(v) && Number.isFinite(x)) pts.push(px(x), py(Math.max(yLo, Math.min(yHi, v))));
        else pts.push(NaN, NaN);
      }
      return pts;
    });
    return { yLo, yHi, yTicks, yLabels, left, top, plotW, plotH, px, py, lines };
  };

  let plot = layout(0);
  let legendAt: LegendBox | undefined;
  if (legend) {
    // A corner the curves stay out of; else headroom above the data (at most 3 tick steps)
    // for the top corners; else the corner that covers the least.
    let best: { box: LegendBox; covered: number; plot: ReturnType<typeof layout> } | undefined;
    for (let headroom = 0; headroom <= 3 && !(best && best.covered === 0); headroom++) {
      const p = layout(headroom);
      const corners = headroom === 0 ? legendCorners(p, legend) : legendCorners(p, legend).slice(0, 2);
      for (const box of corners) {
        const covered = pointsInBox(p.lines, box);
        if (!best || covered < best.covered) best = { box, covered, plot: p };
        if (covered === 0) break;
      }
    }
    plot = best!.plot;
    legendAt = best!.box;
  }
  const { yTicks, yLabels, left, top, plotW, plotH, px, py, lines } = plot;

  canvas.text(width / 2, 12, options.title, '#000000', { scale: 2, align: 'center' });
  for (let k = 0; k < yTicks.length; k++) {
    const y = Math.round(py(yTicks[k]!));
    canvas.line(left, y, left + plotW - 1, y, '#e0e0e0');
    canvas.line(left - 4, y, left - 1, y, '#000000');
    canvas.text(left - 6, y, yLabels[k]!, '#000000', { align: 'right', baseline: 'middle' });
  }
  for (const t of xTicks) {
    const x = Math.round(px(t));
    canvas.line(x, top, x, top + plotH - 1, '#eeeeee');
    canvas.line(x, top + plotH, x, top + plotH + 3, '#000000');
    canvas.text(x, top + plotH + 6, formatTick(t, xStep), '#000000', { align: 'center' });
  }
  canvas.strokeRect(left - 1, top - 1, plotW + 2, plotH + 2, '#000000');
  canvas.text(left + plotW / 2, height - 8, options.xLabel, '#000000', { align: 'center', baseline: 'bottom' });
  canvas.text(14, top + plotH / 2, options.yLabel, '#000000', { vertical: true, align: 'center' });

  const markers = options.markers ?? n <= 48;
  options.series.forEach((s, k) => {
    const color = s.color ?? SERIES_COLORS[k % SERIES_COLORS.length]!;
    const pts = lines[k]!;
    canvas.polyline(pts, color, 2);
    if (markers) for (let i = 0; i + 1 < pts.length; i += 2) if (Number.isFinite(pts[i]!)) canvas.fillRect(pts[i]! - 2, pts[i + 1]! - 2, 5, 5, color);
  });

  // The legend on a white box, so grid lines do not cross it.
  if (legendAt) {
    const { x: bx, y: by, w: boxW, h: boxH } = legendAt;
    canvas.fillRect(bx, by, boxW, boxH, '#ffffff');
    canvas.strokeRect(bx, by, boxW, boxH, '#808080');
    options.series.forEach((s, k) => {
      const color = s.color ?? SERIES_COLORS[k % SERIES_COLORS.length]!;
      const cy = by + 4 + k * rowH + Math.floor(rowH / 2) - 1;
      canvas.line(bx + 8, cy, bx + 8 + 17, cy, color, 2);
      canvas.text(bx + 8 + 18 + 6, cy, s.name, '#000000', { baseline: 'middle' });
    });
  }
  return Object.assign(canvas, { legend: legendAt, lines });
}

export interface LegendBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Candidate legend boxes inside the plot: top-right, top-left, bottom-right, bottom-left. */
function legendCorners(p: { left: number; top: number; plotW: number; plotH: number }, size: { w: number; h: number }): LegendBox[] {
  const m = 8;
  const right = p.left + p.plotW - size.w - m;
  const bottom = p.top + p.plotH - size.h - m;
  return [
    { x: right, y: p.top + m, ...size },
    { x: p.left + m, y: p.top + m, ...size },
    { x: right, y: bottom, ...size },
    { x: p.left + m, y: bottom, ...size },
  ];
}

/**
 * How many points of the drawn lines fall inside the box (with a few pixels' margin), the
 * segments sampled every 2 px: the legend should cover none.
 */
export function pointsInBox(lines: number[][], box: LegendBox): number {
  const pad = 4;
  const inside = (x: number, y: number) => x >= box.x - pad && x <= box.x + box.w + pad && y >= box.y - pad && y <= box.y + box.h + pad;
  let count = 0;
  for (const pts of lines) {
    for (let i = 0; i + 1 < pts.length; i += 2) {
      const x0 = pts[i]!;
      const y0 = pts[i + 1]!;
      if (!Number.isFinite(x0) || !Number.isFinite(y0)) continue;
      if (inside(x0, y0)) count++;
      const x1 = pts[i + 2];
      const y1 = pts[i + 3];
      if (x1 === undefined || y1 === undefined || !Number.isFinite(x1) || !Number.isFinite(y1)) continue;
      const steps = Math.ceil(Math.hypot(x1 - x0, y1 - y0) / 2);
      for (let k = 1; k < steps; k++) if (inside(x0 + ((x1 - x0) * k) / steps, y0 + ((y1 - y0) * k) / steps)) count++;
    }
  }
  return count;
}
