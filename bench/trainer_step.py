"""Time a training step of the shared Trainer against a minimal hand-written loop.

Same model (the default "micro" UNet), same EDM loss, same batch size and data, one CPU thread.
The hand loop does what the recipe needs and nothing else: draw a batch, loss, backward, Adam,
EMA. The Trainer adds the lr ramp, the finiteness check, loss logging and one checkpoint at the
end. Runs are interleaved and the best of several repeats is kept, since the machine is shared.

    .venv/bin/python bench/trainer_step.py [--steps 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch

from ambientsweep.config import DataConfig, TrainConfig, TrialConfig
from ambientsweep.data.datasets import Splits, load_splits
from ambientsweep.methods import build_method, edm_loss
from ambientsweep.tracking.reporter import ListReporter
from ambientsweep.training import EMA, NoHooks, Trainer


def _trainer(cfg: TrialConfig, splits: Splits, workdir: str) -> Trainer:
    return Trainer(cfg, build_method(cfg), splits, device=torch.device("cpu"),
                   reporter=ListReporter(), hooks=NoHooks(), workdir=Path(workdir))


def time_trainer(cfg: TrialConfig, splits: Splits, steps: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        trainer = _trainer(cfg, splits, tmp)
        t0 = time.perf_counter()
        trainer.run()
        return (time.perf_counter() - t0) / steps


def time_hand_loop(cfg: TrialConfig, splits: Splits, steps: int, *, ema: bool) -> float:
    t = cfg.train
    with tempfile.TemporaryDirectory() as tmp:  # build the very same net (same init)
        ref = _trainer(cfg, splits, tmp)
    net = copy.deepcopy(ref.net)
    avg = EMA(net, t.ema_decay) if ema else None
    opt = torch.optim.Adam(net.parameters(), lr=t.lr, betas=t.betas, eps=t.eps)
    data = splits.train
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for step in range(steps):
        x = data[torch.randint(len(data), (t.batch_size,), generator=g)]
        loss = edm_loss(net, x, p_mean=t.p_mean, p_std=t.p_std, generator=g).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if avg is not None:
            avg.update(net, step)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="steps at 8x8 (fewer above)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resolutions", default="8,16,32", help="digits resized to these")
    args = parser.parse_args()
    torch.set_num_threads(1)
    batch = 64
    print(f"default UNet, batch {batch}, best of {args.repeats} repeats, 1 thread")
    print(f"{'res':>5s} {'steps':>5s} {'trainer ms':>11s} {'hand ms':>9s} {'bare ms':>9s} "
          f"{'img/s':>7s} {'trainer/hand':>12s} {'trainer/bare':>12s}")
    for res in (int(r) for r in args.resolutions.split(",")):
        steps = max(8, round(args.steps * (8 / res) ** 2))
        cfg = TrialConfig(
            data=DataConfig(train_size=50, resolution=None if res == 8 else res),
            train=TrainConfig(kimg=steps * batch / 1000, batch_size=batch,
                              log_every_kimg=10 * batch / 1000),
        )
        splits = load_splits(cfg.data, seed=cfg.seed, replicate=cfg.replicate)
        time_hand_loop(cfg, splits, 3, ema=True)  # warm-up (allocator, kernels)
        trainer, hand, bare = [], [], []
        for _ in range(args.repeats):
            trainer.append(time_trainer(cfg, splits, steps))
            hand.append(time_hand_loop(cfg, splits, steps, ema=True))
            bare.append(time_hand_loop(cfg, splits, steps, ema=False))
        tr, hd, br = min(trainer), min(hand), min(bare)
        print(f"{res:>3d}^2 {steps:5d} {1000 * tr:11.1f} {1000 * hd:9.1f} {1000 * br:9.1f} "
              f"{batch / tr:7.0f} {tr / hd:12.3f} {tr / br:12.3f}", flush=True)
    print("hand = minimal loop with Adam + EMA; bare = Adam only; img/s = the trainer's")


if __name__ == "__main__":
    main()
