/**
 * What every command receives from the CLI: the validated config (the schema's defaults, the
 * --config file's overrides and the flags, in that order), a progress reporter and whether to
 * say more. Commands return data; they never print results themselves, so tests call them
 * directly with silentProgress.
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
