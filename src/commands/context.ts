/**
 * What every command receives from the CLI: the validated config (flags already applied),
 * a progress reporter and a line printer. Commands return data; they never print results
 * themselves, so tests call them directly with silentProgress.
 */
import type { Config } from '../core/config.js';
import { silentProgress, type Progress } from '../core/progress.js';

export interface CommandContext {
  config: Config;
  progress: Progress;
  verbose: boolean;
}

export function testContext(config: Config): CommandContext {
  return { config, progress: silentProgress, verbose: false };
}
