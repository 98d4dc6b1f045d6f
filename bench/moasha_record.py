"""Record the learning curves of the MOASHA benchmark grid (bench/moasha_sweep.yaml).

Every configuration of the sweep at every sweep seed is trained to its full budget by
`run_trial` (the same function Ray runs), 2 processes with 1 torch thread each, and every report
is kept with the wall time at which it arrived. The curves are what `bench/moasha_bench.py`
replays the schedulers on.

    python bench/moasha_record.py [--seeds 0 1 2] [--out bench/results/moasha_curves.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "bench" / "moasha_sweep.yaml"


class _TimedReporter:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.records: list[dict[str, Any]] = []

    def report(self, metrics: dict[str, float], *, step: int) -> None:
        self.records.append({"step": step, "t": time.perf_counter() - self.t0,
                             "metrics": dict(metrics)})

    def artifact(self, path: Path, subdir: str | None = None) -> None:
        return None

    def set_tags(self, tags: dict[str, str]) -> None:
        return None


def _one(job: tuple[int, dict[str, Any], str, str]) -> dict[str, Any]:
    seed, params, workdir, cache = job
    import dataclasses

    from ambientsweep.spec.load import load_sweep
    from ambientsweep.trial import run_trial

    loaded = load_sweep(SWEEP)
    loaded = dataclasses.replace(loaded, spec=loaded.spec.model_copy(update={"seed": seed}))
    cfg = loaded.trial_config(params, 0)
    rep = _TimedReporter()
    name = "_".join(f"{k}={v}" for k, v in params.items())
    run_trial(cfg, rep, Path(workdir) / f"s{seed}_{name}", cache_dir=Path(cache))
    return {"seed": seed, "params": params, "total_kimg": cfg.total_kimg,
            "records": rep.records}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="first N configurations only")
    ap.add_argument("--only", type=int, nargs="*", default=None, help="configuration indices")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/ambientsweep-bench-cache"),
                    help="feature-extractor cache kept between runs (trains once, ~1 min)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "moasha_curves.json")
    args = ap.parse_args()
    from ambientsweep.spec.load import grid_points, load_sweep

    points = grid_points(load_sweep(SWEEP).spec)[: args.limit]
    if args.only is not None:
        points = [points[i] for i in args.only]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        cache = str(args.cache)
        jobs = [(s, p, d, cache) for s in args.seeds for p in points]
        with mp.get_context("spawn").Pool(args.procs) as pool:
            curves = []
            partial = args.out.with_suffix(".partial.jsonl")
            partial.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text("")
            for c in pool.imap_unordered(_one, jobs):
                curves.append(c)
                with partial.open("a") as f:  # what is done survives an interruption
                    f.write(json.dumps(c) + "\n")
                last = c["records"][-1]
                ev = last["metrics"].get("eval_seconds", float("nan"))
                print(f"seed {c['seed']} {c['params']}: {last['t']:.1f} s "
                      f"(evaluation {ev:.1f} s)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"sweep": str(SWEEP.relative_to(ROOT)),
                                    "wall_s": time.perf_counter() - t0, "curves": curves}))
    print(f"{len(curves)} curves in {time.perf_counter() - t0:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
