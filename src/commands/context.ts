/**
 * What every command receives from the CLI: the validated config (the schema's defaults, the
 * --config file's overrides and the flags, in that order), a progress reporter and whether to
 * say more. Commands return data; they never print results themselves, so tests call them
 * directly with silentProgress.
 */
import type { Config } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { setInferencePrecision, type InferencePrecision } from '../model/lstm-fast.js';
import type { Tf } from '../runtime/backend.js';
import { silentProgress, type Progress } from '../core/progress.js';

export interface CommandContext {
  config: Config;
  progress: Progress;
  verbose: boolean;
}

export function testContext(config: Config): CommandContext {
  return { config, progress: silentProgress, verbose: false };
}

/**
 * Sets the LSTM's precision for this command's forecasts (predict, evaluate: config
 * runtime.inferencePrecision, --precision). train sets fp32: its validation picks best/, and
 * must not depend on a forecasting choice. bf16 where it cannot run is a ConfigError saying why.
 */
export function useInferencePrecision(tf: Tf, precision: InferencePrecision): void {
  try {
    setInferencePrecision(tf, precision);
  } catch (err) {
    throw new ConfigError(`--precision ${precision} (runtime.inferencePrecision): ${err instanceof Error ? err.message : String(err)}; use fp32`, { cause: err });
  }
}
