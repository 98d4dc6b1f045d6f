"""What `bench/gpu_bench.py` measures, one piece at a time: timed trials and the neighbour search.

A timed trial is the real trainer through ``ambientsweep.trial.run_trial`` with a list reporter
that also stamps the wall time of every ``loss`` report (the trainer syncs the device to report
the loss, so the stamps are honest on CUDA) and stops the trial once its measuring window has
passed (raising :class:`WindowClosed` out of ``run_trial``). Training throughput is then
images seen / seconds between reports, with the first interval (CUDA and cuDNN warm-up,
``torch.compile``'s compilation) left out.

Imports only torch, numpy, yaml, pydantic and ambientsweep's stable entry points: this runs on
GPU machines that have no Ray, MLflow, Optuna or clean-fid.
"""

from __future__ import annotations

import gc
import pickle
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ambientsweep.config import TrialConfig
from ambientsweep.tracking.reporter import ListReporter
from ambientsweep.trial import run_trial

MiB = 2**20


class WindowClosed(Exception):
    """Raised by :class:`TimedReporter` to end a trial once its window has been measured."""


@dataclass
class TimedReporter(ListReporter):
    """A ListReporter that stamps each loss report and ends the trial after its window.

    Args (fields):
        window_s: seconds measured after the first loss report (the warm-up interval).
        stop_at: an absolute ``time.time()`` to stop at instead (trials packed on one GPU
            share one), or None.
    """

    window_s: float = 5.0
    stop_at: float | None = None
    stamps: list[tuple[float, int]] = field(default_factory=list)  # (wall time, images seen)

    def report(self, metrics: dict[str, float], *, step: int) -> None:
        super().report(metrics, step=step)
        if "loss" not in metrics:
            return
        now = time.time()
        self.stamps.append((now, step))
        if self.stop_at is None:
            self.stop_at = now + self.window_s
        elif now >= self.stop_at:
            raise WindowClosed


def steady_rate(stamps: list[tuple[float, int]], t0: float = -np.inf,
                t1: float = np.inf) -> tuple[float | None, int]:
    """Images/s between the first and last stamp inside [t0, t1], the first stamp skipped.

    Returns (rate or None when fewer than two stamps qualify, images counted).
    """
    inside = [(t, n) for t, n in stamps[1:] if t0 <= t <= t1]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None, 0
    images = inside[-1][1] - inside[0][1]
    return images / (inside[-1][0] - inside[0][0]), images


# ----------------------------------------------------------------------------------------------
# Trial configs.


def fake_cifar(root: Path, train: int, test: int, seed: int = 0) -> Path:
    """Random 32x32 RGB images in CIFAR-10's python-batch layout (5 train batches + test)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    sizes = [max(1, train // 5)] * 5 + [test]
    for name, n in zip(names, sizes, strict=True):
        entry = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 "labels": rng.integers(0, 10, n).tolist()}
        with open(folder / name, "wb") as fh:
            pickle.dump(entry, fh)
    return root


def trial_config(model: dict[str, Any], data: dict[str, Any], *, batch: int, device: str,
                 precision: str = "fp32", compile: bool = False, kimg: float = 1e6,
                 log_steps: int = 20, memory_fraction: float | None = None,
                 eval_: dict[str, Any] | None = None, threads: int | None = None) -> TrialConfig:
    """An EDM trial of `model` on `data`: long enough to be stopped, a loss report per
    `log_steps` steps, evaluation only at the end (which a stopped trial never reaches)."""
    raw = {
        "data": data,
        "model": {"backbone": "unet", **model},
        "train": {"kimg": kimg, "batch_size": batch, "device": device, "precision": precision,
                  "compile": compile, "lr_rampup_kimg": 0.0,
                  "log_every_kimg": log_steps * batch / 1000,
                  "gpu_memory_fraction": memory_fraction, "num_threads": threads},
        "sampler": {"steps": 6},
        "eval": eval_ or {"num_samples": 10, "features": "pixels", "save_images": False},
        "method": {"kind": "edm"},
    }
    return TrialConfig.model_validate(raw)


# ----------------------------------------------------------------------------------------------
# Running one.


def _memory_reset(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _memory_peak(device: torch.device) -> dict[str, float | None]:
    if device.type != "cuda":
        return {"peak_alloc_mib": None, "peak_reserved_mib": None}
    return {"peak_alloc_mib": torch.cuda.max_memory_allocated(device) / MiB,
            "peak_reserved_mib": torch.cuda.max_memory_reserved(device) / MiB}


def timed_trial(config: TrialConfig, workdir: Path, *, window_s: float,
                stop_at: float | None = None) -> dict[str, Any]:
    """Run `config` through run_trial until its window closes; throughput and peak memory."""
    device = torch.device(config.train.device if config.train.device != "auto" else
                          ("cuda" if torch.cuda.is_available() else "cpu"))
    _memory_reset(device)
    reporter = TimedReporter(window_s=window_s, stop_at=stop_at)
    t0 = time.time()
    finished = False
    try:
        run_trial(config, reporter, workdir, cache_dir=workdir.parent / "cache")
        finished = True
    except WindowClosed:
        pass
    wall = time.time() - t0
    rate, images = steady_rate(reporter.stamps)
    out: dict[str, Any] = {
        "images_per_s": rate, "images_timed": images, "wall_s": wall,
        "first_report_s": reporter.stamps[0][0] - t0 if reporter.stamps else None,
        "ms_per_step": (1000 * config.train.batch_size / rate) if rate else None,
        "finished": finished, "stamps": reporter.stamps, **_memory_peak(device),
    }
    del reporter
    _memory_reset(device)
    if config.train.compile:
        torch._dynamo.reset()
    return out


def worker_loop(jobs: Any, results: Any, warm_json: str, scratch: str) -> None:
    """A trial process that stays up between jobs, as Ray reuses its actors: it warms up once
    (CUDA context, imports, one short trial of `warm_json`), then runs
    (config json, workdir, start_at, stop_at) jobs; None ends it."""
    try:
        timed_trial(TrialConfig.model_validate_json(warm_json), Path(scratch), window_s=0.0)
        results.put(("ready", None))
    except Exception as err:
        results.put(("error", f"warm-up: {type(err).__name__}: {err}"))
        return
    while True:
        try:
            job = jobs.get(timeout=600)
        except queue.Empty:
            return
        if job is None:
            return
        cfg_json, workdir, start_at, stop_at = job
        try:
            config = TrialConfig.model_validate_json(cfg_json)
            time.sleep(max(0.0, start_at - time.time()))
            results.put(("ok", timed_trial(config, Path(workdir), window_s=0.0,
                                           stop_at=stop_at)))
        except Exception as err:  # reported to the driver, which records it in the table
            results.put(("error", f"{type(err).__name__}: {err}"))


def common_window(stamps: list[list[tuple[float, int]]]) -> tuple[float, float]:
    """[t0, t1]: from when every trial is past its first (warm-up) report to when the first
    one stopped; the window in which all of them were training at once."""
    t0 = max(s[1][0] if len(s) > 1 else np.inf for s in stamps)
    t1 = min(s[-1][0] if s else -np.inf for s in stamps)
    return t0, t1


# ----------------------------------------------------------------------------------------------
# The memorization metric's neighbour search.


def knn_case(n: int, m: int, dim: int, device: torch.device, *, on_device: bool,
             check: int = 64) -> dict[str, Any]:
    """Exact k=2 neighbours of n random vectors among m (ambientsweep.metrics.memorization),
    inputs on the CPU as the evaluator passes them, or already on `device`; a float64
    brute-force check of the first `check` queries."""
    from ambientsweep.metrics.memorization import nearest_neighbours

    gen = torch.Generator().manual_seed(0)
    queries = torch.rand(n, dim, generator=gen) * 2 - 1
    keys = torch.rand(m, dim, generator=gen) * 2 - 1
    if on_device:
        queries, keys = queries.to(device), keys.to(device)
    _memory_reset(device)
    t0 = time.perf_counter()
    found = nearest_neighbours(queries, keys, k=2, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    q64, k64 = queries[:check].double().cpu(), keys.double().cpu()
    brute = torch.cdist(q64, k64).topk(2, dim=1, largest=False)
    exact = bool(torch.equal(brute.indices, found.index[:check]))
    out = {"n": n, "m": m, "dim": dim, "inputs": "device" if on_device else "cpu",
           "seconds": seconds, "m_pairs_per_s": n * m / seconds / 1e6,
           "exact_on_checked": exact, "checked": check, **_memory_peak(device)}
    del queries, keys, found
    _memory_reset(device)
    return out
