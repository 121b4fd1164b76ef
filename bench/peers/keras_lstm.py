"""Keras (tensorflow-cpu) peer of windcast's model for bench/backends.ts.

Same model as bench/peers/torch_lstm.py. Training uses Keras' own compiled train step
(model.train_on_batch after compile: a tf.function graph, Keras' default jit_compile), which
is what a Keras user gets; prediction uses model.predict_on_batch.
Threads: tf.config.threading intra/inter-op = --threads (also set in the environment).
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
from timing import print_result, time_loop  # noqa: E402  (bench/peers/timing.py)
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch", type=int, default=4096)
p.add_argument("--seconds", type=float, default=20)
p.add_argument("--jit", choices=["auto", "on", "off"], default="auto")
a = p.parse_args()
tf.config.threading.set_intra_op_parallelism_threads(a.threads)
tf.config.threading.set_inter_op_parallelism_threads(a.threads)
keras.utils.set_random_seed(42)

LOOKBACK, FEATURES, HORIZON, UNITS, CHANNELS = 24, 18, 24, 64, 3

inp = keras.Input((LOOKBACK, FEATURES))
h = keras.layers.LSTM(UNITS)(inp)
out = keras.layers.Dense(HORIZON)(h)
proj = keras.layers.Dense(CHANNELS, use_bias=False)(inp)  # per hour, as src/model/model.ts
lin = keras.layers.Dense(HORIZON)(keras.layers.Flatten()(proj))
model = keras.Model(inp, keras.layers.Add()([out, lin]))
jit = {"auto": "auto", "on": True, "off": False}[a.jit]
model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse", jit_compile=jit)

rng = np.random.default_rng(42)
xs = rng.standard_normal((a.batch, LOOKBACK, FEATURES), dtype=np.float32)
ys = rng.standard_normal((a.batch, HORIZON), dtype=np.float32)
ws = np.ones((a.batch,), dtype=np.float32)


print_result(
    f"keras {keras.__version__} (tensorflow-cpu {tf.__version__}, jit_compile={model.jit_compile})",
    a.threads,
    a.batch,
    train=time_loop(a.seconds, lambda: model.train_on_batch(xs, ys, sample_weight=ws)),
    predict=time_loop(a.seconds / 2, lambda: model.predict_on_batch(xs)),
)
