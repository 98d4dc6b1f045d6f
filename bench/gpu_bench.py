"""The GPU benchmark in one run (`bench/gpu.sh`, `make bench-gpu`): sized to finish in under
5 minutes on an H200-class GPU, every section with its own time budget.

Sections, in the order run (each one's rows land in the JSON and the table as it finishes,
so a run cut short still leaves what it measured):

- ``trial``: one complete trial (training, sampling, metrics) through ``run_trial`` with a
  list reporter on the device: the whole code path, its wall and evaluation time, peak memory.
- ``knn``: exact k=2 nearest neighbours of 50k random 3,072-dim vectors among 50k (the
  memorization metric's ``nearest_neighbours``), inputs on the CPU as the evaluator passes them
  and already on the device; float64 brute force checks the first queries.
- ``precision``: training throughput of the digits UNet (8x8, batch 64) and a CIFAR-sized UNet
  (configs/cifar10.yaml's net, 32x32x3 random images, batch 256) in fp32 and bf16
  (``train.precision``); ``compile``: the same with ``train.compile`` (bf16), last because
  compilation time is the least predictable part.
- ``packing``: 1, 2, 4 and 8 trial processes training the digits UNet on one GPU at once (what
  a fractional ``resources.gpu`` does under Ray), each with ``train.gpu_memory_fraction`` =
  0.9 / N: aggregate images/s over a window common to all, and peak memory per trial.
- ``ray_cli``: a tiny real ``ambientsweep run`` with ``resources.gpu: 0.5`` (0 without a GPU),
  only where Ray, MLflow and Optuna import.

``--dry-run`` runs every section on the CPU at tiny sizes through the same code (seconds).

    python bench/gpu_bench.py [--dry-run] [--out DIR] [--budget S] [--only A,B] [--skip A,B]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contextlib

import gpu_work as work

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("trial", "knn", "precision", "packing", "compile", "ray_cli")

# The two nets: the digits default (configs/digits.yaml) and configs/cifar10.yaml's UNet.
DIGITS_NET = {"channels": 32, "channel_mult": [1, 2], "num_blocks": 1, "emb_dim": 256}
CIFAR_NET = {"channels": 128, "channel_mult": [1, 2, 2, 2], "num_blocks": 2, "emb_dim": 512,
             "dropout": 0.05}
TINY_NET = {"channels": 8, "channel_mult": [1, 2], "num_blocks": 1, "emb_dim": 32}


@dataclass(frozen=True)
class Sizes:
    """Everything that differs between the real run and the dry run."""

    device: str
    digits_net: dict[str, Any]
    cifar_net: dict[str, Any]
    digits_batch: int
    cifar_batch: int
    log_steps: int  # steps between loss reports (the timing resolution)
    window_s: float  # measured seconds per precision case
    packing: tuple[int, ...]
    pack_warm_s: float  # left out at the start of a packed round
    pack_window_s: float
    knn: tuple[int, int, int]  # n, m, dim
    trial_kimg: float
    trial_eval: dict[str, Any]
    cifar_images: int
    budget_s: float  # the whole run
    # rough cost of each case, to skip what no longer fits in the budget
    cost_s: dict[str, float] = field(default_factory=dict)


FULL = Sizes(
    device="cuda", digits_net=DIGITS_NET, cifar_net=CIFAR_NET, digits_batch=64, cifar_batch=256,
    log_steps=25, window_s=6.0, packing=(1, 2, 4, 8), pack_warm_s=3.0, pack_window_s=10.0,
    knn=(50_000, 50_000, 3072), trial_kimg=12.8,
    trial_eval={"num_samples": 500, "features": "digits_cnn"}, cifar_images=2000,
    budget_s=285.0,
    cost_s={"trial": 40, "knn": 30, "precision": 15, "packing": 25, "compile": 90,
            "ray_cli": 60},
)
DRY = Sizes(
    device="cpu", digits_net=TINY_NET, cifar_net=TINY_NET, digits_batch=16, cifar_batch=4,
    log_steps=2, window_s=0.25, packing=(1, 2), pack_warm_s=0.7, pack_window_s=1.0,
    knn=(500, 500, 3072), trial_kimg=0.064,
    trial_eval={"num_samples": 10, "features": "pixels", "save_images": False},
    cifar_images=40,
    budget_s=120.0,
    cost_s={"trial": 5, "knn": 2, "precision": 2, "packing": 8, "compile": 30, "ray_cli": 60},
)


class Bench:
    """Runs the sections, keeps the rows, rewrites the JSON and markdown after each section."""

    def __init__(self, sizes: Sizes, out: Path, scratch: Path, dry: bool) -> None:
        self.sizes, self.out, self.scratch, self.dry = sizes, out, scratch, dry
        self.device = torch.device(sizes.device)
        self.t0 = time.perf_counter()
        self.rows: list[dict[str, Any]] = []
        self.sections: dict[str, Any] = {}
        self.meta = environment(self.device, dry)

    def left(self) -> float:
        return self.sizes.budget_s - (time.perf_counter() - self.t0)

    def fits(self, case: str) -> bool:
        return self.left() >= self.sizes.cost_s.get(case, 0.0)

    def row(self, section: str, case: str, *, note: str = "", **values: Any) -> None:
        row = {"section": section, "case": case, "note": note, **values}
        self.rows.append(row)
        print(f"  {section:9s} {case:28s} " + "  ".join(
            f"{k}={_fmt(v)}" for k, v in values.items() if v is not None) + f"  {note}",
            flush=True)

    def skip(self, section: str, case: str, why: str) -> None:
        self.row(section, case, note=f"skipped: {why}")

    def write(self) -> None:
        self.meta["wall_s"] = time.perf_counter() - self.t0
        doc = {"meta": self.meta, "rows": self.rows, "sections": self.sections}
        tmp = self.out / "gpu_bench.json.tmp"
        tmp.write_text(json.dumps(doc, indent=1, default=str))
        tmp.replace(self.out / "gpu_bench.json")
        (self.out / "gpu_bench.md").write_text(markdown(self.meta, self.rows))

    # ------------------------------------------------------------------------------------------

    def digits(self, **kw: Any) -> Any:
        s = self.sizes
        return work.trial_config(s.digits_net, {"name": "digits", "train_size": 200},
                                 batch=s.digits_batch, device=s.device, log_steps=s.log_steps,
                                 threads=1 if self.dry else None, **kw)

    def cifar(self, **kw: Any) -> Any:
        s = self.sizes
        root = self.scratch / "random_cifar"
        if not (root / "cifar-10-batches-py" / "test_batch").exists():
            work.fake_cifar(root, train=s.cifar_images, test=32)
        data = {"name": "cifar10", "root": str(root), "reference_size": 10,
                "classifier_size": None}
        return work.trial_config(s.cifar_net, data, batch=s.cifar_batch, device=s.device,
                                 log_steps=s.log_steps, threads=1 if self.dry else None, **kw)

    def section_trial(self) -> None:
        """One complete run_trial: train, sample, every metric, on the device."""
        from ambientsweep.tracking.reporter import ListReporter
        from ambientsweep.trial import run_trial

        s = self.sizes
        config = work.trial_config(
            s.digits_net, {"name": "digits", "train_size": 200}, batch=s.digits_batch,
            device=s.device, kimg=s.trial_kimg, log_steps=50, eval_=s.trial_eval,
            threads=1 if self.dry else None)
        reporter = ListReporter()
        work._memory_reset(self.device)
        result = run_trial(config, reporter, self.scratch / "trial", cache_dir=self.scratch / "c")
        peak = work._memory_peak(self.device)
        metrics = {k: v for k, v in result.metrics.items() if isinstance(v, float)}
        self.sections["trial"] = {"metrics": metrics, "tags": reporter.tags,
                                  "reports": len(reporter.records), **peak}
        fd = metrics.get("fd_digits_cnn", metrics.get("fd_pixels"))
        self.row("trial", f"digits {s.trial_kimg:g} kimg + eval", wall_s=result.seconds,
                 eval_s=metrics.get("eval_seconds"), fd=fd,
                 mem_ratio=metrics.get("mem_ratio_pixels"), **peak,
                 note=f"{len(metrics)} metrics, device tag {reporter.tags.get('device')}")

    def section_knn(self) -> None:
        n, m, dim = self.sizes.knn
        cases = [False, True] if self.device.type == "cuda" else [False]
        out = []
        for on_device in cases:
            if not self.fits("knn"):
                self.skip("knn", f"{n}x{m}x{dim}", "out of time")
                continue
            r = work.knn_case(n, m, dim, self.device, on_device=on_device)
            out.append(r)
            self.row("knn", f"k=2 {n}x{m}x{dim} in:{r['inputs']}", seconds=r["seconds"],
                     m_pairs_per_s=r["m_pairs_per_s"], peak_alloc_mib=r["peak_alloc_mib"],
                     note="exact" if r["exact_on_checked"] else "MISMATCH vs float64")
        self.sections["knn"] = out

    def _timed(self, section: str, name: str, config: Any, params: int, note: str = "") -> None:
        workdir = self.scratch / f"{section}_{name.replace(' ', '_')}"
        r = work.timed_trial(config, workdir, window_s=self.sizes.window_s)
        stamps = r.pop("stamps")
        self.sections.setdefault(section, []).append({"case": name, "params": params, **r,
                                                      "reports": len(stamps)})
        self.row(section, name, images_per_s=r["images_per_s"], ms_per_step=r["ms_per_step"],
                 warmup_s=r["first_report_s"], peak_alloc_mib=r["peak_alloc_mib"],
                 note=f"{params / 1e6:.2f}M params" + (f"; {note}" if note else ""))

    def section_precision(self, compile: bool = False) -> None:
        section = "compile" if compile else "precision"
        modes = [("bf16", True)] if compile else [("fp32", False), ("bf16", False)]
        note = ""
        if compile and self.dry:
            # inductor takes minutes on a small CPU: the dry run goes through train.compile's
            # code with compilation turned off (torch.compile returns the eager module's calls)
            torch._dynamo.config.disable = True
            note = "dry run: torch.compile wrapped, compilation disabled"
        for net, build in (("digits", self.digits), ("cifar32", self.cifar)):
            for precision, comp in modes:
                name = f"{net} {precision}{' compile' if comp else ''}"
                if not self.fits(section):
                    self.skip(section, name, "out of time")
                    continue
                config = build(precision=precision, compile=comp)
                why = note
                if precision == "bf16" and self.device.type != "cuda":
                    cpu = "CPU: the trainer autocasts on CUDA only"
                    why = f"{note}; {cpu}" if note else cpu
                self._timed(section, name, config, _params(config), why)

    def section_packing(self) -> None:
        import multiprocessing as mp

        s = self.sizes
        ctx = mp.get_context("spawn")
        most = max(s.packing)
        jobs = [ctx.Queue() for _ in range(most)]
        results = ctx.Queue()
        warm = self.digits().model_dump_json()
        procs = [ctx.Process(target=work.worker_loop, daemon=True,
                             args=(jobs[i], results, warm, str(self.scratch / f"warm{i}")))
                 for i in range(most)]
        t_spawn = time.perf_counter()
        for p in procs:
            p.start()
        try:
            ready = [_get(results, 240) for _ in procs]
            broken = [r[1] for r in ready if r[0] != "ready"]
            if broken:
                raise RuntimeError(f"a trial process did not start: {broken[0]}")
            spawn_s = time.perf_counter() - t_spawn
            rounds = []
            base_rate = None
            for n in s.packing:
                if not self.fits("packing"):
                    self.skip("packing", f"{n} trials", "out of time")
                    continue
                config = self.digits(memory_fraction=0.9 / n if s.device == "cuda" else None)
                start = time.time() + 0.5
                stop = start + s.pack_warm_s + s.pack_window_s
                for i in range(n):
                    jobs[i].put((config.model_dump_json(), str(self.scratch / f"pack{n}_{i}"),
                                 start, stop))
                got = [_get(results, 120 + s.pack_warm_s + s.pack_window_s) for _ in range(n)]
                errors = [g[1] for g in got if g[0] != "ok"]
                if errors:
                    self.row("packing", f"{n} trials", note=f"error: {errors[0]}")
                    continue
                per = [g[1] for g in got]
                t0, t1 = work.common_window([r["stamps"] for r in per])
                rates = [work.steady_rate(r["stamps"], t0, t1)[0] for r in per]
                if any(r is None for r in rates):
                    self.row("packing", f"{n} trials", note="too few loss reports in window "
                             "(raise the warm-up: bench/gpu_bench.py Sizes.pack_warm_s)")
                    continue
                total = float(sum(rates))  # type: ignore[arg-type]
                base_rate = base_rate or total
                peaks = [r["peak_alloc_mib"] for r in per]
                rounds.append({"trials": n, "aggregate_images_per_s": total,
                               "per_trial_images_per_s": rates, "window_s": t1 - t0,
                               "memory_fraction":
                               config.train.gpu_memory_fraction, "peak_alloc_mib": peaks,
                               "peak_reserved_mib": [r["peak_reserved_mib"] for r in per]})
                self.row("packing", f"{n} trials x digits fp32", images_per_s=total,
                         x_vs_1=total / base_rate, per_trial=total / n,
                         peak_alloc_mib=max(peaks) if peaks[0] is not None else None,
                         window_s=t1 - t0,
                         note=f"memory fraction {config.train.gpu_memory_fraction}")
            self.sections["packing"] = {"spawn_and_warm_s": spawn_s, "rounds": rounds}
        finally:
            for q in jobs:
                q.put(None)
            for p in procs:
                p.join(timeout=10)
                if p.is_alive():
                    p.kill()

    def section_ray_cli(self) -> None:
        missing = [m for m in ("ray", "mlflow", "optuna") if importlib.util.find_spec(m) is None]
        if missing:
            self.skip("ray_cli", "ambientsweep run", f"{', '.join(missing)} not importable")
            self.sections["ray_cli"] = {"skipped": f"missing {missing}"}
            return
        gpu = 0.5 if self.device.type == "cuda" else 0.0
        folder = Path(tempfile.mkdtemp(prefix="asgb", dir="/tmp"))  # short: Ray socket paths
        sweep = write_tiny_sweep(folder, device=self.sizes.device, gpu=gpu, net=self.sizes.
                                 digits_net, dry=self.dry)
        env = {**os.environ, "AMBIENTSWEEP_RAY_TMPDIR": str(folder / "ray"),
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "ambientsweep", "run", str(sweep),
                                   "-w", str(folder / "work")], capture_output=True, text=True,
                                  timeout=max(30.0, self.left()), env=env, cwd=folder)
            rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-2000:]
        except subprocess.TimeoutExpired as err:
            rc, tail = -1, f"timed out: {str(err.stdout)[-1000:]}"
        finally:
            _kill_under(str(folder))
        wall = time.perf_counter() - t0
        self.sections["ray_cli"] = {"rc": rc, "wall_s": wall, "gpu_per_trial": gpu,
                                    "tail": tail}
        self.row("ray_cli", f"ambientsweep run 2 trials gpu={gpu:g}", wall_s=wall,
                 note="ok" if rc == 0 else f"rc={rc}: {tail.strip().splitlines()[-1:]}")
        shutil.rmtree(folder, ignore_errors=True)


def write_tiny_sweep(folder: Path, *, device: str, gpu: float, net: dict[str, Any],
                     dry: bool) -> Path:
    """A 2-trial grid sweep file (and its base config) in `folder`."""
    base = {"data": {"name": "digits", "train_size": 50},  # default splits: shipped digits_cnn
            "model": {"backbone": "unet", **net},
            "train": {"kimg": 0.32 if dry else 3.2, "batch_size": 32, "device": device,
                      "lr_rampup_kimg": 0.1, "log_every_kimg": 0.32},
            "sampler": {"steps": 6}, "eval": {"num_samples": 64, "gallery_size": 4},
            "method": {"kind": "edm"}}
    (folder / "base.yaml").write_text(json.dumps(base))  # JSON is YAML
    sweep = folder / "sweep.yaml"
    sweep.write_text(textwrap.dedent(f"""\
        name: gpu-bench-ray
        base: base.yaml
        space:
          train.lr: {{grid: [1.0e-3, 2.0e-3]}}
        objectives:
          - {{metric: fd_digits_cnn}}
          - {{metric: mem_ratio_pixels}}
        resources: {{cpu: 1, gpu: {gpu}}}
    """))
    return sweep


# ----------------------------------------------------------------------------------------------
# Helpers.


def _params(config: Any) -> int:
    from ambientsweep.models.backbones import build_backbone

    res = 8 if config.data.name == "digits" else 32
    chans = 1 if config.data.name == "digits" else 3
    net = build_backbone(config.model, chans, chans, res)
    return sum(p.numel() for p in net.parameters())


def _get(results: Any, timeout: float) -> tuple[str, Any]:
    import queue

    try:
        return results.get(timeout=timeout)
    except queue.Empty:
        return ("error", f"no answer from a trial process in {timeout:.0f} s")


def _kill_under(fragment: str) -> None:
    """End the processes this section started (Ray's daemons and workers under its tmp dir)."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fragment in cmd:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(d.name), signal.SIGKILL)


def environment(device: torch.device, dry: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "dry_run": dry, "device": str(device), "python": platform.python_version(),
        "torch": torch.__version__, "cpus": os.cpu_count(), "host": platform.node(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "ray_importable": importlib.util.find_spec("ray") is not None,
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        meta.update(gpu=props.name, gpu_mib=props.total_memory / work.MiB,
                    sms=props.multi_processor_count, cuda=torch.version.cuda,
                    tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
                    tf32_cudnn=torch.backends.cudnn.allow_tf32,
                    cudnn_benchmark=torch.backends.cudnn.benchmark)
    return meta


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


COLUMNS = ("images_per_s", "ms_per_step", "x_vs_1", "per_trial", "warmup_s", "seconds",
           "m_pairs_per_s", "window_s", "wall_s", "eval_s", "fd", "mem_ratio", "peak_alloc_mib",
           "peak_reserved_mib")


def markdown(meta: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """One table of every row (columns that some row fills), under a line on the machine."""
    cols = [c for c in COLUMNS if any(r.get(c) is not None for r in rows)]
    where = (f"{meta.get('gpu', meta['device'])}, torch {meta['torch']}, Python "
             f"{meta['python']}, {meta['cpus']} CPUs, {meta['date']}"
             + (" — DRY RUN (CPU, tiny sizes; not a measurement)" if meta["dry_run"] else ""))
    lines = [f"GPU benchmark: {where}; wall {meta.get('wall_s', 0):.0f} s", "",
             "| section | case | " + " | ".join(cols) + " | note |",
             "|" + "---|" * (len(cols) + 3)]
    for r in rows:
        cells = ["" if r.get(c) is None else _fmt(r[c]) for c in cols]
        lines.append(f"| {r['section']} | {r['case']} | " + " | ".join(cells)
                     + f" | {r['note']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes, same code")
    ap.add_argument("--out", type=Path, default=None, help="default: $OUT, else a temp folder")
    ap.add_argument("--budget", type=float, default=None, help="seconds for the whole run")
    ap.add_argument("--only", default="", help=f"comma-separated sections of {SECTIONS}")
    ap.add_argument("--skip", default="", help="comma-separated sections to leave out")
    args = ap.parse_args(argv)
    chosen = [s for s in (args.only.split(",") if args.only else SECTIONS) if s]
    skipped = {s for s in args.skip.split(",") if s}
    bad = [s for s in [*chosen, *skipped] if s not in SECTIONS]
    if bad:
        print(f"gpu_bench: unknown section {bad[0]!r}; sections are {', '.join(SECTIONS)}",
              file=sys.stderr)
        return 2
    sizes = DRY if args.dry_run else FULL
    if args.budget:
        sizes = Sizes(**{**sizes.__dict__, "budget_s": args.budget})
    if sizes.device == "cuda" and not torch.cuda.is_available():
        print("gpu_bench: no CUDA device visible (use --dry-run to check the code on the CPU)",
              file=sys.stderr)
        return 2
    out = args.out or (Path(os.environ["OUT"]) if os.environ.get("OUT") else
                       Path(tempfile.mkdtemp(prefix="gpu_bench_")))
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="gpu_bench_work_"))  # never under $OUT
    bench = Bench(sizes, out, scratch, args.dry_run)
    print(f"GPU benchmark on {bench.meta.get('gpu', bench.meta['device'])}"
          f"{' (dry run)' if args.dry_run else ''}; budget {sizes.budget_s:.0f} s", flush=True)
    run = {"trial": bench.section_trial, "knn": bench.section_knn,
           "precision": bench.section_precision,
           "packing": bench.section_packing,
           "compile": lambda: bench.section_precision(compile=True),
           "ray_cli": bench.section_ray_cli}
    failed = False
    try:
        bench.write()
        for name in SECTIONS:
            if name not in chosen or name in skipped:
                continue
            if not bench.fits(name):
                bench.skip(name, "-", "out of time")
                continue
            if name == "ray_cli":  # what the core needed, before this section imports the rest
                bench.meta["heavy_modules_in_core"] = sorted(
                    m for m in ("ray", "mlflow", "optuna", "cleanfid") if m in sys.modules)
            t0 = time.perf_counter()
            try:
                run[name]()
            except Exception as err:  # one broken section must not hide the others' figures
                failed = True
                bench.row(name, "-", note=f"FAILED: {type(err).__name__}: {err}"[:300])
            bench.meta.setdefault("section_s", {})[name] = time.perf_counter() - t0
            bench.write()
    finally:
        bench.meta.setdefault("heavy_modules_in_core", sorted(
            m for m in ("ray", "mlflow", "optuna", "cleanfid") if m in sys.modules))
        bench.write()
        shutil.rmtree(scratch, ignore_errors=True)
    print()
    print(markdown(bench.meta, bench.rows))
    print(f"written: {out / 'gpu_bench.json'}, {out / 'gpu_bench.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
