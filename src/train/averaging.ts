/**
 * Weight averaging: an exponential moving average of the trainable weights over training
 * steps (Polyak averaging, as TensorFlow's ExponentialMovingAverage). The raw weights follow
 * the noise of each batch; their average sits nearer the middle of the valley they wander in,
 * which forecasts better on hours the model never saw, most of all on small real datasets
 * where a few dozen steps already overfit. Validation scores and checkpoints use the average;
 * training steps the raw weights.
 *
 * Early steps are averaged with the smaller decay min(decay, (1 + n) / (10 + n)), n the steps
 * taken, as TensorFlow does with num_updates, so the average is not anchored at the start.
 * Everything here is a few small tensors: the cost per step is negligible beside the LSTM.
 */
import type { Tf } from '../runtime/backend.js';

type Variable = ReturnType<Tf['variable']>;
type Tensor = ReturnType<Tf['tensor']>;

export class WeightAverage {
  private readonly shadows: Variable[];
  private steps = 0;
  private swapped: Tensor[] | undefined;

  constructor(
    private readonly tf: Tf,
    private readonly variables: Variable[],
    private readonly decay: number,
  ) {
    this.shadows = variables.map((v) => tf.variable(v.clone() as Tensor, false));
  }

  /** Fold the current weights into the average (after each optimiser step). */
  update(): void {
    this.steps++;
    const d = Math.min(this.decay, (1 + this.steps) / (10 + this.steps));
    this.tf.tidy(() => {
      this.variables.forEach((v, i) => {
        const s = this.shadows[i]!;
        s.assign(this.tf.add(this.tf.mul(s, d), this.tf.mul(v, 1 - d)) as Tensor);
      });
    });
  }

  /** Run fn with the averaged weights in the model (validation, checkpoints), then restore the raw ones. */
  async withAverage<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.swapped) throw new Error('WeightAverage.withAverage is not re-entrant');
    this.swapped = this.variables.map((v) => v.clone() as Tensor);
    try {
      this.variables.forEach((v, i) => v.assign(this.shadows[i]!));
      return await fn();
    } finally {
      this.variables.forEach((v, i) => v.assign(this.swapped![i]!));
      this.tf.dispose(this.swapped);
      this.swapped = undefined;
    }
  }

  dispose(): void {
    this.tf.dispose(this.shadows);
  }
}
