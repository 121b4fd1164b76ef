/**
 * Window records: what an accumulator (metrics.ts, quantile-scores.ts, power-scores.ts) folds
 * into its totals at the end of each window, kept window by window by an evaluate shard, and
 * the counters beside them. Replaying the records in time order (absorb) makes the same
 * additions in the same order as scoring the windows in one process, so a merge of shards is
 * the unsharded result bit for bit, not only up to rounding.
 */

/**
 * What an accumulator did, for an evaluate shard to write and merge to absorb: per window the
 * sums it folds into its totals, and its counters (whole numbers, which add up exactly in any
 * order).
 */
export interface AccumulatorRecords {
  windows: number;
  records: Float64Array;
  counts: number[];
}

/**
 * What an accumulator folds into its totals at the end of each window, window by window
 * (kept only by an evaluate shard): replaying them in time order makes the same additions in
 * the same order as scoring the windows in one process, so a merge of shards is the unsharded
 * result bit for bit, not only up to rounding. Each record is `size` Float64s.
 */
export class WindowRecords {
  count = 0;
  private data = new Float64Array(0);
  constructor(readonly size: number) {}

  push(parts: readonly Float64Array[]): void {
    if ((this.count + 1) * this.size > this.data.length) {
      const grown = new Float64Array(Math.max(64, 2 * (this.count + 1)) * this.size);
      grown.set(this.data);
      this.data = grown;
    }
    let at = this.count * this.size;
    for (const p of parts) {
      this.data.set(p, at);
      at += p.length;
    }
    if (at !== (this.count + 1) * this.size) throw new Error(`a window record holds ${this.size} values, got ${at - this.count * this.size}`);
    this.count++;
  }

  /** Every record so far, one after the other. */
  values(): Float64Array {
    return this.data.slice(0, this.count * this.size);
  }
}

/** Split `records` (WindowRecords.values()) into windows, and each into parts of the given sizes. */
export function* windowRecords(records: Float64Array, sizes: readonly number[]): Generator<Float64Array[]> {
  const size = sizes.reduce((a, b) => a + b, 0);
  if (records.length % size !== 0) throw new Error(`window records of ${size} values expected, got ${records.length} values`);
  for (let at = 0; at < records.length; ) {
    yield sizes.map((s) => {
      const part = records.subarray(at, at + s);
      at += s;
      return part;
    });
  }
}
