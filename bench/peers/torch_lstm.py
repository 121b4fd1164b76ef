"""PyTorch peer of windcast's model for bench/backends.ts: same shapes, loss and optimizer.

LSTM(64) over [24 h, 18 features] -> last hidden state -> Dense(24), plus src/model/model.ts's
low-rank linear path (per-hour Dense(3, no bias) -> Flatten -> Dense(24)), summed; weighted MSE
(all weights 1); Adam(3e-3). Initial values do not change the speed.
--compile runs the model through torch.compile (inductor); the optimizer step stays eager.
Prints one JSON line: samples/s for a training step and for prediction (inference_mode).
torch.set_num_threads / set_num_interop_threads = --threads, like TF's intra/inter-op pools.
"""
import argparse

import torch
from torch import nn

from timing import print_result, time_loop  # bench/peers/timing.py

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch", type=int, default=4096)
p.add_argument("--seconds", type=float, default=20)
p.add_argument("--compile", action="store_true", help="torch.compile the model (inductor, default mode)")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.set_num_interop_threads(a.threads)
torch.manual_seed(42)

LOOKBACK, FEATURES, HORIZON, UNITS, CHANNELS = 24, 18, 24, 64, 3


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(FEATURES, UNITS, batch_first=True)
        self.head = nn.Linear(UNITS, HORIZON)
        self.linear_proj = nn.Linear(FEATURES, CHANNELS, bias=False)
        self.linear = nn.Linear(LOOKBACK * CHANNELS, HORIZON)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1]) + self.linear(self.linear_proj(x).flatten(1))


model = Model()
# torch.compile: what a PyTorch user would try for speed. Compilation happens in the warm-up
# steps of time_loop, so the timed steps measure the compiled graphs only.
run = torch.compile(model) if a.compile else model
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
xs = torch.randn(a.batch, LOOKBACK, FEATURES)
ys = torch.randn(a.batch, HORIZON)
ws = torch.ones(a.batch)


def train_step():
    opt.zero_grad(set_to_none=True)
    per_sample = ((run(xs) - ys) ** 2).mean(1)
    loss = (per_sample * ws).sum() / ws.sum()
    loss.backward()
    opt.step()
    return loss.item()


def predict():
    with torch.inference_mode():
        run(xs).sum().item()


print_result(
    f"pytorch {torch.__version__}" + (", torch.compile" if a.compile else ", eager"),
    torch.get_num_threads(),
    a.batch,
    train=time_loop(a.seconds, train_step),
    predict=time_loop(a.seconds / 2, predict),
)
