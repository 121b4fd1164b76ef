/**
 * Commander wiring only: flags, help, and the mapping of flags onto the config. A flag that
 * sets a config key is declared once with configFlag, which takes its help default and its
 * choices from the schema (commander holds no defaults of its own). Each command's work lives in src/commands/<name>.ts and is imported when it runs,
 * so `windcast --help` never loads TensorFlow.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULTS as defaults, keyChoices, loadConfig, parseConfig, type Config } from './core/config.js';
import type { CommandContext } from './commands/context.js';
import { streamProgress, silentProgress } from './core/progress.js';
import { describeError } from './core/errors.js';
import { parseShard, type Shard } from './core/shard.js';

function int(name: string, min = -Infinity) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer${min > -Infinity ? ` >= ${min}` : ''}, got "${value}"`);
    return n;
  };
}

function num(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${value}"`);
    return n;
  };
}

function positive(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a positive number, got "${value}"`);
    return n;
  };
}

function bbox(value: string): [number, number, number, number] {
  const parts = value.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 4 || parts.some((n) => !Number.isFinite(n))) {
    throw new InvalidArgumentError(`--bbox must be W,S,E,N in degrees, got "${value}"`);
  }
  const [w, s, e, n] = parts as [number, number, number, number];
  if (s >= n || s < -90 || n > 90) throw new InvalidArgumentError(`--bbox needs -90 <= S < N <= 90, got "${value}"`);
  if (w === e) throw new InvalidArgumentError(`--bbox needs W != E, got "${value}"`);
  return [w, s, e, n];
}

function runName(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value)) {
    throw new InvalidArgumentError(`--run must be a plain name (letters, digits, . _ -), got "${value}"`);
  }
  return value;
}

function targetHeight(value: string): 'auto' | 10 | 100 {
  if (value === 'auto') return 'auto';
  if (value === '10' || value === '100') return Number(value) as 10 | 100;
  throw new InvalidArgumentError(`--target-height must be 10, 100 or auto, got "${value}"`);
}

function variableList(value: string): string[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new InvalidArgumentError(`--variables must name variables, e.g. u100,v100,u10,v10, got "${value}"`);
  return names;
}

/** --shard I/N, auto or auto/N (core/shard.ts), read when the flag is parsed. */
function shardFlag(value: string): Shard {
  try {
    return parseShard(value);
  } catch (err) {
    throw new InvalidArgumentError(describeError(err));
  }
}

const SHARD_HELP = 'do shard I of N (0-based) for `windcast merge`: I/N, or auto (index from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID, count from WINDCAST_SHARD_COUNT or SLURM_ARRAY_TASK_COUNT), or auto/N';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

interface GlobalOptions {
  config?: string;
  verbose?: boolean;
  quiet?: boolean;
}

/** Where a flag's value goes in the config; `value` turns the flag's value into the key's. */
interface Binding {
  section: keyof Config;
  key: string;
  value?: (flagValue: unknown) => unknown;
}

const bindings = new WeakMap<Option, Binding>();

function formatDefault(value: unknown): string {
  if (Array.isArray(value)) return value.join(',');
  return value === null ? 'none' : String(value);
}

/**
 * A flag that sets one config key: its help ends with the schema's default, an enum key's
 * values are its choices, and buildContext writes its value over the config file's.
 */
function configFlag<S extends keyof Config>(
  flags: string,
  description: string,
  section: S,
  key: keyof Config[S] & string,
  extra: { parse?: (value: string) => unknown; defaultText?: string; value?: (flagValue: unknown) => unknown } = {},
): Option {
  const option = new Option(flags, `${description} (default: ${extra.defaultText ?? formatDefault((defaults[section] as Record<string, unknown>)[key])})`);
  const choices = keyChoices(section, key);
  if (choices && !extra.value) option.choices(choices);
  if (extra.parse) option.argParser(extra.parse);
  bindings.set(option, { section, key, ...(extra.value ? { value: extra.value } : {}) });
  return option;
}

const backendFlag = () => configFlag('--backend <name>', 'TensorFlow.js backend', 'runtime', 'backend');
const precisionFlag = () =>
  configFlag('--precision <p>', 'precision of the LSTM\'s products when forecasting: bf16 (bfloat16 products, fp32 sums; CPUs with AVX512_BF16) or fp32', 'runtime', 'inferencePrecision');
const targetHeightFlag = () =>
  configFlag('--target-height <m>', 'height of the wind speed to forecast, 10 or 100 m; auto: 100 m when the data has it (hub height), else 10 m', 'ingest', 'targetHeight', { parse: targetHeight });
const variablesFlag = () =>
  configFlag('--variables <names>', 'variables to read, comma-separated ERA5 names (u100,v100,u10,v10,si10) or the files\' own', 'ingest', 'variables', { parse: variableList, defaultText: 'all the wind there is' });
/** What --data (and inspect's argument) may be. */
const DATA_HELP = 'hourly GeoTIFFs (a folder or glob), or ERA5 NetCDF (a file, a glob or a folder of them) or a Zarr store';
const modelsDirFlag = () => configFlag('--models-dir <dir>', 'folder holding the runs', 'runtime', 'modelsDir');
const memoryBudgetFlag = () => configFlag('--memory-budget <size>', 'memory the data cube may take, e.g. 8GiB', 'runtime', 'memoryBudget', { defaultText: 'what the machine has available' });

/** The config file (or the schema's defaults) with the command's flags written over it. */
function buildContext(program: Command, command: Command): CommandContext {
  const globals = program.opts<GlobalOptions>();
  const merged = loadConfig(globals.config) as unknown as Record<string, Record<string, unknown>>;
  for (const option of command.options) {
    const binding = bindings.get(option);
    const value = command.getOptionValue(option.attributeName());
    // commander gives a --no-x flag the value true when it is absent: that must not write over
    // the config file's key.
    if (!binding || value === undefined || command.getOptionValueSource(option.attributeName()) === 'default') continue;
    merged[binding.section]![binding.key] = binding.value ? binding.value(value) : value;
  }
  const config = parseConfig(merged, 'command-line flags');
  return {
    config,
    progress: globals.quiet ? silentProgress : streamProgress(process.stderr),
    verbose: Boolean(globals.verbose),
  };
}

/** Every flag that sets a config key, per command: the help test checks each shows its default. */
export function flagBindings(program: Command): { command: string; flag: string; section: keyof Config; key: string }[] {
  return program.commands.flatMap((command) =>
    command.options.flatMap((option) => {
      const binding = bindings.get(option);
      return binding ? [{ command: command.name(), flag: option.long ?? option.flags, section: binding.section, key: binding.key }] : [];
    }),
  );
}

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

export function buildProgram(): Command {
  const program = new Command();
  const { lookback, horizon } = defaults.model;
  program
    .name('windcast')
    .description('Learn to forecast hourly wind speed from global lat/lon GeoTIFF grids.')
    .option('--config <file>', 'JSON file of overrides; keys it leaves out take the defaults each command\'s --help shows (default: none)')
    .option('-v, --verbose', 'show stack traces and extra detail')
    .option('-q, --quiet', 'no progress output')
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('synth')
    .description('Write a realistic synthetic hourly global wind dataset as GeoTIFFs (ERA5 layout).')
    .requiredOption('--out <dir>', 'output folder')
    .addOption(configFlag('--hours <n>', 'hours to generate', 'synth', 'hours', { parse: int('--hours', 1) }))
    .addOption(configFlag('--seed <n>', 'random seed; same seed, same bytes', 'synth', 'seed', { parse: int('--seed') }))
    .addOption(configFlag('--start <iso>', 'first hour, UTC', 'synth', 'start'))
    .addOption(configFlag('--step <deg>', 'grid spacing in degrees', 'synth', 'step', { parse: num('--step') }))
    .addOption(configFlag('--bbox <W,S,E,N>', 'regional subset in degrees', 'synth', 'bbox', { parse: bbox, defaultText: 'the whole globe' }))
    .addOption(configFlag('--bands <kind>', 'speed (1 band) or uv (2 bands)', 'synth', 'bands'))
    .addOption(configFlag('--compress <kind>', 'GeoTIFF compression', 'synth', 'compress'))
    .addOption(configFlag('--lon180', 'longitudes -180..180 instead of 0..360', 'synth', 'lon180'))
    .addHelpText('after', '\nExample:\n  windcast synth --out data/synth --hours 720 --seed 42')
    .action(async (opts, command: Command) => {
      const ctx = buildContext(program, command);
      const { synth, formatSynthResult } = await import('./commands/synth.js');
      print(formatSynthResult(await synth({ out: opts.out }, ctx)));
    });

  program
    .command('inspect')
    .description('Check data before training: files, hours, gaps, grid, wind variables and heights, values, memory.')
    .argument('<data>', DATA_HELP)
    .option('--json', 'machine-readable output')
    .addOption(configFlag('--glob <pattern>', 'file pattern inside the folder', 'ingest', 'glob'))
    .addOption(configFlag('--time-pattern <kind>', "how to read each file's hour", 'ingest', 'timePattern'))
    .addOption(variablesFlag())
    .addOption(targetHeightFlag())
    .addHelpText('after', '\nExamples:\n  windcast inspect data/synth --json\n  windcast inspect era5.nc\n  windcast inspect \'era5/*.nc\'')
    .action(async (dir: string, opts, command: Command) => {
      const ctx = buildContext(program, command);
      const { inspect, formatInspectResult, requireReadyForTraining } = await import('./commands/inspect.js');
      const result = await inspect({ dir }, ctx);
      print(opts.json ? JSON.stringify(result, null, 2) : formatInspectResult(result));
      requireReadyForTraining(result);
    });

  program
    .command('doctor')
    .description('Show the TensorFlow backend windcast will use, and how to enable native TensorFlow.')
    .option('--json', 'machine-readable output')
    .addOption(backendFlag())
    .addHelpText('after', '\nExample:\n  windcast doctor')
    .action(async (opts, command: Command) => {
      const ctx = buildContext(program, command);
      const { doctor, formatDoctorResult } = await import('./commands/doctor.js');
      const result = await doctor({}, ctx);
      print(opts.json ? JSON.stringify(result, null, 2) : formatDoctorResult(result));
    });

  program
    .command('evaluate')
    .description('Score a checkpoint on its own test period beside persistence, yesterday, climatology, the same-input ridge and a speed-only ridge, each skill with a 95 % interval; its quantiles by CRPS, coverage and PIT beside probabilistic baselines; with --turbine, power NMAE/NRMSE.')
    .requiredOption('--model <dir>', 'checkpoint folder, or a run folder (uses best/, else last/)')
    .requiredOption('--data <path>', `the data the checkpoint was trained on: ${DATA_HELP}`)
    .requiredOption('--out <dir>', 'where report.json, report.md and rmse_by_lead.png (.svg, .vl.json) go')
    .addOption(configFlag('--stride <hours>', 'hours between scored windows', 'evaluate', 'stride', { parse: int('--stride', 1) }))
    .addOption(configFlag('--full', 'score every cell', 'evaluate', 'cellStride', { defaultText: `every ${defaults.evaluate.cellStride}th row and column`, value: () => 1 }))
    .addOption(configFlag('--turbine <name|csv>', 'also score power (NMAE, NRMSE in % of rated) through this curve: iea-3.4mw, nrel-5mw, iea-15mw, vestas-v82-1.65mw, or a CSV of speed m/s, power kW', 'evaluate', 'turbine'))
    .addOption(configFlag('--hub-height <m>', 'hub height of the power scores in metres (power law, shear from the input\'s 10 m and 100 m wind)', 'evaluate', 'hubHeight', { parse: positive('--hub-height'), defaultText: 'the forecast\'s height' }))
    .option('--shard <I/N>', `${SHARD_HELP}; a shard scores its part of the test windows into <out>/shard-I-of-N/`, shardFlag)
    .addOption(backendFlag())
    .addOption(precisionFlag())
    .addOption(memoryBudgetFlag())
    .addHelpText('after', '\nExamples:\n  windcast evaluate --model models/synth/best --data data/synth --out reports/synth\n  windcast evaluate --model models/era5 --data era5.nc --out reports/era5 --turbine iea-3.4mw --hub-height 110')
    .action(async (opts, command: Command) => {
      const ctx = buildContext(program, command);
      const { evaluate, formatEvaluateResult } = await import('./commands/evaluate.js');
      print(formatEvaluateResult(await evaluate({ model: opts.model, data: opts.data, out: opts.out, ...(opts.shard ? { shard: opts.shard } : {}) }, ctx)));
    });

  program
    .command('train')
    .description(`Train the LSTM forecaster (+1..+${horizon} h from the last ${lookback} h at every cell); checkpoints in <models-dir>/<run>/.`)
    .requiredOption('--data <path>', DATA_HELP)
    .requiredOption('--run <name>', 'run name: checkpoints go to <models-dir>/<name>/ (last/, best/)', runName)
    .addOption(configFlag('--epochs <n>', 'epochs', 'train', 'epochs', { parse: int('--epochs', 1) }))
    .addOption(configFlag('--samples-per-epoch <n>', '(time, cell) windows drawn per epoch', 'train', 'samplesPerEpoch', { parse: int('--samples-per-epoch', 1) }))
    .addOption(backendFlag())
    .option('--resume', 'continue from <run>/last/: epoch counter, weights, optimizer state')
    .option('--force', 'resume on different data, or start over on a run that already has checkpoints')
    .addOption(configFlag('--seed <n>', 'random seed; same seed and backend, same weights', 'train', 'seed', { parse: int('--seed') }))
    .addOption(configFlag('--sampler <kind>', 'how epochs draw windows: uniform (one at a time), blocks (a band of rows at a time through a shuffle buffer: memory locality on big grids), auto (blocks from 65,536 cells up)', 'train', 'sampler'))
    .addOption(variablesFlag())
    .addOption(targetHeightFlag())
    .addOption(modelsDirFlag())
    .addOption(memoryBudgetFlag())
    .addHelpText('after', "\nExamples:\n  windcast train --data data/synth --run synth --epochs 12\n  windcast train --data 'era5/*.nc' --run site --target-height 100")
    .action(async (opts, command: Command) => {
      const ctx = buildContext(program, command);
      const { train, formatTrainResult } = await import('./commands/train.js');
      print(formatTrainResult(await train({ data: opts.data, run: opts.run, resume: opts.resume, force: opts.force }, ctx)));
    });

  program
    .command('predict')
    .description(`Forecast +1..+${horizon} h from the latest ${lookback} hours: one GeoTIFF per lead (or one ${horizon}-band file), or a table, CSV and JSON for chosen sites.`)
    .requiredOption('--model <dir>', 'checkpoint folder, or a run folder (uses best/, else last/)')
    .requiredOption('--data <path>', `${DATA_HELP}, holding the ${lookback} hours before the issue time (read as the checkpoint says: its height and inputs)`)
    .requiredOption('--out <dir>', 'output folder (created if missing; earlier files of the same names are replaced only when the new forecast is complete)')
    .option('--at <iso>', 'issue time, the last observed hour, e.g. 2024-01-31T00Z (default: the latest hour in --data)')
    .option('--points <lat,lon>', 'forecast only at this site, LAT,LON or NAME=LAT,LON in degrees (repeatable); no grids are written', collect)
    .option('--points-file <csv>', 'sites from a CSV with columns name,lat,lon or lat,lon; no grids are written')
    .addOption(configFlag('--interpolation <kind>', 'how sites are read off the grid', 'predict', 'interpolation'))
    .addOption(configFlag('--multiband', `one ${horizon}-band GeoTIFF instead of one file per lead`, 'predict', 'multiband'))
    .addOption(configFlag('--png', 'also write PNG maps: a contact sheet of all leads and one map per lead (colour bar, coastlines, lat/lon grid lines)', 'predict', 'png'))
    .addOption(configFlag('--turbine <name|csv>', 'power curve for site power (kW) and capacity factor: iea-3.4mw, nrel-5mw, iea-15mw, vestas-v82-1.65mw, or a CSV of speed m/s, power kW', 'predict', 'turbine'))
    .addOption(configFlag('--hub-height <m>', 'hub height in metres; other than the forecast\'s, the wind is extrapolated by the power law (shear from the input\'s 10 m and 100 m wind)', 'predict', 'hubHeight', { parse: positive('--hub-height'), defaultText: 'the forecast\'s height' }))
    .addOption(configFlag('--air-density <mode>', 'IEC 61400-12-1 air-density correction of power: auto applies it where the input has temperature and pressure (ERA5 t2m, sp)', 'predict', 'airDensity'))
    .addOption(configFlag('--capacity-factor-maps', 'also write a capacity-factor GeoTIFF per lead (needs --turbine)', 'predict', 'capacityFactorMaps'))
    .addOption(configFlag('--no-quantile-maps', "leave out a quantile checkpoint's quantile GeoTIFFs (7 bands a lead; for a global forecast about 580 MB and most of the writing time); sites keep their quantiles. Quantile maps written", 'predict', 'quantileMaps'))
    .addOption(configFlag('--batch-cells <n>', 'cells per model call; bounds memory', 'predict', 'batchCells', { parse: int('--batch-cells', 1) }))
    .option('--shard <I/N>', `${SHARD_HELP}; a shard forecasts its rows of the grid into <out>/shard-I-of-N/`, shardFlag)
    .addOption(configFlag('--engine <name>', 'what runs the network: tfjs (the backend), onnx (onnxruntime), or auto: the faster measured (tfjs on native TensorFlow, onnx on wasm/cpu)', 'predict', 'engine'))
    .addOption(backendFlag())
    .addOption(precisionFlag())
    .addHelpText('after', '\nExamples:\n  windcast predict --model models/synth/best --data data/synth --out forecasts --png\n  windcast predict --model models/synth --data data/synth --out sites --points "Horns Rev=55.5,7.9" --points 52.5,13.4\n  windcast predict --model models/era5 --data era5.nc --out sites --points 54.0,7.0 --turbine iea-15mw --hub-height 150')
    .action(async (opts, command: Command) => {
      const ctx = buildContext(program, command);
      const [{ predict }, { formatPredictResult }] = await Promise.all([import('./commands/predict.js'), import('./commands/predict-format.js')]);
      print(formatPredictResult(await predict({ model: opts.model, data: opts.data, out: opts.out, at: opts.at, points: opts.points, pointsFile: opts.pointsFile, ...(opts.shard ? { shard: opts.shard } : {}) }, ctx)));
    });

  program
    .command('merge')
    .description('Assemble the shards of a sharded predict or evaluate (--shard I/N) into the files one unsharded run writes.')
    .argument('<dirs...>', 'the --out folder of the sharded runs (holding shard-I-of-N folders), or the shard folders themselves')
    .option('--out <dir>', 'where the merged files go (default: the folder holding the shard folders)')
    .addHelpText('after', '\nExamples:\n  windcast merge forecasts            # after predict --out forecasts --shard I/4 for I = 0..3\n  windcast merge reports/synth        # after evaluate --out reports/synth --shard I/N')
    .action(async (dirs: string[], opts, command: Command) => {
      const ctx = buildContext(program, command);
      const { merge, formatMergeResult } = await import('./commands/merge.js');
      print(formatMergeResult(await merge({ shards: dirs, ...(opts.out ? { out: opts.out } : {}) }, ctx)));
    });

  program
    .command('export')
    .description('Write a checkpoint as an ONNX model with a standard LSTM (the whole forecast: network, change from the last hour, denormalisation) or as a Keras 3 .keras model of standard layers (for retraining; needs Python with keras), with a sidecar JSON describing inputs and outputs and the per-cell statistics.')
    .requiredOption('--model <dir>', 'checkpoint folder, or a run folder (uses best/, else last/)')
    .addOption(new Option('--format <format>', 'model format').choices(['onnx', 'keras']).makeOptionMandatory())
    .requiredOption('--out <file>', 'model file to write, windcast.onnx or windcast.keras; <stem>.json and <stem>.norm.f32 are written beside it')
    .addOption(backendFlag())
    .addHelpText('after', '\nExamples:\n  windcast export --model models/synth --format onnx --out exports/synth.onnx\n  WINDCAST_PYTHON=venv/bin/python windcast export --model models/synth --format keras --out exports/synth.keras\n  (docs/export.md: running it from Python onnxruntime)')
    .action(async (opts, command: Command) => {
      const ctx = buildContext(program, command);
      const { exportModel, formatExportResult } = await import('./commands/export.js');
      print(formatExportResult(await exportModel({ model: opts.model, format: opts.format, out: opts.out }, ctx)));
    });

  program
    .command('demo')
    .description(`Try windcast end to end on built-in data: synthesise ${defaults.synth.hours} h of global wind, train, evaluate against baselines, forecast the next ${horizon} h with maps.`)
    .addOption(configFlag('--step <deg>', 'grid spacing of the synthetic data in degrees; 2 makes a quick coarse run', 'synth', 'step', { parse: num('--step') }))
    .addOption(configFlag('--hours <n>', 'hours of synthetic data', 'synth', 'hours', { parse: int('--hours', 72) }))
    .option('--data <dir>', 'folder for the synthetic data (default: data/synth, or data/synth-<step>)')
    .option('--run <name>', 'run name (default: demo, or demo-<step>)', runName)
    .addOption(modelsDirFlag())
    .addOption(backendFlag())
    .addOption(precisionFlag())
    .addHelpText('after', '\nExamples:\n  windcast demo\n  windcast demo --step 2   # a coarse grid, a few minutes')
    .action(async (opts, command: Command) => {
      const ctx = buildContext(program, command);
      const { demo, formatDemoResult } = await import('./commands/demo.js');
      print(formatDemoResult(await demo({ data: opts.data, run: opts.run }, ctx)));
    });

  return program;
}

/** Parse argv (without node and script) and run; errors propagate to the entry point. */
export async function runCli(argv: string[]): Promise<void> {
  const program = buildProgram();
  // Subcommands copy the program's settings when they are made, so each needs its own: without
  // it a bad flag value (commander's InvalidArgumentError) exited 1 instead of the usage code.
  program.exitOverride();
  for (const command of program.commands) command.exitOverride();
  await program.parseAsync(argv, { from: 'user' });
}
