/**
 * `windcast train`: read the data folder into a cube, pick the backend (and say which), train
 * with checkpoints under <models-dir>/<run>/, and return what happened. Ctrl-C stops at the
 * next batch, saves last/ and returns normally (a second Ctrl-C exits at once).
 */
import { resolve, join } from 'node:path';
import { useInferencePrecision, type CommandContext } from './context.js';
import { describeCubeWind, type Cube } from '../ingest/cube.js';
import { cubeHasUV, cubeOtherHeight, memoryBudget, openCellCube, type CellCube } from '../ingest/cell-cube.js';
import { readMeta, resolveCheckpointDir } from '../model/checkpoint.js';
import { checkpointWind } from '../model/data-fit.js';
import { hasCheckpoint } from '../train/run.js';
import { describeGrid } from '../core/grid.js';
import { formatDuration } from '../core/progress.js';
import type { TrainOutcome } from '../train/train.js';

export interface TrainArgs {
  data: string;
  run: string;
  /** Folder holding the runs (default: runtime.modelsDir). */
  modelsDir?: string;
  resume?: boolean;
  force?: boolean;
  /** Tests: an abort signal instead of the SIGINT handler. */
  signal?: AbortSignal;
  /** Tests: a ready cube instead of reading `data`. */
  cube?: Cube | CellCube;
}

export interface TrainResult extends TrainOutcome {
  data: string;
  grid: string;
  hours: number;
  backendLine: string;
  loadSeconds: number;
}

export async function train(args: TrainArgs, ctx: CommandContext): Promise<TrainResult> {
  const { config, progress } = ctx;
  const { loadBackend, formatBackendLine } = await import('../runtime/backend.js');
  const { runTraining } = await import('../train/train.js');
  const log = (line: string) => progress.log(line);
  const { tf, info } = await loadBackend(config.runtime.backend, log);
  useInferencePrecision(tf, 'fp32');
  const runDir = resolve(args.modelsDir ?? config.runtime.modelsDir, args.run);
  // Resuming reads the data as the run was trained (its height and variables), whatever the flags say.
  const wind = args.resume && hasCheckpoint(runDir) ? checkpointWind(readMeta(resolveCheckpointDir(runDir, 'last'))) : undefined;
  const t = performance.now();
  // Held cell-major, once (ingest/cell-cube.ts): training gathers random windows.
  const cube = args.cube ?? (await openCellCube(args.data, config.ingest, progress, { ...(wind ? { wind } : {}), budget: memoryBudget(config.runtime.memoryBudget) }));
  const loadSeconds = (performance.now() - t) / 1000;
  log(`data: ${cube.times.length} hours, ${describeGrid(cube.grid)}, ${describeCubeWind({ heightM: cube.heightM ?? null, uv: cubeHasUV(cube), otherHeightM: cubeOtherHeight(cube) })} (read in ${formatDuration(loadSeconds)})`);

  let signal = args.signal;
  let onSigint: (() => void) | undefined;
  if (!signal) {
    const controller = new AbortController();
    signal = controller.signal;
    onSigint = () => {
      if (controller.signal.aborted) {
        log('second Ctrl-C: exiting without saving (last/ holds the previous epoch)');
        process.exit(130);
      }
      log('Ctrl-C: stopping after this batch and saving last/ (press again to quit at once)');
      controller.abort();
    };
    process.on('SIGINT', onSigint);
  }
  try {
    const outcome = await runTraining({
      tf,
      backend: info,
      cube,
      dataDir: resolve(args.data),
      runDir,
      run: args.run,
      config,
      resume: args.resume,
      force: args.force,
      progress,
      log,
      signal,
    });
    return { ...outcome, data: args.data, grid: describeGrid(cube.grid), hours: cube.times.length, backendLine: formatBackendLine(info), loadSeconds };
  } finally {
    if (onSigint) process.off('SIGINT', onSigint);
  }
}

const f3 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '   n/a' : x.toFixed(3).padStart(6));

export function formatTrainResult(r: TrainResult): string {
  const lines: string[] = [];
  const how = r.stopped === 'interrupted' ? 'interrupted (Ctrl-C), last/ saved' : r.stopped === 'early-stopped' ? 'stopped early (validation stalled)' : 'completed';
  lines.push(`run ${r.run}: ${how} after ${r.epochsCompleted} epoch${r.epochsCompleted === 1 ? '' : 's'}${r.startEpoch > 0 ? ` (resumed at epoch ${r.startEpoch})` : ''} in ${formatDuration(r.seconds)}`);
  lines.push(`  ${r.backendLine}`);
  lines.push(`  data: ${r.data}, ${r.hours} hours, ${r.grid}`);
  lines.push(`  training: ${Math.round(r.samplesPerSecond)} samples/s end to end; peak memory ${r.peakRssMiB} MiB`);
  // best/ may be epoch 0, the untrained (linear-start) model, when no trained epoch beat it.
  if (r.bestValidationRmse !== null) {
    lines.push(`  best epoch ${r.bestEpoch}${r.bestEpoch === 0 ? ' (the starting model: no trained epoch did better on validation)' : ''}: validation RMSE ${r.bestValidationRmse?.toFixed(3)} m/s -> ${join(r.runDir, 'best')}`);
  }
  lines.push(`  checkpoints: ${join(r.runDir, 'last')}${r.bestValidationRmse !== null ? `, ${join(r.runDir, 'best')}` : ''}; log ${r.logFile}`);
  const m = r.validationRmseByLead;
  const p = r.persistenceRmseByLead;
  const l = r.linearRmseByLead;
  if (m.length > 0) {
    const mean = (a: number[]) => Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    const beatsLinear = l ? m.filter((x, i) => i >= 1 && x < l[i]!).length : 0;
    lines.push('  validation RMSE by lead (m/s, area-weighted):');
    lines.push('    lead   model  persist  linear');
    for (let h = 0; h < m.length; h++) {
      if (h < 3 || (h + 1) % 6 === 0) lines.push(`    +${String(h + 1).padStart(2)}h ${f3(m[h])}   ${f3(p[h])}  ${f3(l?.[h])}`);
    }
    const mm = mean(m);
    const pm = mean(p);
    lines.push(`    all  ${f3(mm)}   ${f3(pm)}  ${f3(l ? mean(l) : null)}   model vs persistence ${(((mm - pm) / pm) * 100).toFixed(1)} %`);
    if (l) lines.push(`    model below the linear baseline at ${beatsLinear} of leads +2..+${m.length}`);
  }
  if (r.quantileFit) {
    const q = r.quantileFit;
    const cov = q.coverage.map((c) => `${Math.round(c.central * 100)} %: ${(c.observed * 100).toFixed(1)} %`).join(', ');
    lines.push(`  quantiles ${q.levels.join(', ')}: validation pinball ${q.calibratedPinball.toFixed(3)} m/s (Gaussian start ${q.startPinball.toFixed(3)}); central intervals cover ${cov} of validation`);
  }
  for (const note of r.notes) lines.push(`  note: ${note}`);
  return lines.join('\n');
}
