"""Random-kill loop: SIGKILL and SIGINT a real sweep at random moments, then let it finish.

Each round starts ``ambientsweep run`` on the same sweep (it resumes), waits until its trials
train again (Tune stores a checkpoint) and then a random gap of 2-20 s of training, or, in
one round of five, a random moment of start-up, and either SIGKILLs the driver with its Ray
(a crashed machine) or sends it SIGINT (Ctrl-C). The trials train for about 40 s, longer
than the gaps, so kills land mid-trial. After the rounds the same command runs to the end,
and the record is checked:

- every trial finished once: one complete run per configuration x replicate in the results;
- no run left RUNNING (status) or ``running`` (state);
- no duplicate config hashes among the results (orphans are closed and left out);
- at least one trial resumed from a checkpoint (``ambientsweep.resumed_from_kimg`` > 0).

Usage (about 9 minutes on 2 cores; run it under the heavy-work lock on a shared machine):

    flock /tmp/ambientsweep-heavy.lock python bench/kill_loop.py --rounds 10

Prints one JSON line of numbers; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from ambientsweep.testing.processes import kill_matching

BASE = textwrap.dedent("""\
    data: {name: digits, train_size: 50, reference_size: 200}
    model: {backbone: mlp, mlp_hidden: 64, mlp_layers: 3}
    train: {kimg: 153.6, batch_size: 32, lr_rampup_kimg: 0.1, log_every_kimg: 0.64}
    sampler: {steps: 6}
    eval: {num_samples: 64, gallery_size: 4, every_kimg: 15.36}
    method: {kind: edm}
""")
SWEEP = textwrap.dedent("""\
    name: kills
    base: base.yaml
    space:
      train.lr: {grid: [5.0e-4, 1.0e-3, 2.0e-3]}
    replicates: 2
    objectives:
      - {metric: fd_digits_cnn}
      - {metric: mem_ratio_pixels}
    search: {algorithm: grid, max_concurrent: 2}
    resources: {cpu: 1}
""")


def _kill_ray(tmp: str) -> None:
    """SIGKILL what the round's Ray left (found by its private temp dir)."""
    kill_matching(tmp, wait_s=15)


def _until_training(proc: subprocess.Popen, tune_dir: Path, since: float,
                    limit: float | None) -> float:
    """Wait until a trial trains in this round (Tune stored a checkpoint of it after `since`:
    every evaluation makes one), the driver ends, or `limit` seconds pass; returns the seconds
    waited."""
    t0 = time.monotonic()
    while proc.poll() is None and (limit is None or time.monotonic() - t0 < limit):
        with contextlib.suppress(OSError):
            if any(p.stat().st_mtime > since for p in tune_dir.glob("*/checkpoint_*")):
                break
        time.sleep(0.2)
    return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--min-gap", type=float, default=2.0,
                    help="seconds of training before a kill, least")
    ap.add_argument("--max-gap", type=float, default=20.0,
                    help="seconds of training before a kill, most")
    ap.add_argument("--startup-kills", type=float, default=0.2,
                    help="share of kills at a random moment of start-up instead")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="keep the work dir here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="killloop"))
    (root / "base.yaml").write_text(BASE)
    (root / "sweep.yaml").write_text(SWEEP)
    workdir = root / "runs"
    cmd = [sys.executable, "-m", "ambientsweep", "run", str(root / "sweep.yaml"),
           "--workdir", str(workdir)]
    ray_tmp = tempfile.mkdtemp(prefix="askl", dir="/tmp")
    env = {**os.environ, "AMBIENTSWEEP_RAY_TMPDIR": ray_tmp}
    kills = {"SIGKILL": 0, "SIGINT": 0, "mid_training": 0, "in_startup": 0,
             "ended_before_kill": 0}
    tune_dir = workdir / "sweeps" / "kills" / "ray" / "tune"
    t0 = time.monotonic()
    try:
        for i in range(args.rounds):
            sig = rng.choice([signal.SIGKILL, signal.SIGINT])
            # Most kills land while trials train (a random moment after this round's first
            # checkpoint: start-up takes ~30 s on a busy 2-core machine), some
            # at a random moment of start-up (trials starting, Ray's state not yet saved).
            in_startup = rng.random() < args.startup_kills
            gap = rng.uniform(args.min_gap, args.max_gap)
            with open(root / f"round{i}.log", "w") as out:
                proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
            started = time.time()
            waited = _until_training(proc, tune_dir, started, rng.uniform(2, 30) if in_startup
                                     else None)
            if proc.poll() is None and not in_startup:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=gap)
            ended = proc.poll() is not None
            if ended:
                kills["ended_before_kill"] += 1
            else:
                if sig == signal.SIGKILL:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                kills[sig.name] += 1
                kills["in_startup" if in_startup else "mid_training"] += 1
            _kill_ray(ray_tmp)
            moment = (f"{waited:.1f} s into start-up" if in_startup
                      else f"{gap:.1f} s after training resumed ({waited:.1f} s start-up)")
            print(f"round {i}: {'ended before the kill' if ended else sig.name} {moment} "
                  f"(rc {proc.returncode})",
                  file=sys.stderr, flush=True)
        final = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
        (root / "final.log").write_text(final.stdout + final.stderr)
        _kill_ray(ray_tmp)
        report = _check(workdir, final.returncode, kills, time.monotonic() - t0)
        # No scheduler prunes here: a driver that reports a pruned trial mistook a Ctrl-C'd
        # one for an ended one (and may have exported an unfinished sweep).
        logs = [p.read_text() for p in sorted(root.glob("*.log"))]
        report["checks"]["no_interrupted_trial_counted_pruned"] = not any(
            " pruned" in text for text in logs)
        report["ok"] = all(report["checks"].values())
    finally:
        _kill_ray(ray_tmp)
        shutil.rmtree(ray_tmp, ignore_errors=True)
        if args.keep:
            shutil.copytree(root, args.keep, dirs_exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(report))
    return 0 if report["ok"] else 1


def _check(workdir: Path, rc: int, kills: dict[str, int], seconds: float) -> dict:
    from mlflow.tracking import MlflowClient

    from ambientsweep.tracking.mlflow_log import load_results

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    exp = client.get_experiment_by_name("kills")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    trials = [r for r in runs if r.data.tags.get("ambientsweep.role") == "trial"]
    table = load_results(f"sqlite:///{workdir / 'mlflow.db'}", "kills")
    complete = table[table["state"] == "complete"]
    resumed = [r for r in trials if float(r.data.tags.get("ambientsweep.resumed_from_kimg", 0))]
    active = sorted(_active_seconds(client, r.info.run_id) for r in trials
                    if r.data.tags.get("ambientsweep.state") == "complete")
    checks = {
        "final_rc_0": rc == 0,
        "every_trial_finished_once": len(complete) == len(table) == 6,
        "no_running_runs": not [r for r in runs if r.info.status == "RUNNING"
                                or r.data.tags.get("ambientsweep.state") == "running"],
        "no_duplicate_config_hashes": table["config_hash"].is_unique,
        "a_trial_resumed_from_checkpoint": bool(resumed),
    }
    return {
        "ok": all(checks.values()), "checks": checks, "kills": kills,
        "seconds": round(seconds, 1), "child_runs": len(trials),
        "orphans_closed": sum(r.data.tags.get("ambientsweep.state") == "orphaned"
                              for r in trials),
        "resumed_trials": len(resumed),
        # Training time of each finished trial (its loss points' spacing, pauses between
        # rounds left out): longer than the gaps between kills.
        "trial_training_s": [round(a, 1) for a in active],
        "resumed_from_kimg": sorted(float(r.data.tags["ambientsweep.resumed_from_kimg"])
                                    for r in resumed),
    }


def _active_seconds(client: Any, run_id: str, pause_s: float = 10.0) -> float:
    """Seconds between a run's consecutive loss points, gaps over `pause_s` (the driver was
    down) left out."""
    ts = sorted(m.timestamp for m in client.get_metric_history(run_id, "loss"))
    return sum(d for d in ((b - a) / 1000 for a, b in itertools.pairwise(ts)) if d < pause_s)


if __name__ == "__main__":
    sys.exit(main())
