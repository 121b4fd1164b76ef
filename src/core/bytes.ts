/**
 * Sizes in bytes as people write and read them: `--memory-budget 8GiB` in, "2.79 GiB" out.
 * One formatter for every log line and error, so a 40 KiB test cube does not read "0.00 GiB".
 */
import { ConfigError } from './errors.js';

const UNITS: Record<string, number> = { b: 1, k: 2 ** 10, kb: 1e3, kib: 2 ** 10, m: 2 ** 20, mb: 1e6, mib: 2 ** 20, g: 2 ** 30, gb: 1e9, gib: 2 ** 30, t: 2 ** 40, tb: 1e12, tib: 2 ** 40 };

/** "8GiB", "512 MiB", "2e9" (bytes) -> bytes; throws a ConfigError naming the value. */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new ConfigError(`memory budget "${text}" is not a size: write e.g. 8GiB, 512MiB or a number of bytes`);
  return Math.floor(Number(m[1]) * unit);
}

/** Bytes in binary units, the largest that leaves at least 1: "2.79 GiB", "40.0 MiB", "12.0 KiB", "512 B". */
export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}
