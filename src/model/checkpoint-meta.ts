/**
 * What a checkpoint says about itself: the schema of meta.json, and reading it.
 *
 * The model, feature and grid parts are the schemas of ModelSpec, FeatureSpec and GridSpec
 * themselves, so a loaded meta.json hands out those types without casts. Everything needed to
 * use the checkpoint is here: config, normalisation scalars (the per-cell arrays are norm.bin),
 * split, the data's fingerprint, training state, versions, backend, and a sha256 of every
 * other file of the folder.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelConfigSchema, StoredTrainConfigSchema, oneLineZodError } from '../core/config.js';
import { CheckpointError, describeError } from '../core/errors.js';
import { GridSpecSchema } from '../core/grid.js';
import { FeatureSpecSchema } from '../prepare/features.js';
import { ModelSpecSchema } from './model.js';

const PeriodSchema = z.object({ startHour: z.number().int().min(0), endHour: z.number().int().min(0) });

const FileEntrySchema = z.object({ bytes: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) });

export const CheckpointMetaSchema = z.object({
  format: z.literal('windcast-checkpoint'),
  formatVersion: z.literal(1),
  kind: z.enum(['last', 'best']),
  run: z.string(),
  savedAt: z.string(),
  /** Epochs completed (1-based count). */
  epoch: z.number().int().min(0),
  config: z.object({ model: ModelConfigSchema, train: StoredTrainConfigSchema }),
  model: ModelSpecSchema,
  features: FeatureSpecSchema,
  normalization: z.object({
    mode: z.enum(['cell', 'global']),
    file: z.literal('norm.bin'),
    cells: z.number().int().positive(),
    globalMean: z.number(),
    globalStd: z.number(),
    meanVariance: z.number().positive(),
  }),
  grid: GridSpecSchema,
  split: z.object({
    hours: z.number().int().positive(),
    lookback: z.number().int().positive(),
    horizon: z.number().int().positive(),
    fractions: z.tuple([z.number(), z.number(), z.number()]),
    train: PeriodSchema,
    validation: PeriodSchema,
    test: PeriodSchema,
    gapHours: z.number().int().min(0),
  }),
  data: z.object({
    dir: z.string(),
    fingerprint: z.string(),
    /** ingest/cube-digest.ts: the values' digest, which knows the data again under new file stamps (absent before it existed). */
    contentDigest: z.string().optional(),
    hours: z.number().int().positive(),
    firstHour: z.string(),
    lastHour: z.string(),
    uv: z.boolean(),
  }),
  training: z.object({
    learningRate: z.number().positive(),
    bestValidation: z.number().nullable(),
    bestEpoch: z.number().int().min(0),
    epochsWithoutImprovement: z.number().int().min(0),
    epochsSinceLrChange: z.number().int().min(0),
    stopped: z.enum(['running', 'completed', 'early-stopped', 'interrupted']),
    samplesSeen: z.number().int().min(0),
    history: z.array(
      z.object({
        epoch: z.number().int(),
        trainLoss: z.number(),
        validationLoss: z.number(),
        validationRmse: z.number(),
        persistenceRmse: z.number(),
        learningRate: z.number(),
        seconds: z.number(),
        samplesPerSecond: z.number(),
      }),
    ),
    /** Validation RMSE per lead (m/s, area-weighted) of this checkpoint's model and baselines. */
    validationRmseByLead: z.array(z.number()),
    persistenceRmseByLead: z.array(z.number()),
    linearRmseByLead: z.array(z.number()).nullable(),
    /** The quantile head's fit (train/quantile-fit.ts), in best/ of a quantile model once fitted. */
    quantileFit: z
      .object({
        levels: z.array(z.number()),
        epochs: z.number().int().min(0),
        bestEpoch: z.number().int().min(0),
        startPinball: z.number(),
        fittedPinball: z.number(),
        calibratedPinball: z.number(),
        widthScale: z.array(z.number()),
        coverage: z.array(z.object({ central: z.number(), observed: z.number() })),
      })
      .optional(),
  }),
  versions: z.object({ windcast: z.string(), tfjs: z.string(), node: z.string(), tensorflow: z.string().optional() }),
  backend: z.object({ name: z.string(), threads: z.number().int() }),
  files: z.record(z.string(), FileEntrySchema),
});

export type CheckpointMeta = z.infer<typeof CheckpointMetaSchema>;
export type CheckpointKind = CheckpointMeta['kind'];

/** Read and validate meta.json only. */
export function readMeta(dir: string): CheckpointMeta {
  const path = join(dir, 'meta.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CheckpointError(`${path}: cannot read checkpoint metadata (${describeError(err)})`, { cause: err });
  }
  const parsed = CheckpointMetaSchema.safeParse(raw);
  if (!parsed.success) throw new CheckpointError(oneLineZodError(path, parsed.error, 'invalid checkpoint metadata'));
  return parsed.data;
}
