"""How the memorization search and the Fréchet distance scale with the number of images.

Run: ``.venv/bin/python bench/metrics_scaling.py [--quick] [--device cuda]``

Nearest-neighbour search (k=2, the ratio test) of n samples among m training images, 64-dim
(8x8 pixels); then the Fréchet distance (feature statistics + matrix square root) at a few
sizes and feature dimensions. Prints a table; "x time / x work" compares each row with the
previous one (1.0 = linear in n*m for NN, in n*d^2 + d^3 for FD).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ambientsweep.metrics.fidelity import frechet_distance, gaussian_stats
from ambientsweep.metrics.memorization import nearest_neighbours

NN_SIZES = [(1_000, 1_000), (1_000, 10_000), (10_000, 10_000), (10_000, 50_000)]
FD_SIZES = [(500, 64), (10_000, 64), (2_000, 512), (10_000, 2048)]


def _timed(fn: object, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def bench_nn(sizes: list[tuple[int, int]], device: str, dim: int = 64) -> None:
    print(
        f"\nnearest neighbours, k=2, d={dim}, device={device}, torch threads="
        f"{torch.get_num_threads()}"
    )
    print(f"{'samples':>8} {'train':>8} {'seconds':>9} {'Mpairs/s':>9} {'x time / x work':>16}")
    prev: tuple[float, float] | None = None
    g = torch.Generator().manual_seed(0)
    for n, m in sizes:
        q = torch.rand(n, dim, generator=g) * 2 - 1
        k = torch.rand(m, dim, generator=g) * 2 - 1
        seconds = _timed(
            lambda q=q, k=k: nearest_neighbours(q, k, k=2, device=device),
            repeat=2 if n * m <= 1e8 else 1,
        )
        work = float(n) * m
        ratio = "" if prev is None else f"{(seconds / prev[0]) / (work / prev[1]):.2f}"
        print(f"{n:>8} {m:>8} {seconds:>9.3f} {work / seconds / 1e6:>9.0f} {ratio:>16}")
        prev = (seconds, work)


def bench_fd(sizes: list[tuple[int, int]]) -> None:
    print("\nFréchet distance (stats of both sets + distance), float64 numpy/scipy")
    print(f"{'n':>8} {'dim':>6} {'stats s':>9} {'distance s':>11} {'total s':>9}")
    rng = np.random.default_rng(0)
    for n, d in sizes:
        a = rng.normal(size=(n, d))
        b = rng.normal(size=(n, d)) + 0.1
        start = time.perf_counter()
        sa, sb = gaussian_stats(a), gaussian_stats(b)
        t_stats = time.perf_counter() - start
        t_fd = _timed(lambda sa=sa, sb=sb: frechet_distance(sa, sb), repeat=2)
        print(f"{n:>8} {d:>6} {t_stats:>9.3f} {t_fd:>11.3f} {t_stats + t_fd:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the two smallest sizes")
    parser.add_argument("--device", default="cpu", help="torch device for the NN search")
    args = parser.parse_args()
    nn_sizes = NN_SIZES[:2] if args.quick else NN_SIZES
    fd_sizes = FD_SIZES[:2] if args.quick else FD_SIZES
    bench_nn(nn_sizes, args.device)
    bench_fd(fd_sizes)


if __name__ == "__main__":
    main()
