/**
 * Time split: train, validation and test periods as contiguous ranges of hours, in time order.
 *
 * Never a random split: neighbouring hours are nearly identical, so a random split would score
 * the model on hours it has effectively seen. A window belongs to a period only when all of its
 * hours (lookback inputs and horizon targets) lie inside that period, so no window touches two
 * periods: between the last window anchor of one period and the first of the next there are
 * always lookback + horizon - 1 unused anchors (the gap). The split is stored in the checkpoint
 * so evaluate scores the same test period.
 */
import { ConfigError } from '../core/errors.js';

export interface Period {
  /** First hour index of the period (inclusive). */
  startHour: number;
  /** One past the last hour index (exclusive). */
  endHour: number;
}

export interface TimeSplit {
  hours: number;
  lookback: number;
  horizon: number;
  /** Fractions of the hours requested for train, validation, test. */
  fractions: [number, number, number];
  train: Period;
  validation: Period;
  test: Period;
  /** Unused window anchors between consecutive periods: lookback + horizon - 1. */
  gapHours: number;
}

export type PeriodName = 'train' | 'validation' | 'test';

export interface SplitOptions {
  hours: number;
  lookback: number;
  horizon: number;
  fractions: readonly [number, number, number];
}

/** Split `hours` consecutive hours into train / validation / test periods. */
export function splitHours(options: SplitOptions): TimeSplit {
  const { hours, lookback, horizon, fractions } = options;
  const total = fractions[0] + fractions[1] + fractions[2];
  const trainEnd = Math.round((hours * fractions[0]) / total);
  const valEnd = Math.round((hours * (fractions[0] + fractions[1])) / total);
  const split: TimeSplit = {
    hours,
    lookback,
    horizon,
    fractions: [fractions[0], fractions[1], fractions[2]],
    train: { startHour: 0, endHour: trainEnd },
    validation: { startHour: trainEnd, endHour: valEnd },
    test: { startHour: valEnd, endHour: hours },
    gapHours: lookback + horizon - 1,
  };
  const window = lookback + horizon;
  for (const name of ['train', 'validation', 'test'] as const) {
    const p = split[name];
    const n = p.endHour - p.startHour;
    if (n < window) {
      throw new ConfigError(
        `the ${name} period has ${n} hours (${hours} hours split ${fractions.join('/')}) but one window needs ${window} (lookback ${lookback} + horizon ${horizon}); ` +
          `use more hours or change train.split`,
      );
    }
  }
  return split;
}

/** Anchor t0 = index of the last input hour. Inputs t0-lookback+1..t0, targets t0+1..t0+horizon. */
export function anchorRange(split: Pick<TimeSplit, 'lookback' | 'horizon'>, period: Period): { first: number; last: number } {
  return { first: period.startHour + split.lookback - 1, last: period.endHour - split.horizon - 1 };
}

/** The hours a window anchored at t0 touches, [first, last] inclusive. */
export function windowHours(split: Pick<TimeSplit, 'lookback' | 'horizon'>, t0: number): { first: number; last: number } {
  return { first: t0 - split.lookback + 1, last: t0 + split.horizon };
}

/** Which period an hour index falls in (undefined if outside the cube). */
export function periodOfHour(split: TimeSplit, hour: number): PeriodName | undefined {
  for (const name of ['train', 'validation', 'test'] as const) {
    if (hour >= split[name].startHour && hour < split[name].endHour) return name;
  }
  return undefined;
}

/** One line for logs. */
export function describeSplit(split: TimeSplit): string {
  const p = (x: Period) => `hours ${x.startHour}..${x.endHour - 1} (${x.endHour - x.startHour} h)`;
  return `split: train ${p(split.train)}, validation ${p(split.validation)}, test ${p(split.test)}; windows never cross periods`;
}
