/**
 * Commander wiring only: flags, help, and the mapping of flags onto the config.
 * Each command's work lives in src/commands/<name>.ts and is imported when it runs,
 * so `windcast --help` never loads TensorFlow.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig, parseConfig, schemaDefaults, type Config } from './core/config.js';
import type { CommandContext } from './commands/context.js';
import { streamProgress, silentProgress } from './core/progress.js';

const defaults = schemaDefaults();

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

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Where a flag's value goes in the config: flags override the file. */
type Overrides = Partial<{ [S in keyof Config]: Partial<Config[S]> }>;

interface GlobalOptions {
  config?: string;
  verbose?: boolean;
  quiet?: boolean;
}

function buildContext(program: Command, overrides: Overrides): CommandContext {
  const globals = program.opts<GlobalOptions>();
  const base = globals.config ? loadConfig(globals.config) : loadConfig();
  const merged: Record<string, unknown> = { ...base };
  for (const [section, values] of Object.entries(overrides)) {
    const clean = Object.fromEntries(Object.entries(values ?? {}).filter(([, v]) => v !== undefined));
    merged[section] = { ...(base as Record<string, Record<string, unknown>>)[section], ...clean };
  }
  const config = parseConfig(merged, 'command-line flags');
  return {
    config,
    progress: globals.quiet ? silentProgress : streamProgress(process.stderr),
    verbose: Boolean(globals.verbose),
  };
}

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('windcast')
    .description('Learn to forecast hourly wind speed from global lat/lon GeoTIFF grids.')
    .option('--config <file>', 'configuration file (default: config/default.json)')
    .option('-v, --verbose', 'show stack traces and extra detail')
    .option('-q, --quiet', 'no progress output')
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('synth')
    .description('Write a realistic synthetic hourly global wind dataset as GeoTIFFs (ERA5 layout).')
    .requiredOption('--out <dir>', 'output folder')
    .option('--hours <n>', `hours to generate (default: ${defaults.synth.hours})`, int('--hours', 1))
    .option('--seed <n>', `random seed; same seed, same bytes (default: ${defaults.synth.seed})`, int('--seed'))
    .option('--start <iso>', `first hour, UTC (default: ${defaults.synth.start})`)
    .option('--step <deg>', `grid spacing in degrees (default: ${defaults.synth.step})`, num('--step'))
    .option('--bbox <W,S,E,N>', 'regional subset in degrees (default: the whole globe)', bbox)
    .addOption(new Option('--bands <kind>', `speed (1 band) or uv (2 bands) (default: ${defaults.synth.bands})`).choices(['speed', 'uv']))
    .addOption(new Option('--compress <kind>', `GeoTIFF compression (default: ${defaults.synth.compress})`).choices(['none', 'deflate']))
    .option('--lon180', 'longitudes -180..180 instead of 0..360')
    .addHelpText('after', '\nExample:\n  windcast synth --out data/synth --hours 720 --seed 42')
    .action(async (opts) => {
      const ctx = buildContext(program, {
        synth: { hours: opts.hours, seed: opts.seed, start: opts.start, step: opts.step, bbox: opts.bbox, bands: opts.bands, compress: opts.compress, lon180: opts.lon180 },
      });
      const { synth, formatSynthResult } = await import('./commands/synth.js');
      print(formatSynthResult(await synth({ out: opts.out }, ctx)));
    });

  program
    .command('inspect')
    .description('Check a folder of hourly GeoTIFFs before training: hours, gaps, grid, values, memory.')
    .argument('<dir>', 'folder (or glob) of hourly GeoTIFFs')
    .option('--json', 'machine-readable output')
    .option('--glob <pattern>', `file pattern inside the folder (default: ${defaults.ingest.glob})`)
    .addOption(new Option('--time-pattern <kind>', `how to read each file's hour (default: ${defaults.ingest.timePattern})`).choices(['auto', 'iso', 'yyyymmddHH', 'metadata']))
    .addHelpText('after', '\nExample:\n  windcast inspect data/synth --json')
    .action(async (dir: string, opts) => {
      const ctx = buildContext(program, { ingest: { glob: opts.glob, timePattern: opts.timePattern } });
      const { inspect, formatInspectResult } = await import('./commands/inspect.js');
      const result = await inspect({ dir }, ctx);
      print(opts.json ? JSON.stringify(result, null, 2) : formatInspectResult(result));
    });

  program
    .command('doctor')
    .description('Show the TensorFlow backend windcast will use, and how to enable native TensorFlow.')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  windcast doctor')
    .action(async (opts) => {
      const ctx = buildContext(program, {});
      const { doctor, formatDoctorResult } = await import('./commands/doctor.js');
      const result = await doctor({}, ctx);
      print(opts.json ? JSON.stringify(result, null, 2) : formatDoctorResult(result));
    });

  program
    .command('evaluate')
    .description("Score a checkpoint on its own test period beside persistence, yesterday, climatology and a linear baseline.")
    .requiredOption('--model <dir>', 'checkpoint folder, or a run folder (uses best/, else last/)')
    .requiredOption('--data <dir>', 'folder of hourly GeoTIFFs the checkpoint was trained on')
    .requiredOption('--out <dir>', 'where report.json, report.md and rmse_by_lead.png (.svg, .vl.json) go')
    .option('--stride <hours>', `hours between scored windows (default: ${defaults.evaluate.stride})`, int('--stride', 1))
    .option('--full', `score every cell (default: every ${defaults.evaluate.cellStride}th row and column)`)
    .addOption(new Option('--backend <name>', `TensorFlow.js backend (default: ${defaults.train.backend})`).choices(['auto', 'tensorflow', 'wasm', 'cpu']))
    .addHelpText('after', '\nExample:\n  windcast evaluate --model models/synth/best --data data/synth --out reports/synth')
    .action(async (opts) => {
      const ctx = buildContext(program, {
        evaluate: { stride: opts.stride, cellStride: opts.full ? 1 : undefined },
        train: { backend: opts.backend },
      });
      const { evaluate, formatEvaluateResult } = await import('./commands/evaluate.js');
      print(formatEvaluateResult(await evaluate({ model: opts.model, data: opts.data, out: opts.out }, ctx)));
    });

  program
    .command('train')
    .description('Train the LSTM forecaster (+1..+24 h from the last 24 h at every cell); checkpoints in <models-dir>/<run>/.')
    .requiredOption('--data <dir>', 'folder of hourly GeoTIFFs')
    .requiredOption('--run <name>', 'run name: checkpoints go to <models-dir>/<name>/ (last/, best/)', runName)
    .option('--epochs <n>', `epochs (default: ${defaults.train.epochs})`, int('--epochs', 1))
    .option('--samples-per-epoch <n>', `(time, cell) windows drawn per epoch (default: ${defaults.train.samplesPerEpoch})`, int('--samples-per-epoch', 1))
    .addOption(new Option('--backend <name>', `TensorFlow.js backend (default: ${defaults.train.backend})`).choices(['auto', 'tensorflow', 'wasm', 'cpu']))
    .option('--resume', 'continue from <run>/last/: epoch counter, weights, optimizer state')
    .option('--force', 'resume on different data, or start over on a run that already has checkpoints')
    .option('--seed <n>', `random seed; same seed and backend, same weights (default: ${defaults.train.seed})`, int('--seed'))
    .option('--models-dir <dir>', 'folder holding the runs (default: models)')
    .addHelpText('after', '\nExample:\n  windcast train --data data/synth --run synth --epochs 12')
    .action(async (opts) => {
      const ctx = buildContext(program, {
        train: { epochs: opts.epochs, samplesPerEpoch: opts.samplesPerEpoch, backend: opts.backend, seed: opts.seed },
      });
      const { train, formatTrainResult } = await import('./commands/train.js');
      print(formatTrainResult(await train({ data: opts.data, run: opts.run, modelsDir: opts.modelsDir, resume: opts.resume, force: opts.force }, ctx)));
    });

  program
    .command('predict')
    .description('Forecast +1..+24 h from the latest 24 hours: one GeoTIFF per lead (or one 24-band file), or a table, CSV and JSON for chosen sites.')
    .requiredOption('--model <dir>', 'checkpoint folder, or a run folder (uses best/, else last/)')
    .requiredOption('--data <dir>', 'folder of hourly GeoTIFFs holding the 24 hours before the issue time')
    .requiredOption('--out <dir>', 'output folder (created if missing; earlier files of the same names are replaced only when the new forecast is complete)')
    .option('--at <iso>', 'issue time, the last observed hour, e.g. 2024-01-31T00Z (default: the latest hour in --data)')
    .option('--points <lat,lon>', 'forecast only at this site, LAT,LON or NAME=LAT,LON in degrees (repeatable); no grids are written', collect)
    .option('--points-file <csv>', 'sites from a CSV with columns name,lat,lon or lat,lon; no grids are written')
    .addOption(new Option('--interpolation <kind>', `how sites are read off the grid (default: ${defaults.predict.interpolation})`).choices(['nearest', 'bilinear']))
    .option('--multiband', `one ${defaults.model.horizon}-band GeoTIFF instead of one file per lead`)
    .option('--png', 'also write PNG maps: a contact sheet of all leads and one map per lead (colour bar, coastlines, lat/lon grid lines)')
    .option('--batch-cells <n>', `cells per model call; bounds memory (default: ${defaults.predict.batchCells})`, int('--batch-cells', 1))
    .addOption(new Option('--backend <name>', `TensorFlow.js backend (default: ${defaults.train.backend})`).choices(['auto', 'tensorflow', 'wasm', 'cpu']))
    .addHelpText('after', '\nExamples:\n  windcast predict --model models/synth/best --data data/synth --out forecasts --png\n  windcast predict --model models/synth --data data/synth --out sites --points "Horns Rev=55.5,7.9" --points 52.5,13.4')
    .action(async (opts) => {
      const ctx = buildContext(program, {
        predict: { multiband: opts.multiband, png: opts.png, interpolation: opts.interpolation, batchCells: opts.batchCells },
        train: { backend: opts.backend },
      });
      const { predict, formatPredictResult } = await import('./commands/predict.js');
      print(formatPredictResult(await predict({ model: opts.model, data: opts.data, out: opts.out, at: opts.at, points: opts.points, pointsFile: opts.pointsFile }, ctx)));
    });

  program
    .command('demo')
    .description('The whole mission on built-in data: synthesise 720 h of global wind, train, evaluate against baselines, forecast the next 24 h with maps.')
    .option('--step <deg>', `grid spacing of the synthetic data in degrees; 2 makes a quick coarse run (default: ${defaults.synth.step})`, num('--step'))
    .option('--hours <n>', `hours of synthetic data (default: ${defaults.synth.hours})`, int('--hours', 72))
    .option('--data <dir>', 'folder for the synthetic data (default: data/synth, or data/synth-<step>)')
    .option('--run <name>', 'run name (default: demo, or demo-<step>)', runName)
    .option('--models-dir <dir>', 'folder holding the runs (default: models)')
    .addOption(new Option('--backend <name>', `TensorFlow.js backend (default: ${defaults.train.backend})`).choices(['auto', 'tensorflow', 'wasm', 'cpu']))
    .addHelpText('after', '\nExamples:\n  windcast demo\n  windcast demo --step 2   # a coarse grid, a few minutes')
    .action(async (opts) => {
      const ctx = buildContext(program, {
        synth: { step: opts.step, hours: opts.hours },
        train: { backend: opts.backend },
      });
      const { demo, formatDemoResult } = await import('./commands/demo.js');
      print(formatDemoResult(await demo({ data: opts.data, run: opts.run, modelsDir: opts.modelsDir }, ctx)));
    });

  return program;
}

/** Parse argv (without node and script) and run; errors propagate to the entry point. */
export async function runCli(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  await program.parseAsync(argv, { from: 'user' });
}
