/**
 * The feature thread of a forecast (forecastWindows with prefetch, through runtime/prefetch.ts):
 * gathers one batch of windows per request into one slot of the double buffer, with the same
 * gatherWindow as training and the in-thread path, over the same shared hours (no copy of the
 * cube), batch- or time-major as the setup says, leaving the windows outside setup.only invalid; answers with the number of windows whose inputs were all valid.
 */
import { workerData } from 'node:worker_threads';
import { poolTask } from '../runtime/pool.js';
import type { FillRequest } from '../runtime/prefetch.js';
import { featuresOnThread } from '../prepare/batches.js';
import { gatherWindow } from '../prepare/features.js';
import type { GatherJob, GatherSetup } from './forecast.js';

const setup = workerData as GatherSetup | null;
const ctx = setup ? featuresOnThread(setup.features) : undefined;

export default poolTask(({ slot, job }: FillRequest<GatherJob>) => {
  const { t0, cells, timeMajor, only } = setup!;
  const x = setup!.x[slot];
  const valid = setup!.valid[slot];
  let ok = 0;
  for (let i = 0; i < job.count; i++) {
    const w = job.start + i;
    valid[i] = w >= only[0] && w < only[1] && gatherWindow(ctx!, typeof t0 === 'number' ? t0 : t0[w]!, cells[w]!, x, i, timeMajor ? job.count : undefined) ? 1 : 0;
    ok += valid[i]!;
  }
  return ok;
});
