/**
 * What every picture of windcast shares: the canvas library, the font, the colour maps and
 * PNG bytes in and out.
 *
 * - Canvas: @napi-rs/canvas (Skia, antialiased lines and text). Like sharp's, its prebuilt
 *   binary ships inside an npm package, nothing is downloaded at install. Chosen over SVG
 *   rendered by @resvg/resvg-js and over our former hand-written canvas: docs/pictures.md.
 * - Font: Inter from @fontsource/inter (OFL), registered with the canvas on first use, so text
 *   looks the same on a machine without any system font (a fresh CI machine has none).
 * - Colour maps: d3-scale-chromatic, sampled once into 256-entry lookup tables, so a field
 *   of a million cells is coloured by table look-up, not by a million interpolator calls.
 * - PNG: encoded by sharp (libvips; `toPng`), decoded by the canvas (`decodePng`, for tests
 *   and checks that read pixels back).
 */
import { createRequire } from 'node:module';
import { createCanvas, GlobalFonts, Image, type Canvas } from '@napi-rs/canvas';
import { rgb } from 'd3-color';
import { interpolateTurbo, interpolateViridis } from 'd3-scale-chromatic';
import sharp from 'sharp';

export type { Canvas, SKRSContext2D as Context } from '@napi-rs/canvas';

const require = createRequire(import.meta.url);

/** The family name every picture asks for; the fallbacks only matter to SVG viewers. */
export const FONT_FAMILY = 'Inter';
export const FONT_STACK = 'Inter, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif';

let fontsRegistered = false;

/**
 * Register Inter (regular and semi-bold, Latin subset: ASCII, the degree sign, accented
 * letters) with the canvas. Idempotent; every drawing entry point calls it.
 */
export function registerFonts(): void {
  if (fontsRegistered) return;
  for (const weight of [400, 600]) {
    const file = require.resolve(`@fontsource/inter/files/inter-latin-${weight}-normal.woff2`);
    if (!GlobalFonts.registerFromPath(file, FONT_FAMILY)) throw new Error(`cannot load the font ${file}`);
  }
  fontsRegistered = true;
}

/** A CSS font shorthand in our family, e.g. font(12) or font(20, 600). */
export function font(sizePx: number, weight: 400 | 600 = 400): string {
  return `${weight} ${sizePx}px ${FONT_FAMILY}`;
}

/** A white canvas of the given size with the font registered. */
export function whiteCanvas(width: number, height: number): Canvas {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`canvas size must be positive integers, got ${width}x${height}`);
  }
  registerFonts();
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  return canvas;
}

/**
 * PNG bytes of a canvas, encoded by sharp (libvips) off the JavaScript thread. Skia's own
 * encoder writes RGBA with per-row filters; our pictures are opaque, and RGB without filters
 * came out about 3x faster and 22 % smaller on the contact sheet (docs/pictures.md).
 */
export async function toPng(canvas: Canvas): Promise<Buffer> {
  // Every picture starts white and opaque, so the premultiplied pixels are the plain ones.
  const raw = sharp(canvas.data(), { raw: { width: canvas.width, height: canvas.height, channels: 4 } });
  return raw.removeAlpha().png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
}

// ---------------------------------------------------------------------------------------
// Colour maps.
//  - viridis (default): perceptually uniform (equal steps in speed look like equal steps in
//    colour), lightness rises monotonically so it reads in greyscale, and it is safe for the
//    common colour-vision deficiencies. A speed field has one direction (calm to strong), which
//    is what a sequential map like this is for.
//  - turbo: an improved rainbow with more contrast between neighbouring speeds, for people who
//    want to pick out small differences and accept a map that is not perceptually uniform.

export type ColormapName = 'viridis' | 'turbo';

const INTERPOLATORS: Record<ColormapName, (t: number) => string> = { viridis: interpolateViridis, turbo: interpolateTurbo };
const LUT_CACHE = new Map<ColormapName, Uint8Array>();

/** 256 x RGB lookup table of a colour map (index 0 = low end), sampled from d3-scale-chromatic. */
export function colormapTable(name: ColormapName): Uint8Array {
  let lut = LUT_CACHE.get(name);
  if (!lut) {
    lut = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) {
      const c = rgb(INTERPOLATORS[name](i / 255));
      lut.set([Math.round(c.r), Math.round(c.g), Math.round(c.b)], i * 3);
    }
    LUT_CACHE.set(name, lut);
  }
  return lut;
}

/** Table index of value v on a scale from min to max, clamped at both ends. */
export function colormapIndex(v: number, min: number, max: number): number {
  const t = max > min ? (v - min) / (max - min) : 0;
  return Math.max(0, Math.min(255, Math.round(t * 255)));
}

/** Colour of value v on a map scaled from min to max (clamped at both ends). */
export function colormapColor(name: ColormapName, v: number, min: number, max: number): [number, number, number] {
  const lut = colormapTable(name);
  const i = colormapIndex(v, min, max) * 3;
  return [lut[i]!, lut[i + 1]!, lut[i + 2]!];
}

// ---------------------------------------------------------------------------------------

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Decode PNG bytes to RGBA pixels (row-major, 4 bytes per pixel). */
export function decodePng(png: Uint8Array): { width: number; height: number; data: Uint8ClampedArray } {
  const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (bytes.length < 8 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG (bad signature)');
  const image = new Image();
  image.src = bytes;
  if (!image.complete || image.width === 0) throw new Error('PNG could not be decoded');
  const canvas = createCanvas(image.width, image.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(image, 0, 0);
  const { data } = ctx.getImageData(0, 0, image.width, image.height);
  return { width: image.width, height: image.height, data };
}
