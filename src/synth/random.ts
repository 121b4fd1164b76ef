/**
 * Seeded randomness for the generator: an integer hash of the seed and lattice coordinates
 * gives every lattice point and every weather system its random numbers (no Math.random), so
 * any value can be computed alone, in any order, on any thread; plus smooth value noise.
 */

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of up to four integers and the seed, as an unsigned 32-bit integer. */
export function hash32(seed: number, a: number, b = 0, c = 0, d = 0): number {
  let h = mix32(seed ^ 0x9e3779b9);
  h = mix32((h + Math.imul(a | 0, 0x85ebca6b)) | 0);
  h = mix32((h + Math.imul(b | 0, 0xc2b2ae35)) | 0);
  h = mix32((h + Math.imul(c | 0, 0x27d4eb2f)) | 0);
  h = mix32((h + Math.imul(d | 0, 0x165667b1)) | 0);
  return h;
}

/** Uniform in [0, 1) from a hash. */
export function unit(seed: number, a: number, b = 0, c = 0, d = 0): number {
  return hash32(seed, a, b, c, d) / 4294967296;
}

/** Smoothstep 3t^2 - 2t^3: the interpolation weight of value noise (flat at lattice points). */
export function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

/**
 * Smooth value noise on an integer lattice in (x, y), wrapping x with period `wrap` lattice
 * cells; values in about [-1.7, 1.7] with unit variance at lattice points.
 */
export function valueNoise2(seed: number, stream: number, x: number, y: number, wrap: number): number {
  const x0 = Math.floor(x), y0 = Math.floor(y);
  const fx = smooth(x - x0), fy = smooth(y - y0);
  const xa = ((x0 % wrap) + wrap) % wrap, xb = (xa + 1) % wrap;
  const v = (ix: number, iy: number) => (unit(seed, stream, ix, iy) * 2 - 1) * 1.7320508;
  const top = v(xa, y0) * (1 - fx) + v(xb, y0) * fx;
  const bot = v(xa, y0 + 1) * (1 - fx) + v(xb, y0 + 1) * fx;
  return top * (1 - fy) + bot * fy;
}
