/**
 * Joining files in time: every hour any file holds, in order, and for each variable which
 * file and index fills each hour. Files may split a period (one file per three years), split
 * the variables (u10 in one file, v10 in another), overlap, or leave gaps.
 *
 * Nothing here throws on a gap or an overlap: they are reported like catalog.ts reports
 * missing and doubled GeoTIFF hours, and the cube builder decides. Overlapping hours are
 * compared: equal values (within the packing precision of both files, since each CDS file
 * packs int16 with its own scale) are read once and said so; differing values are reported
 * as conflicts, and the earlier file (in name order) is the one read.
 */
import { basename } from 'node:path';
import { HOUR_MS, isoMinute } from '../../core/time.js';
import type { Gap } from '../catalog.js';
import { readFrames } from './frames.js';
import type { FileLayout } from './layout.js';
import type { ArrayStore } from './store.js';

/** A run of hours that one file fills for one variable: source indices -> output hours. */
export interface Segment {
  file: number;
  srcStart: number;
  dstStart: number;
  count: number;
}

export interface Overlap {
  /** First and last doubled hour, epoch ms. */
  from: number;
  to: number;
  hours: number;
  /** The files holding these hours (one file twice when its own time axis repeats an hour). */
  files: string[];
  /** The variables doubled. */
  variables: string[];
  /** Same values in every copy (within packing precision): read once. */
  identical: boolean;
}

export interface MissingHours {
  variable: string;
  /** Hours that other variables have and this one lacks. */
  hours: number;
  gaps: Gap[];
}

export interface JoinResult {
  hours: number[];
  gaps: Gap[];
  missing: MissingHours[];
  overlaps: Overlap[];
  /** Per variable, the segments that fill it, in output order. */
  segments: Map<string, Segment[]>;
}

interface Slot {
  file: number;
  index: number;
}

/** Runs of consecutive hours (HOUR_MS apart) in a sorted list, as Gap-like ranges. */
function runs(times: number[]): Gap[] {
  const out: Gap[] = [];
  for (const t of times) {
    const last = out[out.length - 1];
    if (last && t === last.to + HOUR_MS) {
      last.to = t;
      last.hours++;
    } else out.push({ from: t, to: t, hours: 1 });
  }
  return out;
}

export type OpenStore = (file: number) => Promise<ArrayStore>;

/** Every (hour, file, index) of one variable, ordered by hour, then file, then index. */
interface Slots {
  times: Float64Array;
  files: Int32Array;
  indices: Int32Array;
}

function collectSlots(layouts: FileLayout[], name: string, keep: (t: number) => boolean): Slots {
  let n = 0;
  for (const l of layouts) if (l.variables.has(name)) n += l.times.length;
  const times = new Float64Array(n);
  const files = new Int32Array(n);
  const indices = new Int32Array(n);
  let k = 0;
  layouts.forEach((l, file) => {
    if (!l.variables.has(name)) return;
    l.times.forEach((t, index) => {
      if (!keep(t)) return;
      times[k] = t;
      files[k] = file;
      indices[k++] = index;
    });
  });
  const slots = { times: times.subarray(0, k), files: files.subarray(0, k), indices: indices.subarray(0, k) };
  // Files named in time order with rising hours (the usual case) are already in order.
  let sorted = true;
  for (let i = 1; i < k && sorted; i++) sorted = slots.times[i]! > slots.times[i - 1]! || (slots.times[i] === slots.times[i - 1] && slots.files[i]! >= slots.files[i - 1]!);
  if (sorted) return slots;
  const order = Array.from({ length: k }, (_, i) => i).sort((a, b) => slots.times[a]! - slots.times[b]! || slots.files[a]! - slots.files[b]! || slots.indices[a]! - slots.indices[b]!);
  return { times: Float64Array.from(order, (i) => slots.times[i]!), files: Int32Array.from(order, (i) => slots.files[i]!), indices: Int32Array.from(order, (i) => slots.indices[i]!) };
}

/** Join the files' hours for `variables`, keeping the hours `keep` accepts. */
export async function joinFiles(layouts: FileLayout[], variables: string[], open: OpenStore, keep: (t: number) => boolean = () => true): Promise<JoinResult> {
  const slots = new Map(variables.map((name) => [name, collectSlots(layouts, name, keep)]));
  // The union of hours: usually every variable has the same ones, so one pass each suffices.
  const unique = (s: Slots) => s.times.filter((t, i) => i === 0 || t !== s.times[i - 1]);
  const perVariable = variables.map((name) => unique(slots.get(name)!));
  let union = perVariable[0] ?? new Float64Array(0);
  for (const other of perVariable.slice(1)) {
    if (other.length !== union.length || other.some((t, i) => t !== union[i])) union = Float64Array.from(new Set([...union, ...other])).sort();
  }
  const hours = Array.from(union);

  const gaps: Gap[] = [];
  for (let i = 1; i < hours.length; i++) {
    const step = hours[i]! - hours[i - 1]!;
    if (step > HOUR_MS) gaps.push({ from: hours[i - 1]! + HOUR_MS, to: hours[i]! - HOUR_MS, hours: Math.round(step / HOUR_MS) - 1 });
  }

  const missing: MissingHours[] = [];
  const segments = new Map<string, Segment[]>();
  // Per doubled hour: the files involved, the variables, and whether every copy agreed.
  const doubled = new Map<number, { files: Set<number>; variables: Set<string>; identical: boolean }>();
  for (const name of variables) {
    const s = slots.get(name)!;
    const copiesOf = new Map<number, Slot[]>();
    const lacking: number[] = [];
    const list: Segment[] = [];
    let dst = 0;
    for (let i = 0; i < s.times.length;) {
      const t = s.times[i]!;
      let j = i + 1;
      while (j < s.times.length && s.times[j] === t) j++;
      while (hours[dst]! < t) lacking.push(hours[dst++]!);
      const file = s.files[i]!;
      const index = s.indices[i]!;
      const last = list[list.length - 1];
      if (last && last.file === file && last.srcStart + last.count === index && last.dstStart + last.count === dst) last.count++;
      else list.push({ file, srcStart: index, dstStart: dst, count: 1 });
      if (j - i > 1) copiesOf.set(t, Array.from({ length: j - i }, (_, k) => ({ file: s.files[i + k]!, index: s.indices[i + k]! })));
      dst++;
      i = j;
    }
    while (dst < hours.length) lacking.push(hours[dst++]!);
    if (lacking.length > 0) missing.push({ variable: name, hours: lacking.length, gaps: runs(lacking) });
    const agree = await compareCopies(layouts, name, copiesOf, open);
    for (const [t, copies] of copiesOf) {
      const entry = doubled.get(t) ?? { files: new Set<number>(), variables: new Set<string>(), identical: true };
      for (const c of copies) entry.files.add(c.file);
      entry.variables.add(name);
      entry.identical &&= agree.get(t) ?? false;
      doubled.set(t, entry);
    }
    segments.set(name, list);
  }

  const overlaps: Overlap[] = [];
  for (const t of [...doubled.keys()].sort((a, b) => a - b)) {
    const d = doubled.get(t)!;
    const files = [...d.files].sort((a, b) => a - b).map((f) => layouts[f]!.path);
    if (files.length === 1) files.push(files[0]!);
    const vars = [...d.variables].sort();
    const last = overlaps[overlaps.length - 1];
    if (last && last.to + HOUR_MS === t && last.identical === d.identical && last.files.join('\0') === files.join('\0') && last.variables.join('\0') === vars.join('\0')) {
      last.to = t;
      last.hours++;
    } else overlaps.push({ from: t, to: t, hours: 1, files, variables: vars, identical: d.identical });
  }
  return { hours, gaps, missing, overlaps, segments };
}

/**
 * For each doubled hour of a variable, whether every copy equals the first (NaN equals NaN;
 * packed values may differ by half a packing step of each file). Reads only doubled hours.
 * `byHour` holds the copies of each doubled hour in (file, index) order.
 */
async function compareCopies(layouts: FileLayout[], name: string, byHour: Map<number, Slot[]>, open: OpenStore): Promise<Map<number, boolean>> {
  const result = new Map<number, boolean>();
  // Pairs (first copy's file, other copy's file) -> index pairs, read as runs.
  const pairs = new Map<string, { a: number; b: number; items: { t: number; ia: number; ib: number }[] }>();
  for (const [t, copies] of byHour) {
    if (copies.length < 2) continue;
    const sorted = [...copies].sort((x, y) => x.file - y.file || x.index - y.index);
    result.set(t, true);
    for (const other of sorted.slice(1)) {
      const key = `${sorted[0]!.file}:${other.file}`;
      const p = pairs.get(key) ?? { a: sorted[0]!.file, b: other.file, items: [] };
      p.items.push({ t, ia: sorted[0]!.index, ib: other.index });
      pairs.set(key, p);
    }
  }
  for (const { a, b, items } of pairs.values()) {
    const la = layouts[a]!;
    const lb = layouts[b]!;
    const va = la.variables.get(name)!;
    const vb = lb.variables.get(name)!;
    const tolerance = va.packing.precision + vb.packing.precision;
    const cells = la.grid.width * la.grid.height;
    const sa = await open(a);
    const sb = a === b ? sa : await open(b);
    try {
      items.sort((x, y) => x.ia - y.ia);
      for (let i = 0; i < items.length;) {
        let j = i + 1;
        while (j < items.length && items[j]!.ia === items[j - 1]!.ia + 1 && items[j]!.ib === items[j - 1]!.ib + 1) j++;
        const n = j - i;
        const fa = new Float32Array(n * cells);
        const fb = new Float32Array(n * cells);
        await readFrames(sa, la, va, items[i]!.ia, n, { out: fa, outFrame: 0 });
        await readFrames(sb, lb, vb, items[i]!.ib, n, { out: fb, outFrame: 0 });
        for (let k = 0; k < n; k++) {
          let same = true;
          for (let c = k * cells; c < (k + 1) * cells && same; c++) {
            const x = fa[c]!;
            const y = fb[c]!;
            same = x !== x ? y !== y : Math.abs(x - y) <= tolerance + Math.abs(x) * 1e-6;
          }
          if (!same) result.set(items[i + k]!.t, false);
        }
        i = j;
      }
    } finally {
      sa.close();
      if (sb !== sa) sb.close();
    }
  }
  return result;
}

/** One-line descriptions of overlaps, e.g. "2020-01-01T00:00Z..2020-01-01T23:00Z (24 h) in a.nc and b.nc". */
export function describeOverlap(o: Overlap): string {
  const when = o.hours === 1 ? isoMinute(o.from) : `${isoMinute(o.from)}..${isoMinute(o.to)} (${o.hours} h)`;
  const where = o.files[0] === o.files[1] && o.files.length === 2 ? `twice in ${basename(o.files[0]!)}` : `in ${o.files.map((f) => basename(f)).join(' and ')}`;
  return `${when} ${where} (${o.variables.join(', ')})`;
}
