"""Build a windcast network as a Keras 3 model from standard layers, and save it as .keras.

Called by `windcast export --format keras` (src/model/keras.ts), which hands over the network
(src/model/network.ts) as JSON; Keras itself writes the .keras file, so its format is Keras's own.
Optional: needs Python with keras 3 and one Keras backend (tensorflow for tf.distribute; jax or
torch work for loading and predicting). docs/export.md describes the model and retraining it.

  python3 scripts/keras_export.py save NETWORK.json OUT.keras
  python3 scripts/keras_export.py predict MODEL.keras WINDOWS.f32 N OUT.f32   (tests: raw float32)

The model maps window [N, lookback, features] (normalised features) to the normalised outputs
windcast's tfjs model gives: point [N, horizon] and, with a quantile head, quantiles
[N, horizon * levels] (lead-major). Every layer is a standard Keras layer:
  - LSTM (sigmoid gates: windcast's FastLSTM; Keras's weight layout and gate order i, f, c, o
    are tfjs's), Dense 'head', and the linear path: Dense 'linear' on Flatten(window) ('full'),
    or Dense 'linear_proj' (3 channels, no bias) per hour, Flatten, Dense 'linear' ('low-rank');
  - the quantile head: Dense 'quantiles' (trainable, raw values), then fixed (non-trainable)
    Dense layers that are windcast's non-crossing construction written as matrices:
    softplus(raw) x steps (per-lead width scale times the cumulative sums outward from the
    central level) + raw's central value + the point forecast, repeated per level.
"""
import json
import os
import sys


def _keras():
    if "KERAS_BACKEND" not in os.environ:
        # Keras defaults to TensorFlow; without it, take the first installed backend.
        import importlib.util
        for name in ("tensorflow", "jax", "torch"):
            if importlib.util.find_spec(name) is not None:
                os.environ["KERAS_BACKEND"] = name
                break
    import keras
    return keras


def build(net, keras):
    import numpy as np

    L, F, H, U = net["lookback"], net["nFeatures"], net["horizon"], net["units"]
    layers = keras.layers
    window = keras.Input((L, F), name="window")
    weights = []
    h = window
    for i, l in enumerate(net["lstm"]):
        if l["gate"] != "sigmoid":
            raise SystemExit("windcast: this model's LSTM uses tfjs's hard sigmoid (0.2 x + 0.5), which no Keras activation computes; export it as ONNX")
        last = i == len(net["lstm"]) - 1
        layer = layers.LSTM(U, return_sequences=not last, recurrent_activation="sigmoid", name=f"lstm{i + 1}")
        h = layer(h)
        weights.append((layer, [np.array(l["kernel"], "float32").reshape(l["inputs"], 4 * U), np.array(l["recurrent"], "float32").reshape(U, 4 * U), np.array(l["bias"], "float32")]))
    state = h

    def dense(d, name, x, trainable=True):
        layer = layers.Dense(d["outputs"], use_bias="bias" in d, name=name, trainable=trainable)
        y = layer(x)
        w = [np.array(d["kernel"], "float32").reshape(d["inputs"], d["outputs"])]
        if "bias" in d:
            w.append(np.array(d["bias"], "float32"))
        weights.append((layer, w))
        return y

    point = dense(net["head"], "head", state)
    lin = net.get("linear")
    if lin:
        if lin["kind"] == "full":
            flat = layers.Flatten(name="flatten")(window)
        else:
            flat = layers.Flatten(name="flatten")(dense(lin["projection"], "linear_proj", window))
        point = layers.Add(name="sum")([point, dense(lin["dense"], "linear", flat)])
    outputs = [point]
    q = net.get("quantiles")
    if q:
        Q, m = len(q["levels"]), q["central"]
        step_scale = np.array(q["stepScale"], "float32").reshape(H, Q)
        cumulative = np.array(q["cumulative"], "float32").reshape(Q, Q)
        steps = np.zeros((H * Q, H * Q), "float32")
        centre = np.zeros((H * Q, H * Q), "float32")
        repeat = np.zeros((H, H * Q), "float32")
        for j in range(H):
            steps[j * Q:(j + 1) * Q, j * Q:(j + 1) * Q] = step_scale[j][:, None] * cumulative
            centre[j * Q + m, j * Q:(j + 1) * Q] = 1
            repeat[j, j * Q:(j + 1) * Q] = 1
        raw = dense(q["dense"], "quantiles", state)
        fixed = lambda k: {"outputs": H * Q, "inputs": k.shape[0], "kernel": k.ravel().tolist()}
        offsets = dense(fixed(steps), "quantile_steps", layers.Activation("softplus", name="quantile_softplus")(raw), trainable=False)
        central = dense(fixed(centre), "quantile_centre", raw, trainable=False)
        repeated = dense(fixed(repeat), "quantile_point", point, trainable=False)
        outputs.append(layers.Add(name="quantile_levels")([offsets, central, repeated]))
    model = keras.Model(window, outputs if len(outputs) > 1 else outputs[0], name="windcast")
    for layer, w in weights:
        layer.set_weights(w)
    return model


def main(argv):
    keras = _keras()
    if argv[1] == "save":
        with open(argv[2]) as f:
            net = json.load(f)
        model = build(net, keras)
        out = argv[3]
        # Keras wants the .keras suffix; write beside the target, then rename (atomic).
        tmp = os.path.join(os.path.dirname(os.path.abspath(out)), f".{os.path.basename(out)}.{os.getpid()}.tmp.keras")
        try:
            model.save(tmp)
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        print(json.dumps({"keras": keras.__version__, "backend": keras.backend.backend(), "params": int(model.count_params())}))
    elif argv[1] == "predict":
        import numpy as np
        model = keras.saving.load_model(argv[2])
        n = int(argv[4])
        x = np.fromfile(argv[3], "<f4").reshape(n, *model.input_shape[1:])
        y = model.predict(x, batch_size=4096, verbose=0)
        y = y if isinstance(y, list) else [y]
        np.concatenate([np.asarray(o, "<f4").ravel() for o in y]).tofile(argv[5])
    else:
        raise SystemExit(f"usage: {argv[0]} save NETWORK.json OUT.keras | predict MODEL.keras WINDOWS.f32 N OUT.f32")


if __name__ == "__main__":
    main(sys.argv)
