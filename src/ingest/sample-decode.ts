/**
 * Sample decoding: a file's strips or tiles into north-up Float32 bands in physical units
 * (raw * GDAL scale + offset, nodata compared in the sample type's precision -> NaN, south-up
 * rows flipped). The common layouts GDAL writes for wind data go through our own fast path;
 * everything else through geotiff.js's readRasters, with the same conversion.
 */
import { inflateSync } from 'node:zlib';
import { getDecoder, type GeoTIFFImage } from 'geotiff';
import { DataError, describeError } from '../core/errors.js';
import type { RasterHeader, SampleType } from './raster-header.js';

/**
 * Decode the image's pixels into bands (north-up, one Float32Array of width x height cells per
 * band of the file).
 */
export async function decodeBands(path: string, image: GeoTIFFImage, bytes: ArrayBuffer, header: RasterHeader, bands: Float32Array[]): Promise<void> {
  const fast = await decodeBlocksFast(path, image, bytes, header, bands);
  if (fast) return;
  const { width, height } = header.grid;
  let rasters: ArrayLike<number>[];
  try {
    rasters = (await image.readRasters({ interleave: false })) as unknown as ArrayLike<number>[];
  } catch (err) {
    throw new DataError(path, `cannot decode ${header.compression} pixel data (${describeError(err)}); the file is probably truncated or corrupt`, { cause: err });
  }
  for (let b = 0; b < header.bandCount; b++) convertBand(rasters[b]!, bands[b]!, width, height, header, b);
}

/** The nodata value as it compares with decoded samples (in the sample type's precision, as GDAL). */
function nodataForCompare(h: RasterHeader): number | null {
  if (h.nodata === null || Number.isNaN(h.nodata)) return null; // NaN samples become NaN anyway
  return h.dataType === 'float32' || h.dataType === 'float16' ? Math.fround(h.nodata) : h.nodata;
}

/** Raw samples -> physical Float32, flipping south-up rows, nodata -> NaN (geotiff.js path). */
function convertBand(src: ArrayLike<number>, dst: Float32Array, width: number, height: number, h: RasterHeader, band: number): void {
  const s = h.scale[band] ?? 1;
  const o = h.offset[band] ?? 0;
  const nd = nodataForCompare(h);
  const flip = h.grid.sourceSouthUp;
  for (let r = 0; r < height; r++) {
    const srcRow = (flip ? height - 1 - r : r) * width;
    const dstRow = r * width;
    for (let c = 0; c < width; c++) {
      const raw = src[srcRow + c]!;
      dst[dstRow + c] = raw === nd || raw !== raw ? NaN : raw * s + o;
    }
  }
}

type SampleArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;
const SAMPLE_ARRAYS: Partial<Record<SampleType, new (b: ArrayBuffer, o: number, n: number) => SampleArray>> = {
  uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array, int32: Int32Array, float32: Float32Array, float64: Float64Array,
};
const BYTES: Record<SampleType, number> = { uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float16: 2, float32: 4, float64: 8 };
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decode strips/tiles straight into the output bands. geotiff.js's readRasters reads every
 * sample through a DataView call and its floating-point predictor copies each row; on an
 * ERA5-sized frame that is ~80% of the time. This path handles what GDAL writes for wind data
 * (little-endian, none/DEFLATE/LZW, predictors 1-3, strips or tiles, either planar layout);
 * anything else returns false and goes through geotiff.js.
 */
async function decodeBlocksFast(path: string, image: GeoTIFFImage, bytes: ArrayBuffer, h: RasterHeader, out: Float32Array[]): Promise<boolean> {
  const fd = image.getFileDirectory();
  const compression = Number(fd.hasTag('Compression') ? fd.getValue('Compression') : 1) || 1;
  const predictor = Number(fd.hasTag('Predictor') ? await fd.loadValue('Predictor') : 1) || 1;
  const Arr = SAMPLE_ARRAYS[h.dataType];
  const isFloat = h.dataType.startsWith('float');
  if (!LITTLE_ENDIAN_HOST || !image.littleEndian || !Arr || ![1, 5, 8, 32946].includes(compression)) return false;
  if (!(predictor === 1 || (predictor === 2 && !isFloat && BYTES[h.dataType] <= 4) || (predictor === 3 && isFloat))) return false;

  const { width, height } = h.grid;
  const spp = h.bandCount;
  const planar = image.planarConfiguration;
  const tiled = image.isTiled;
  const tw = image.getTileWidth();
  const th = image.getTileHeight();
  const across = Math.ceil(width / tw);
  const down = Math.ceil(height / th);
  const offsets = await fd.loadValue(tiled ? 'TileOffsets' : 'StripOffsets') as ArrayLike<number | bigint>;
  const counts = await fd.loadValue(tiled ? 'TileByteCounts' : 'StripByteCounts') as ArrayLike<number | bigint>;
  const bytesPer = BYTES[h.dataType];
  const samplesPerBlockPixel = planar === 1 ? spp : 1;
  const lzw = compression === 5 ? await getDecoder(5, { tileWidth: tw, tileHeight: th, predictor: 1, bitsPerSample: bytesPer * 8, planarConfiguration: planar }) : null;
  const nd = nodataForCompare(h);
  const flip = h.grid.sourceSouthUp;
  const scratch = { buf: new Uint8Array(0) };

  const blocksPerPlane = across * down;
  const planes = planar === 2 ? spp : 1;
  for (let plane = 0; plane < planes; plane++) {
    for (let by = 0; by < down; by++) {
      // Strips end at the image edge; tiles are always full size (padded).
      const rows = tiled ? th : Math.min(th, height - by * th);
      for (let bx = 0; bx < across; bx++) {
        const index = plane * blocksPerPlane + by * across + bx;
        const offset = Number(offsets[index]);
        const count = Number(counts[index]);
        const rowSamples = tw * samplesPerBlockPixel;
        const need = rows * rowSamples * bytesPer;
        let values: SampleArray | null = null;
        if (count > 0) {
          let data: ArrayBuffer;
          let start = 0;
          const raw = new Uint8Array(bytes, offset, count);
          try {
            if (compression === 1) {
              data = bytes; start = offset;
            } else if (lzw) {
              data = await lzw.decodeBlock(raw.slice().buffer) as ArrayBuffer;
            } else {
              const inflated = inflateSync(raw);
              data = inflated.buffer as ArrayBuffer; start = inflated.byteOffset;
            }
          } catch (err) {
            throw new DataError(path, `cannot decode ${h.compression} ${tiled ? 'tile' : 'strip'} ${index} (${describeError(err)}); the file is probably truncated or corrupt`, { cause: err });
          }
          const have = (compression === 1 ? count : data.byteLength - start);
          if (have < need) {
            throw new DataError(path, `truncated data: ${tiled ? 'tile' : 'strip'} ${index} holds ${have} bytes, ${need} expected`);
          }
          // Typed arrays need aligned offsets; predictors modify in place: copy where needed.
          if (start % bytesPer !== 0 || compression === 1 && predictor !== 1) {
            data = data.slice(start, start + need) as ArrayBuffer; start = 0;
          }
          if (predictor === 2) undoHorizontal(data, start, rows, rowSamples, samplesPerBlockPixel, bytesPer);
          else if (predictor === 3) undoFloatingPoint(data, start, rows, rowSamples, samplesPerBlockPixel, bytesPer, scratch);
          values = new Arr(data, start, rows * rowSamples);
        }
        const yEnd = Math.min(rows, height - by * th);
        const xEnd = Math.min(tw, width - bx * tw);
        for (let s = 0; s < (planar === 1 ? spp : 1); s++) {
          const band = planar === 1 ? s : plane;
          const dst = out[band]!;
          const sc = h.scale[band] ?? 1;
          const of = h.offset[band] ?? 0;
          const fill = h.nodata ?? 0;
          for (let r = 0; r < yEnd; r++) {
            const y = by * th + r;
            const dstBase = (flip ? height - 1 - y : y) * width + bx * tw;
            if (values === null) {
              // A missing block (byte count 0) reads as nodata, or 0 without nodata, like GDAL.
              dst.fill(fill === nd || Number.isNaN(fill) ? NaN : fill * sc + of, dstBase, dstBase + xEnd);
              continue;
            }
            copyRow(values, r * rowSamples + s, samplesPerBlockPixel, dst, dstBase, xEnd, nd ?? NaN, sc, of);
          }
        }
      }
    }
  }
  return true;
}

/** One row of samples into the band: nodata (compared raw) -> NaN, else raw * scale + offset. */
function copyRow(values: SampleArray, src: number, stride: number, dst: Float32Array, dstBase: number, n: number, nodata: number, scale: number, offset: number): void {
  if (scale === 1 && offset === 0 && stride === 1 && Number.isNaN(nodata)) {
    // No nodata to compare (v === NaN is never true) and nothing to scale: a block copy, which
    // converts each sample to float32 as the loop's assignment does, at a fraction of its CPU.
    dst.set(values.subarray(src, src + n), dstBase);
  } else if (scale === 1 && offset === 0) {
    for (let c = 0; c < n; c++, src += stride) {
      const v = values[src]!;
      dst[dstBase + c] = v === nodata ? NaN : v;
    }
  } else {
    for (let c = 0; c < n; c++, src += stride) {
      const v = values[src]!;
      dst[dstBase + c] = v === nodata ? NaN : v * scale + offset;
    }
  }
}

/** TIFF predictor 2: each sample is the difference from the same sample of the previous pixel. */
function undoHorizontal(data: ArrayBuffer, start: number, rows: number, rowSamples: number, stride: number, bytesPer: number): void {
  const a = bytesPer === 1 ? new Uint8Array(data, start, rows * rowSamples) : bytesPer === 2 ? new Uint16Array(data, start, rows * rowSamples) : new Uint32Array(data, start, rows * rowSamples);
  for (let r = 0; r < rows; r++) {
    const base = r * rowSamples;
    for (let i = base + stride; i < base + rowSamples; i++) a[i] = a[i]! + a[i - stride]!;
  }
}

/**
 * TIFF predictor 3 (Technical Note 3): per row, bytes were split into planes (most significant
 * first) and byte-differenced; undo the difference, then interleave back to little-endian words.
 */
function undoFloatingPoint(data: ArrayBuffer, start: number, rows: number, rowSamples: number, stride: number, bytesPer: number, scratch: { buf: Uint8Array }): void {
  const rowBytes = rowSamples * bytesPer;
  if (scratch.buf.length < rowBytes) scratch.buf = new Uint8Array(rowBytes);
  const tmp = scratch.buf;
  const all = new Uint8Array(data, start, rows * rowBytes);
  for (let r = 0; r < rows; r++) {
    const row = all.subarray(r * rowBytes, (r + 1) * rowBytes);
    for (let i = stride; i < rowBytes; i++) row[i] = row[i]! + row[i - stride]!; // Uint8Array wraps mod 256
    tmp.set(row);
    if (bytesPer === 4) {
      // Float32, the common case: assemble each word from its four byte planes at once.
      const words = new Uint32Array(data, start + r * rowBytes, rowSamples);
      const n = rowSamples;
      for (let i = 0; i < n; i++) words[i] = ((tmp[i]! << 24) | (tmp[n + i]! << 16) | (tmp[2 * n + i]! << 8) | tmp[3 * n + i]!) >>> 0;
      continue;
    }
    for (let b = 0; b < bytesPer; b++) {
      const plane = (bytesPer - 1 - b) * rowSamples;
      for (let i = 0; i < rowSamples; i++) row[i * bytesPer + b] = tmp[plane + i]!;
    }
  }
}
