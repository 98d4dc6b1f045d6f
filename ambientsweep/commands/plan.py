"""`ambientsweep plan`: what a sweep would run, on what, and roughly for how long.

The duration is estimated from a few training steps and one sampling pass of the base config
timed on this machine (with the trial's thread count), not from a table of constants.
"""

from __future__ import annotations

import math
import time
from typing import TextIO

import torch

from ambientsweep.commands.run import Plan, environment_problems
from ambientsweep.config import TrialConfig
from ambientsweep.search import algorithms


def _time_call(fn, repeats: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def estimate_trial_seconds(cfg: TrialConfig, threads: int) -> tuple[float, str]:
    """(seconds, how) for one trial of `cfg`, from timed steps on this machine (CPU)."""
    from ambientsweep.data.datasets import load_splits
    from ambientsweep.methods import build_method
    from ambientsweep.methods.base import CorruptionInput
    from ambientsweep.models.precond import build_denoiser
    from ambientsweep.utils.seeding import generator

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        splits = load_splits(cfg.data, seed=cfg.seed, replicate=cfg.replicate)
        method = build_method(cfg)
        sets = method.train_sets(CorruptionInput.from_splits(splits))
        data = next(iter(sets.values()))
        c, h, _ = splits.train.shape[1:]
        net = build_denoiser(cfg.model, channels=c, resolution=h,
                             extra_channels=method.extra_channels)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.train.lr)
        gen = generator("plan")
        b = cfg.train.batch_size

        def step() -> None:
            rows = torch.randint(0, len(data), (b,), generator=gen)
            loss = method.loss(net, data.take(rows), gen).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        per_step = _time_call(step, 5)
        x = torch.randn(min(cfg.eval.num_samples, 256), c, h, h)
        sig = torch.ones(x.shape[0])
        extra = method.extra_channels
        cond = torch.ones(x.shape[0], extra, h, h) if extra else None
        with torch.no_grad():
            per_eval_batch = _time_call(lambda: net(x, sig, cond), 2)
    finally:
        torch.set_num_threads(previous)
    nfe = 2 * cfg.sampler.steps - 1 if cfg.sampler.solver == "heun" else cfg.sampler.steps
    one_eval = per_eval_batch * nfe * math.ceil(cfg.eval.num_samples / x.shape[0])
    # The method's own schedule: its fit phases, the evaluation after each round (as the
    # Trainer runs it) and the sampling its action phases do (SFBD's backward steps).
    kimg = method.total_kimg()
    fits = [p for p in method.phases() if p.kind == "fit"]
    evals = 1 + sum(p.round is not None for p in fits[:-1])
    evals += int(kimg / cfg.eval.every_kimg) if cfg.eval.every_kimg else 0
    denoise = sum(per_eval_batch * nfe * math.ceil(images / x.shape[0]) * share
                  for images, share in method.planned_sampling(len(splits.train)))
    train_s = kimg * 1000 / b * per_step
    total = train_s + evals * one_eval + denoise
    how = (f"{per_step * 1000:.0f} ms/step x {kimg * 1000 / b:.0f} steps + {evals} "
           f"evaluation(s) of {cfg.eval.num_samples} samples (~{one_eval:.0f} s each)")
    return total, how


def describe_plan(plan: Plan, out: TextIO, address: str | None = None) -> None:
    """Print the plan; raises UserError listing what this machine lacks."""
    from ambientsweep.errors import UserError
    from ambientsweep.search.resources import local_resources, trials_at_once

    spec = plan.spec
    cfg0 = plan.loaded.trial_config(plan.points[0] if plan.points else {})
    print(f"sweep      {spec.name}  ({plan.loaded.path})", file=out)
    print(f"base       {plan.loaded.base_path}", file=out)
    print(f"method     {cfg0.method.kind}   data {cfg0.data.name} "
          f"(N={cfg0.data.train_size or 'pool'})", file=out)
    print("objectives " + ", ".join(f"{o.metric} ({o.mode})" for o in spec.objectives),
          file=out)
    sampler = f" / {spec.search.sampler}" if spec.search.algorithm == algorithms.OPTUNA else ""
    print(f"search     {spec.search.algorithm}{sampler}", file=out)
    if plan.points is not None:
        print(f"trials     {len(plan.points)} grid points x {spec.replicates} replicate(s) "
              f"= {plan.num_trials}", file=out)
        for p in plan.points:
            print("             " + ", ".join(f"{k}={v}" for k, v in p.items()), file=out)
    else:
        print(f"trials     {plan.num_configs} configurations x {spec.replicates} replicate(s) "
              f"= {plan.num_trials}", file=out)
        for k, p in spec.space.items():
            print(f"             {k}: {p.model_dump(exclude_none=True)}", file=out)
    res = spec.resources
    where = address or spec.execution.address
    if where:
        print(f"resources  {res.cpu:g} CPU, {res.gpu:g} GPU per trial on the cluster at "
              f"{where} (checked when the run connects)", file=out)
        concurrent = spec.search.max_concurrent or 1
    else:
        have = local_resources()
        fit = trials_at_once(res, have)
        concurrent = max(1, min(fit, spec.search.max_concurrent or fit, plan.num_trials))
        print(f"resources  {res.cpu:g} CPU, {res.gpu:g} GPU per trial; this machine has "
              f"{have['CPU']:g} CPU, {have['GPU']:g} GPU -> {concurrent} trial(s) at a time",
              file=out)
    print(f"work dir   {plan.paths.root}  (sweep folder {plan.paths.sweep_dir}"
          f"{', exists: run resumes it' if plan.paths.state_file.exists() else ''})", file=out)
    print(f"tracking   {plan.uri}  experiment {plan.experiment!r}", file=out)
    problems = environment_problems(plan, address)
    if problems:
        raise UserError("this machine cannot run the sweep as planned:\n  "
                        + "\n  ".join(problems))
    threads = res.threads or max(1, int(res.cpu))
    secs, how = estimate_trial_seconds(cfg0, threads)
    waves = math.ceil(plan.num_trials / concurrent)
    print(f"estimate   ~{secs / 60:.1f} min per trial ({how}; timed here, one trial alone),"
          f"\n           ~{waves * secs / 60:.0f} min for {waves} wave(s) of {concurrent} "
          "(trials sharing cores run slower)", file=out)
