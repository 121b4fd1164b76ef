/**
 * Power scores: forecasts and truth both brought to hub height and read through a turbine's
 * power curve (src/power), then the normalised errors of the IEA Wind recommended practice,
 * in % of installed (rated) capacity, per lead:
 *
 *   NMAE  = mean |P_forecast - P_true| / P_rated x 100
 *   NRMSE = sqrt(mean (P_forecast - P_true)^2) / P_rated x 100
 *
 * with the area-weighted pooled mean over every scored (cell, window) pair, as the quantile
 * scores (each cell stands for a turbine of the curve at that place). The model's point
 * forecast (its mean head) goes through the curve, as persistence's and the ridge's do; a
 * quantile checkpoint adds "model-median", its median speed through the curve. The curve is
 * monotone below cut-out, so that is the median of the model's power distribution, the point
 * forecast that minimises the expected absolute error NMAE measures, while the curve of the
 * mean speed is biased wherever the curve bends (below rated it is convex, above it flat). The
 * ridge's Gaussian median is its mean, so the ridge has no second series.
 *
 * Hub height: by default the forecast's own height (no extrapolation). Otherwise the power law
 * (power/hub-height.ts): each forecast's exponent is the observed shear of the same hour
 * yesterday (what the forecaster knows at issue; the same plan as predict), the truth's the
 * observed shear of its own hour (the best estimate of the real hub-height wind); with wind at
 * one height only, both take the default exponent.
 *
 * Sums are kept (sum of w |dP|, w dP^2 and w per lead and forecaster, and per window for the
 * bootstrap of the NMAE skill), so shards merge exactly: each window's sums are formed first and
 * then added to the totals, and an evaluate shard keeps them (recordWindows) for merge to replay.
 */
import type { Cube } from '../ingest/cube.js';
import { ConfigError } from '../core/errors.js';
import { describeCurve, loadPowerCurve, powerKw, type PowerCurve } from '../power/curve.js';
import { planHubHeight, shearExponents, type HubHeightPlan } from '../power/hub-height.js';
import { DEFAULT_SHEAR_EXPONENT, shearExponentBetween } from '../power/shear.js';
import { blockWindowsFor, bootstrapRatioSkill, type SkillInterval, type WindowSums, WindowSumsBuffer } from './bootstrap.js';
import { WindowRecords, windowRecords, type AccumulatorRecords } from './window-records.js';

export const POWER_DEFINITION =
  'NMAE = mean |P_forecast - P_true| / P_rated x 100 and NRMSE = sqrt(mean (P_forecast - P_true)^2) / P_rated x 100 (IEA Wind Task 36 recommended practice), per lead, ' +
  "the area-weighted mean over every scored (cell, window) pair; forecasts and truth at hub height through the power curve (0 kW below cut-in and at or above cut-out, capped at rated); model: the point forecast (its mean head); model-median: its median quantile, the median of its power distribution (the curve is monotone below cut-out), the forecast that minimises absolute error";

export const POWER_NAMES = ['model', 'persistence', 'linear'] as const;
/** With a quantile checkpoint, the model's median speed through the curve too: the median power. */
export const MODEL_MEDIAN = 'model-median';
export const POWER_BASELINES = ['persistence', 'linear'] as const;

export interface PowerForecasterScores {
  /** Per lead, % of rated power. */
  nmae: number[];
  nrmse: number[];
  /** Mean forecast minus true power, % of rated. */
  nbias: number[];
  mean: { nmae: number; nrmse: number; nbias: number };
  /** Per lead: sum of w |dP|, w dP^2 and w dP (kW, kW^2). */
  sums: { absError: number[]; squaredError: number[]; error: number[] };
}

export interface PowerScores {
  names: string[];
  /** Per lead: sum of the area weights and the number of scored pairs. */
  weight: number[];
  scored: number[];
  forecasters: Record<string, PowerForecasterScores>;
}

/** The observed shear exponent of each cell at hour t (the truth's; forecasts use shearExponents). */
function observedExponents(cube: Pick<Cube, 'grid' | 'speed' | 'other'>, plan: HubHeightPlan, t: number, cells: Int32Array, out: Float32Array): void {
  const other = cube.other;
  if (plan.shear !== 'observed' || !other) {
    out.fill(DEFAULT_SHEAR_EXPONENT);
    return;
  }
  const n = cube.grid.width * cube.grid.height;
  for (let i = 0; i < cells.length; i++) {
    const at = t * n + cells[i]!;
    const own = cube.speed[at]!;
    const second = Math.hypot(other.u[at]!, other.v[at]!);
    out[i] = plan.fromHeightM < other.heightM ? shearExponentBetween(own, plan.fromHeightM, second, other.heightM) : shearExponentBetween(second, other.heightM, own, plan.fromHeightM);
  }
}

export class PowerAccumulator {
  readonly names: readonly string[];
  readonly horizon: number;
  private readonly sums: Float64Array;
  private readonly weight: Float64Array;
  private readonly scored: Float64Array;
  private readonly perWindow: WindowSumsBuffer;
  private readonly alphas: Float32Array;
  private readonly truthAlpha: Float32Array;
  private readonly power: Float64Array;
  private readonly lookback: number;
  /** One window's sums: w |dP|, w dP^2, w dP per (lead, forecaster), then w and the count per lead. */
  private readonly win: Float64Array;
  private readonly winWeight: Float64Array;
  private readonly winCount: Float64Array;
  private readonly recorded: WindowRecords | undefined;

  constructor(
    readonly curve: PowerCurve,
    readonly plan: HubHeightPlan,
    o: { names: readonly string[]; horizon: number; cells: number; lookback: number; recordWindows?: boolean },
  ) {
    this.names = [...o.names];
    this.horizon = o.horizon;
    this.perWindow = new WindowSumsBuffer(this.names, this.horizon);
    this.lookback = o.lookback;
    this.sums = new Float64Array(o.horizon * this.names.length * 3);
    this.weight = new Float64Array(o.horizon);
    this.scored = new Float64Array(o.horizon);
    this.alphas = new Float32Array(o.cells * o.horizon);
    this.truthAlpha = new Float32Array(o.cells);
    this.power = new Float64Array(this.names.length + 1);
    this.win = new Float64Array(this.sums.length);
    this.winWeight = new Float64Array(o.horizon);
    this.winCount = new Float64Array(o.horizon);
    this.recorded = o.recordWindows ? new WindowRecords(this.recordSizes().reduce((a, b) => a + b, 0)) : undefined;
  }

  private recordSizes(): number[] {
    return [this.win.length, this.winWeight.length, this.winCount.length, this.horizon * this.names.length];
  }

  /** The windows added so far as records (recordWindows must be set). */
  windowRecords(): AccumulatorRecords {
    if (!this.recorded) throw new Error('windowRecords() needs an accumulator made with recordWindows');
    return { windows: this.recorded.count, records: this.recorded.values(), counts: [] };
  }

  /** Fold another accumulator's windows (windowRecords(), in time order after those added so far) into this one. */
  absorb(r: AccumulatorRecords): void {
    const HF = this.horizon * this.names.length;
    for (const [win, winW, winN, row] of windowRecords(r.records, this.recordSizes())) {
      const w0 = this.perWindow.next();
      this.perWindow.sums.set(row!, w0 * HF);
      this.win.set(win!);
      this.winWeight.set(winW!);
      this.winCount.set(winN!);
      this.closeWindow(w0);
    }
  }

  /** The window's sums into the totals and its row of the bootstrap's window sums; window w0 done. */
  private closeWindow(w0: number): void {
    const H = this.horizon;
    for (let k = 0; k < this.sums.length; k++) this.sums[k]! += this.win[k]!;
    for (let l = 0; l < H; l++) {
      this.weight[l]! += this.winWeight[l]!;
      this.scored[l]! += this.winCount[l]!;
      this.perWindow.weights[w0 * H + l] = this.winWeight[l]!;
    }
    this.perWindow.done();
  }

  /** Add one window: truth and point forecasts [cells x horizon] in m/s at the forecast's height. */
  add(o: { cube: Pick<Cube, 'grid' | 'speed' | 'other'>; t0: number; cells: Int32Array; weights: ArrayLike<number>; truth: Float32Array; forecasts: readonly Float32Array[] }): void {
    const H = this.horizon;
    const F = this.names.length;
    const m = o.cells.length;
    if (o.forecasts.length !== F) throw new Error(`expected ${F} forecasts (${this.names.join(', ')}), got ${o.forecasts.length}`);
    const extrapolate = this.plan.fromHeightM !== this.plan.toHeightM;
    const ratio = this.plan.toHeightM / this.plan.fromHeightM;
    const alphas = this.alphas.subarray(0, m * H);
    if (extrapolate) alphas.set(shearExponents(o.cube, this.plan, o.t0, o.cells, H, this.lookback));
    const w0 = this.perWindow.next();
    const winSums = this.perWindow.sums;
    const { win, winWeight, winCount } = this;
    win.fill(0);
    winWeight.fill(0);
    winCount.fill(0);
    const P = this.power;
    for (let l = 0; l < H; l++) {
      if (extrapolate) observedExponents(o.cube, this.plan, o.t0 + l + 1, o.cells, this.truthAlpha);
      for (let i = 0; i < m; i++) {
        const p = i * H + l;
        const y = o.truth[p]!;
        let ok = Number.isFinite(y);
        for (let f = 0; f < F && ok; f++) ok = Number.isFinite(o.forecasts[f]![p]!);
        if (!ok) continue;
        const fScale = extrapolate ? Math.pow(ratio, alphas[p]!) : 1;
        P[F] = powerKw(this.curve, extrapolate ? y * Math.pow(ratio, this.truthAlpha[i]!) : y);
        for (let f = 0; f < F; f++) P[f] = powerKw(this.curve, o.forecasts[f]![p]! * fScale);
        const w = o.weights[i]!;
        winWeight[l]! += w;
        winCount[l]!++;
        for (let f = 0; f < F; f++) {
          const e = P[f]! - P[F]!;
          const k = (l * F + f) * 3;
          win[k]! += w * Math.abs(e);
          win[k + 1]! += w * e * e;
          win[k + 2]! += w * e;
          winSums[(w0 * H + l) * F + f]! += w * Math.abs(e);
        }
      }
    }
    this.recorded?.push([win, winWeight, winCount, winSums.subarray(w0 * H * F, (w0 + 1) * H * F)]);
    this.closeWindow(w0);
  }

  /** Per window and lead, the sums of w |dP| and of w: the NMAE skill's bootstrap input. */
  windowSums(): WindowSums {
    return this.perWindow.result();
  }

  result(): PowerScores {
    const H = this.horizon;
    const F = this.names.length;
    const rated = this.curve.ratedKw;
    const forecasters: Record<string, PowerForecasterScores> = {};
    const leads = Array.from({ length: H }, (_, l) => l);
    this.names.forEach((name, f) => {
      const at = (l: number, s: number) => this.sums[(l * F + f) * 3 + s]!;
      const per = (l: number, s: number) => (this.weight[l]! > 0 ? at(l, s) / this.weight[l]! : NaN);
      const nmae = leads.map((l) => (100 * per(l, 0)) / rated);
      const nrmse = leads.map((l) => (100 * Math.sqrt(per(l, 1))) / rated);
      const nbias = leads.map((l) => (100 * per(l, 2)) / rated);
      forecasters[name] = {
        nmae,
        nrmse,
        nbias,
        mean: { nmae: mean(nmae), nrmse: mean(nrmse), nbias: mean(nbias) },
        sums: { absError: leads.map((l) => at(l, 0)), squaredError: leads.map((l) => at(l, 1)), error: leads.map((l) => at(l, 2)) },
      };
    });
    return { names: [...this.names], weight: Array.from(this.weight), scored: Array.from(this.scored), forecasters };
  }
}

function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return values.length > 0 ? s / values.length : NaN;
}

/** What the power scores use: the curve and how the forecast reaches hub height. */
export interface PowerPlan {
  curve: PowerCurve;
  plan: HubHeightPlan;
  /** The hub height, metres (null: the forecast's own height, which the data does not name). */
  hubHeightM: number | null;
}

/**
 * The power plan of an evaluation, or undefined without a turbine. The hub height defaults to
 * the forecast's own height; a hub height other than it needs the data to name its height.
 */
export function planPowerScores(settings: { turbine: string | null; hubHeight: number | null }, forecastHeightM: number | null, cube: Pick<Cube, 'other'>): PowerPlan | undefined {
  if (settings.turbine === null) {
    if (settings.hubHeight !== null) throw new ConfigError(`--hub-height ${settings.hubHeight} sets the hub height of the power scores: name a --turbine too`);
    return undefined;
  }
  const curve = loadPowerCurve(settings.turbine);
  if (forecastHeightM === null) {
    if (settings.hubHeight !== null) {
      throw new ConfigError(`--hub-height ${settings.hubHeight}: the checkpoint's data does not say the height of its wind (unnamed GeoTIFF bands), so there is nothing to extrapolate from; leave --hub-height out to score at the forecast's own height`);
    }
    return { curve, plan: { fromHeightM: 1, toHeightM: 1, shear: 'none', note: "the forecast's own height (the data does not say which), no extrapolation" }, hubHeightM: null };
  }
  const hub = settings.hubHeight ?? forecastHeightM;
  return { curve, plan: planHubHeight(cube, forecastHeightM, hub), hubHeightM: hub };
}

export interface PowerSkill {
  perLead: number[];
  mean: number;
  interval?: SkillInterval;
}

export interface PowerReport {
  turbine: { name: string; ratedKw: number; cutInMs: number; cutOutMs: number; description: string };
  hubHeightM: number | null;
  hubHeightNote: string;
  definition: string;
  scores: PowerScores;
  /** NMAE skill of the model, 1 - NMAE_model / NMAE_baseline, with 95 % block-bootstrap intervals. */
  skill: Record<string, PowerSkill>;
  /** The same for the model's median power (a quantile checkpoint). */
  medianSkill?: Record<string, PowerSkill>;
}

/** The report section from a finished accumulator. */
export function powerReport(p: PowerPlan, acc: PowerAccumulator, o: { blockHours: number; stride: number; resamples: number; seed: number }): PowerReport {
  const scores = acc.result();
  const skillOf = (model: string): Record<string, PowerSkill> => {
    const boot = bootstrapRatioSkill({ stats: acc.windowSums(), model, baselines: POWER_BASELINES, blockWindows: blockWindowsFor(o.blockHours, o.stride), resamples: o.resamples, seed: o.seed });
    const s = (m: number, b: number) => (Number.isFinite(m) && Number.isFinite(b) && b > 0 ? 1 - m / b : NaN);
    const m = scores.forecasters[model]!;
    const skill: Record<string, PowerSkill> = {};
    for (const b of POWER_BASELINES) {
      const f = scores.forecasters[b]!;
      skill[b] = { perLead: m.nmae.map((v, l) => s(v, f.nmae[l]!)), mean: s(m.mean.nmae, f.mean.nmae), interval: boot.skill[b]! };
    }
    return skill;
  };
  const c = p.curve;
  return {
    turbine: { name: c.name, ratedKw: c.ratedKw, cutInMs: c.cutInMs, cutOutMs: c.cutOutMs, description: describeCurve(c) },
    hubHeightM: p.hubHeightM,
    hubHeightNote: p.plan.note,
    definition: POWER_DEFINITION,
    scores,
    skill: skillOf('model'),
    ...(scores.names.includes(MODEL_MEDIAN) ? { medianSkill: skillOf(MODEL_MEDIAN) } : {}),
  };
}
