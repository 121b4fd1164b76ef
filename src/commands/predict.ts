/**
 * `windcast predict`: a 24-hour forecast from a trained checkpoint.
 *
 * The command checks everything a user can get wrong, cheapest first, before any heavy work or
 * any write (sites, --at, the checkpoint, --out, the input hours, their grid and their wind:
 * the checkpoint's height and inputs); then reads the lookback hours ending at the issue time
 * (hourly GeoTIFFs on decoder threads, or only those hours of a NetCDF file, glob or Zarr
 * store) while the backend and checkpoint load, and hands over to the stages:
 *  - the whole grid (forecast/grid-forecast.ts), written as one Float32 GeoTIFF per lead or one
 *    multi-band file on the input's exact grid, plus optional PNG maps (a contact sheet and one
 *    map per lead) (output/forecast-files.ts), or
 *  - with --points / --points-file, only the cells around the given sites, written as a CSV
 *    and JSON (output/site-forecasts.ts), no grids.
 * With --shard I/N (grids only) it forecasts only the shard's rows, from the whole input (the
 * neighbourhood rings reach beyond them), and writes them raw into OUT/shard-I-of-N/
 * (output/forecast-shards.ts); `windcast merge` writes the files from the shards.
 * Files are staged and committed by output/forecast-files.ts, so a failed run leaves an
 * earlier forecast as it was. It returns what it did; formatPredictResult (predict-format.ts) prints it. The model
 * and every tensor are disposed in `finally`. bench/predict.ts measures each phase.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { activeBackendInfo, loadBackend, type Tf } from '../runtime/backend.js';
import { isGlob, listCatalog } from '../ingest/catalog.js';
import { selectGriddedHours, selectInputHours, inputCatalog } from '../ingest/input-hours.js';
import { loadCheckpoint, readMeta, resolveCheckpointDir, type CheckpointMeta, type LoadedCheckpoint } from '../model/checkpoint.js';
import { checkDataFits, fileFacts, griddedFacts } from '../model/data-fit.js';
import { useInferencePrecision, type CommandContext } from './context.js';
import { buildCube, griddedCube, inputKind, type Cube, type WindChoice } from '../ingest/cube.js';
import { atHeight, openGridded, requireConsecutiveHours, type GriddedDataset } from '../ingest/gridded.js';
import { DataError, WindcastError } from '../core/errors.js';
import { describeGrid } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import { forecastCells, forecastGrid, quantileLevels } from '../forecast/grid-forecast.js';
import { chooseEngine, onnxEngine, type EngineName } from '../forecast/onnx-engine.js';
import { collectSites, planSite, type Interpolation, type SitePlan } from '../output/points.js';
import { siteCells, siteForecasts, writeSiteFiles, type SiteForecast, type SitePowerInfo } from '../output/site-forecasts.js';
import { commitStaging, discardStaging, forecastStripOptions, leadGeoTiffTasks, modelTag, openStaging, sitesFileStem, writeForecastPictures, writeGeoTiffs, type ForecastTags } from '../output/forecast-files.js';
import { capacityFactorMaps } from '../output/power-maps.js';
import { writeForecastShard, type ShardProduct } from '../output/forecast-shards.js';
import { StripEncoder, type EncodeTask, type StripCounts } from '../output/strip-encoder.js';
import { describeShard, runtimeIdentity, shardRange, type Shard } from '../core/shard.js';
import { airDensityNote, airSource, hubPlan, planPower, powerInfo, readAir, siteValues, type AirSource, type PowerPlan } from './predict-power.js';
import { writeFanCharts } from '../output/fan-chart.js';
import { readRasterHeader, type RasterHeader } from '../ingest/raster.js';
import { HOUR_MS, isoHour, parseIsoHour } from '../core/time.js';
import type { Config } from '../core/config.js';

export interface PredictArgs {
  /** Checkpoint folder, or a run folder (best/ is used, else last/). */
  model: string;
  /** Hourly GeoTIFFs (a folder or glob), or a NetCDF file, glob or folder, or a Zarr store. */
  data: string;
  /** Output folder (created if missing). */
  out: string;
  /** Issue time, an ISO hour; default the latest hour in the data. */
  at?: string;
  /** --points values: "LAT,LON" or "NAME=LAT,LON". */
  points?: string[];
  /** --points-file CSV. */
  pointsFile?: string;
  /** --shard: forecast only this shard's rows of the grid, into OUT/shard-I-of-N/ for `windcast merge`. */
  shard?: Shard;
}

export interface LeadSummary {
  lead: number;
  validTime: string;
  /** Output file (single-band mode). */
  file?: string;
  /** m/s over cells with data. */
  min: number;
  mean: number;
  max: number;
  nodataCells: number;
}

export interface PredictResult {
  checkpoint: string;
  run: string;
  backend: string;
  /** What ran the network: tfjs on `backend`, or onnxruntime (predict.engine). */
  engine: EngineName;
  issueTime: string;
  lookbackHours: number;
  horizonHours: number;
  inputs: { first: string; last: string; files: string[] };
  grid: string;
  mode: 'grid' | 'points';
  out: string;
  /** Every file written, final paths. */
  files: string[];
  leads: LeadSummary[];
  multiband?: string;
  png?: string;
  /** Capacity-factor GeoTIFFs (--capacity-factor-maps), final paths. */
  capacityFactorFiles?: string[];
  /** The checkpoint's quantile levels (absent for a point model). */
  quantileLevels?: number[];
  /** Quantile GeoTIFFs (grids), final paths. */
  quantileFiles?: string[];
  /** A fan chart per site (sites, quantile model): the PNGs, each with an SVG of the same name. */
  fanCharts?: string[];
  /** Hub height, turbine and air density, when a turbine or a hub height was asked for. */
  power?: SitePowerInfo;
  interpolation?: Interpolation;
  sites?: SiteForecast[];
  csv?: string;
  json?: string;
  cellsForecast: number;
  /** Wall seconds; `read` covers decoding the inputs and, in parallel, `load` (backend + checkpoint). */
  seconds: { read: number; load: number; forecast: number; write: number; total: number };
  /**
   * CPU seconds (user + system, every thread of the process) of the same phases: `read` holds
   * the loading beside it. On a shared machine wall time swings with the load, CPU time much less.
   */
  cpuSeconds: { read: number; forecast: number; write: number; total: number };
  /** Peak resident memory of the process so far, MiB. */
  peakRssMiB: number;
  /**
   * The GeoTIFFs' strips (grids, unsharded): how many were encoded during the forecast (on a
   * writer thread, from rows already final) and in all, and the writer threads' summed seconds.
   */
  geoTiffStrips?: StripCounts;
  /** With --shard: which shard, its rows and its folder (the grid files are written by `windcast merge`). */
  shard?: { index: number; count: number; rows: [number, number]; dir: string };
}

/** The input hours, located and checked, not yet read. */
type PredictInput =
  | { kind: 'geotiff'; catalog: Awaited<ReturnType<typeof listCatalog>>; entries: ReturnType<typeof selectInputHours>['entries']; reference: RasterHeader }
  | { kind: 'gridded'; dataset: GriddedDataset };

/** Everything checked before any heavy work: what to forecast, from what, into where. */
interface PredictPlan {
  out: string;
  checkpoint: string;
  meta: CheckpointMeta;
  plans: SitePlan[];
  issueMs: number;
  input: PredictInput;
  /** The checkpoint's target height; every wind variable is read (the features pick theirs). */
  wind: WindChoice;
  /** The input hours and the files that hold them. */
  inputs: PredictResult['inputs'];
  /** The turbine and hub height (predict-power.ts). */
  power: PowerPlan;
  /** Where the input hours' temperature and pressure are (gridded input with t2m and sp, a turbine, airDensity auto). */
  air?: AirSource;
}

/** The cheap checks, cheapest first; throws the first problem. */
async function planPredict(args: PredictArgs, config: Config, progress: Progress): Promise<PredictPlan> {
  const pc = config.predict;
  const out = resolve(args.out);
  const sites = collectSites(args.points, args.pointsFile);
  const atMs = args.at !== undefined ? parseIsoHour(args.at, '--at') : undefined;
  const checkpoint = resolveCheckpointDir(args.model, 'best');
  const meta = readMeta(checkpoint);
  const plans = sites.map((s) => planSite(meta.grid, s, pc.interpolation));
  if (plans.length > 0 && (pc.png || pc.multiband)) progress.log('sites only: no grids are written, so --png and --multiband do not apply');
  if (args.shard && plans.length > 0) throw new WindcastError('usage', '--shard splits the rows of the grid; a site forecast (--points, --points-file) reads a few cells and is not sharded');
  if (args.shard && args.shard.count > meta.grid.height) throw new WindcastError('usage', `--shard ${args.shard.index}/${args.shard.count}: the grid has ${meta.grid.height} rows, fewer than the ${args.shard.count} shards`);
  const power = planPower(config, meta, plans.length > 0, progress);
  if (existsSync(out) && !statSync(out).isDirectory()) throw new DataError(out, '--out exists and is not a folder');
  const dataDir = resolve(isGlob(args.data) ? dirname(args.data) : args.data);
  if (dataDir === out) {
    // Lead files are named by valid hour: the next catalog of --data would read them as observations.
    throw new WindcastError('usage', `--out ${args.out} is the data folder; write forecasts to a folder of their own`);
  }
  const lookback = meta.features.lookback;
  // The checkpoint decides what is read, never the config: its height, and all the wind.
  const wind: WindChoice = { targetHeight: meta.features.heightM ?? 'auto', variables: null };
  const base = { out, checkpoint, meta, plans, wind, power };
  if (inputKind(args.data, config.ingest.glob) === 'gridded') {
    // Only the period is read; without --at, the whole data is opened first for its last hour.
    const whole = atMs === undefined ? await openGridded(args.data) : undefined;
    const { issueMs, from, to } = whole ? selectGriddedHours(whole, lookback, undefined) : periodEnding(atMs!, lookback);
    const period = await openGridded(args.data, { from, to });
    checkDataFits(meta, griddedFacts(period));
    selectGriddedHours(period, lookback, issueMs);
    requireConsecutiveHours(period);
    const height = meta.features.heightM;
    const dataset = height != null && period.speed.height !== height ? atHeight(period, height) : period;
    const files = dataset.files.filter((f) => f.end >= from && f.start <= to).map((f) => f.path);
    const air = airSource(config, power, args.data, period, from, to);
    return { ...base, issueMs, input: { kind: 'gridded', dataset }, inputs: { first: isoHour(from), last: isoHour(to), files }, ...(air ? { air } : {}) };
  }
  const catalog = await listCatalog(args.data, { glob: config.ingest.glob, timePattern: config.ingest.timePattern });
  const { issueMs, entries } = selectInputHours(catalog, lookback, atMs);
  const reference = await readRasterHeader(entries[0]!.path);
  checkDataFits(meta, fileFacts(reference));
  const inputs = { first: isoHour(entries[0]!.time), last: isoHour(entries[entries.length - 1]!.time), files: entries.map((e) => e.path) };
  return { ...base, issueMs, input: { kind: 'geotiff', catalog, entries, reference }, inputs };
}

/** The lookback hours ending at an issue hour, as a period to read. */
function periodEnding(issueMs: number, lookback: number): { issueMs: number; from: number; to: number } {
  return { issueMs, from: issueMs - (lookback - 1) * HOUR_MS, to: issueMs };
}

/** The input hours as a cube on the model's grid, with the checkpoint's target height. */
function readInputs(plan: PredictPlan, config: Config, progress: Progress): Promise<Cube> {
  const { input } = plan;
  if (input.kind === 'gridded') return griddedCube(input.dataset, progress);
  return buildCube(inputCatalog(input.catalog, input.entries), { cache: false, cacheEncoding: 'float32', workers: config.ingest.workers, wind: plan.wind }, progress);
}

/**
 * Read the input hours (decoder threads for GeoTIFFs) while the backend and the model load on
 * this thread. No cube cache: 24 hours read in about a second, and predict must not write into --data.
 */
async function readAndLoad(plan: PredictPlan, config: Config, progress: Progress): Promise<{ cube: Cube; tf: Tf; backend: string; loaded: LoadedCheckpoint; loadSeconds: number }> {
  const loadStart = performance.now();
  let loadSeconds = 0;
  const loading = (async () => {
    const backend = await loadBackend(config.runtime.backend, (line) => progress.log(line));
    useInferencePrecision(backend.tf, config.runtime.inferencePrecision);
    const loaded = await loadCheckpoint(backend.tf, plan.checkpoint, 'best');
    loadSeconds = elapsed(loadStart);
    return { ...backend, loaded };
  })();
  const reading = readInputs(plan, config, progress);
  const [readOutcome, loadOutcome] = await Promise.allSettled([reading, loading]);
  if (readOutcome.status === 'rejected' || loadOutcome.status === 'rejected') {
    if (loadOutcome.status === 'fulfilled') loadOutcome.value.loaded.model.dispose();
    throw readOutcome.status === 'rejected' ? readOutcome.reason : (loadOutcome as PromiseRejectedResult).reason;
  }
  const { tf, info, loaded } = loadOutcome.value;
  return { cube: readOutcome.value, tf, backend: info.name + (config.runtime.inferencePrecision === 'bf16' ? ' (LSTM products in bf16)' : ''), loaded, loadSeconds };
}

export async function predict(args: PredictArgs, ctx: CommandContext): Promise<PredictResult> {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const { config, progress } = ctx;
  const pc = config.predict;
  const readStart = performance.now();
  const plan = await planPredict(args, config, progress);
  const { out, meta, issueMs, inputs } = plan;
  const { curve } = plan.power;
  const { cube, tf, backend, loaded, loadSeconds } = await readAndLoad(plan, config, progress);
  const readSeconds = elapsed(readStart);
  const readCpu = cpuSecondsSince(cpuStarted);
  const lookback = meta.features.lookback;
  const horizon = meta.features.horizon;
  const t0 = lookback - 1;
  const engineName = chooseEngine(pc.engine, tf.getBackend());
  // At the backend's threads, so the engines compare at equal threads.
  const engine = engineName === 'onnx' ? await onnxEngine(loaded, { threads: activeBackendInfo()?.threads ?? 1 }).catch((err: unknown) => { loaded.model.dispose(); throw err; }) : undefined;
  const issued = { tf, loaded, cube, t0, batchCells: pc.batchCells, ...(engine ? { engine } : {}) };
  const validTimes = Array.from({ length: horizon }, (_, j) => isoHour(issueMs + (j + 1) * HOUR_MS));
  const forecastHeight = meta.features.heightM ?? null;
  const levels = quantileLevels(loaded);
  const Q = levels.length;
  const air = plan.air ? await readAir(plan.air, cube) : undefined;
  const hub = hubPlan(cube, meta, plan.power);
  const power = powerInfo(config, meta, plan.power, hub, air);
  const base = {
    checkpoint: plan.checkpoint,
    run: meta.run,
    backend,
    engine: engineName,
    issueTime: isoHour(issueMs),
    lookbackHours: lookback,
    horizonHours: horizon,
    inputs,
    grid: describeGrid(cube.grid),
    out,
    ...(power ? { power } : {}),
    ...(levels.length > 0 ? { quantileLevels: [...levels] } : {}),
  };
  let forecastCpu = 0;
  let writeCpuStart = cpuStarted;
  /** Marks the end of the forecast phase (and the start of the write phase) for cpuSeconds. */
  const forecastDone = () => {
    writeCpuStart = process.cpuUsage();
    forecastCpu = cpuSecondsSince(cpuStarted) - readCpu;
  };
  const seconds = (forecast: number, write: number) => ({ read: readSeconds, load: loadSeconds, forecast, write, total: elapsed(started) });
  const cpuSeconds = () => ({ read: readCpu, forecast: round2(forecastCpu), write: cpuSecondsSince(writeCpuStart), total: cpuSecondsSince(cpuStarted) });

  let staging: string | undefined;
  let encoder: StripEncoder | undefined;
  try {
    if (plan.plans.length > 0) {
      // ---- Sites only: forecast the (up to four) cells under each site.
      const fStart = performance.now();
      const cells = siteCells(plan.plans);
      const quantiles = Q > 0 ? new Float32Array(cells.length * horizon * Q) : undefined;
      const speeds = await forecastCells(issued, cells, quantiles);
      const values = siteValues({ cube, hub, curve, air, t0, lookback, horizon, cells, speeds, ...(quantiles ? { quantiles } : {}), levels });
      const sites = siteForecasts(plan.plans, cells, values);
      const forecastSeconds = elapsed(fStart);
      forecastDone();
      const wStart = performance.now();
      staging = openStaging(out);
      const stem = sitesFileStem(issueMs);
      const issueTime = isoHour(issueMs);
      writeSiteFiles({ dir: staging, stem, sites, interpolation: pc.interpolation, issueTime, validTimes, run: meta.run, checkpoint: plan.checkpoint, quantileLevels: levels, ...(power ? { power } : {}) });
      // A fan chart per site: PNG and SVG of the same name.
      const turbine = curve ? { turbine: { name: curve.name, ratedKw: curve.ratedKw } } : {};
      const charts = Q > 0 ? (await writeFanCharts(staging, sites, { levels, issueTime, run: meta.run, forecastHeightM: forecastHeight, ...turbine })).map((n) => join(out, n)) : [];
      const files = commitStaging(staging, out);
      return {
        ...base,
        mode: 'points',
        files,
        leads: validTimes.map((v, j) => {
          const vals = sites.map((s) => s.speeds[j]).filter((x): x is number => x !== null);
          return { lead: j + 1, validTime: v, min: Math.min(...vals), mean: vals.reduce((a, b) => a + b, 0) / Math.max(1, vals.length), max: Math.max(...vals), nodataCells: sites.length - vals.length };
        }),
        interpolation: pc.interpolation,
        sites,
        csv: join(out, `${stem}.csv`),
        json: join(out, `${stem}.json`),
        ...(charts.length > 0 ? { fanCharts: charts } : {}),
        cellsForecast: cells.length,
        seconds: seconds(forecastSeconds, elapsed(wStart)),
        cpuSeconds: cpuSeconds(),
        peakRssMiB: peakRssMiB(),
      };
    }

    // ---- The whole grid (or, with --shard, this shard's rows of it).
    const fStart = performance.now();
    const rows = args.shard ? shardRange(cube.grid.height, args.shard) : undefined;
    // Nodata where the input had nodata: the input's own nodata value when it had one.
    const inputNodata = plan.input.kind === 'geotiff' ? plan.input.reference.nodata : null;
    // The GeoTIFFs' strips are encoded on a writer thread while the model forecasts later rows
    // (output/strip-encoder.ts); the strips' bytes depend on the nodata value only through
    // inputNodata (NaN cells stay NaN otherwise), known already. Shards write raw rows instead.
    const streaming = args.shard ? undefined : (encoder = StripEncoder.open({ busyThreads: 1 }));
    let tracked = false;
    const rowsFinal = streaming
      ? (final: number, fields: { leads: Float32Array[]; quantileLeads?: Float32Array[][] }) => {
          if (!tracked) {
            const stripOptions = forecastStripOptions(cube.grid, inputNodata, pc.compress);
            streaming.track(fields.leads, stripOptions);
            if (fields.quantileLeads) streaming.track(fields.quantileLeads.flat(), stripOptions);
            tracked = true;
          }
          streaming.rowsFinal(final);
        }
      : undefined;
    const { leads, quantileLeads, cellsForecast } = await forecastGrid(issued, progress, { quantiles: pc.quantileMaps, ...(rows ? { rows } : {}), ...(rowsFinal ? { rowsFinal } : {}) });
    const forecastSeconds = elapsed(fStart);
    forecastDone();
    const wStart = performance.now();
    const summaries: LeadSummary[] = leads.map((f, j) => ({ lead: j + 1, validTime: validTimes[j]!, ...leadStats(f) }));
    const anyNodata = summaries.some((s) => s.nodataCells > 0);
    const nodata = inputNodata !== null ? inputNodata : anyNodata ? NaN : null;
    const tags: ForecastTags = { issueMs, run: meta.run, model: modelTag(meta), inputs, validTimes };
    // Every product of the forecast: the wind speed, its quantiles, the capacity factor.
    const products: ShardProduct[] = [{ name: 'windspeed.f32', leads }];
    if (quantileLeads) {
      const product = {
        prefix: 'windspeed-quantiles',
        quantity: 'wind speed',
        units: 'm/s',
        bandLabels: levels.map((l) => `q${l}`),
        labelMetadata: levels.map((l) => ({ QUANTILE: String(l) })),
        metadata: { QUANTILE_LEVELS: levels.join(','), QUANTILES: 'one band per level, non-decreasing band to band; the point forecast (mean) is in the windspeed_ files' },
      };
      products.push({ name: 'windspeed-quantiles.f32', product, leads: quantileLeads });
    }
    if (pc.capacityFactorMaps && curve) {
      const densityHeightM = hub?.toHeightM ?? forecastHeight ?? 100;
      const maps = capacityFactorMaps({ curve, hub, cube, leads, t0, lookback, ...(air ? { air } : {}), airDensity: airDensityNote(config, air), densityHeightM });
      products.push({ name: 'capacity-factor.f32', ...maps });
    }
    if (args.shard && rows) {
      const dir = writeForecastShard({
        out,
        shard: args.shard,
        rows,
        identity: shardIdentity(plan, config, backend),
        write: { grid: cube.grid, inputNodata, compress: pc.compress, multiband: pc.multiband, png: pc.png, tags },
        cellsForecast,
        products,
      });
      progress.log(`${describeShard(args.shard)}: rows ${rows[0]}..${rows[1] - 1} of ${cube.grid.height} in ${dir}; \`windcast merge ${out}\` writes the forecast once every shard is done`);
      return {
        ...base,
        mode: 'grid',
        files: readdirSync(dir).map((name) => join(dir, name)),
        leads: summaries,
        cellsForecast,
        seconds: seconds(forecastSeconds, elapsed(wStart)),
        cpuSeconds: cpuSeconds(),
        peakRssMiB: peakRssMiB(),
        shard: { ...args.shard, rows, dir },
      };
    }
    staging = openStaging(out);
    const common = { staging, out, grid: cube.grid, nodata, compress: pc.compress, multiband: pc.multiband, tags };
    const tasks: EncodeTask[] = [];
    const written: Record<string, string[]> = {};
    for (const p of products) {
      const made = leadGeoTiffTasks({ ...common, leads: p.leads, ...(p.product ? { product: p.product } : {}) });
      tasks.push(...made.tasks);
      written[p.product?.prefix ?? 'windspeed'] = made.files;
    }
    const tiffs = written['windspeed']!;
    if (!pc.multiband) summaries.forEach((s, j) => (s.file = tiffs[j]));
    const quantileFiles = written['windspeed-quantiles'];
    const capacityFactorFiles = written['capacity-factor'];
    const writeTask = progress.start({ unit: 'files', total: tasks.length, label: 'writing GeoTIFFs' });
    // The maps are drawn on this thread while the writer threads compress.
    const writing = writeGeoTiffs(tasks, writeTask, encoder);
    let png: string | undefined;
    try {
      if (pc.png) png = await writeForecastPictures({ dir: staging, issueMs, run: meta.run, grid: cube.grid, leads, validTimes });
    } finally {
      await writing.catch(() => {});
    }
    await writing;
    writeTask.done();
    const files = commitStaging(staging, out);
    return {
      ...base,
      mode: 'grid',
      files,
      leads: summaries,
      ...(pc.multiband ? { multiband: tiffs[0]! } : {}),
      ...(png ? { png: join(out, png) } : {}),
      ...(capacityFactorFiles ? { capacityFactorFiles } : {}),
      ...(quantileFiles ? { quantileFiles } : {}),
      cellsForecast,
      seconds: seconds(forecastSeconds, elapsed(wStart)),
      cpuSeconds: cpuSeconds(),
      peakRssMiB: peakRssMiB(),
      ...(encoder ? { geoTiffStrips: encoder.stats() } : {}),
    };
  } finally {
    await encoder?.close();
    loaded.model.dispose();
    await engine?.release();
    if (staging) discardStaging(staging);
  }
}

/**
 * What every shard of one sharded predict must share, so that merge refuses shards of
 * different checkpoints, inputs, issue times or settings: the checkpoint by its meta.json's
 * hash (paths may differ between the machines of a cluster), the input hours by name.
 */
function shardIdentity(plan: PredictPlan, config: Config, backend: string): Record<string, unknown> {
  const pc = config.predict;
  return {
    checkpoint: `${plan.meta.run}/${plan.meta.kind}@epoch${plan.meta.epoch}`,
    checkpointMetaSha256: createHash('sha256').update(readFileSync(join(plan.checkpoint, 'meta.json'))).digest('hex'),
    issueTime: isoHour(plan.issueMs),
    inputHours: `${plan.inputs.first}..${plan.inputs.last}`,
    inputFiles: plan.inputs.files.map((f) => basename(f)),
    settings: { multiband: pc.multiband, png: pc.png, compress: pc.compress, quantileMaps: pc.quantileMaps, capacityFactorMaps: pc.capacityFactorMaps, turbine: pc.turbine, hubHeight: pc.hubHeight, airDensity: pc.airDensity },
    runtime: runtimeIdentity(config.runtime),
    backend,
  };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function cpuSecondsSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return round2((d.user + d.system) / 1e6);
}

function elapsed(since: number): number {
  return Math.round((performance.now() - since) / 10) / 100;
}

function peakRssMiB(): number {
  // maxRSS is in KiB on Linux and macOS.
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

function leadStats(frame: Float32Array): { min: number; mean: number; max: number; nodataCells: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  let nodata = 0;
  for (let i = 0; i < frame.length; i++) {
    const v = frame[i]!;
    if (v !== v) {
      nodata++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    n++;
  }
  return { min: n ? min : NaN, mean: n ? sum / n : NaN, max: n ? max : NaN, nodataCells: nodata };
}
