/** Number and table formatting shared by the Markdown report's sections. */
import type { Interval } from './bootstrap.js';

export function f2(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(2) : 'n/a';
}

export function f3(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(3) : 'n/a';
}

export function pct(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)} %` : 'n/a';
}

/** "4.3 % [3.1, 5.6]": a skill and its interval, in percent. */
export function skillWithInterval(skill: number | null | undefined, interval: Interval | null | undefined): string {
  const p = pct(skill);
  if (!interval || !interval.every((v) => typeof v === 'number' && Number.isFinite(v))) return p;
  return `${p} [${(interval[0] * 100).toFixed(1)}, ${(interval[1] * 100).toFixed(1)}]`;
}

export function table(header: string[], rows: string[][], alignRightFrom = 1): string {
  const align = header.map((_, i) => (i >= alignRightFrom ? '---:' : ':---'));
  // A literal | inside a cell (e.g. "|lat| < 23.5") would split it: escape it.
  const cell = (c: string) => c.replace(/\|/g, '\\|');
  return [header.map(cell), align, ...rows.map((r) => r.map(cell))].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

