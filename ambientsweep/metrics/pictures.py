"""Pictures of an evaluation: sample grid, memorization gallery, top-1 similarity histogram.

Images are tiny (8x8 digits), so they are upscaled with nearest-neighbour interpolation.
Figures use matplotlib's object API on the Agg canvas (no pyplot, no global backend switch).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from torch import Tensor

from ambientsweep.metrics.memorization import MemorizationReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["save_gallery", "save_grid", "save_similarity_histogram"]

_MIN_TILE_PX = 64


def _to_numpy(images: Tensor) -> np.ndarray:
    """``[n, C, H, W]`` in [-1, 1] -> ``[n, H, W, C]`` float in [0, 1]."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1)
    return x.numpy()


def save_grid(images: Tensor, path: Path, *, columns: int = 10, max_images: int = 100) -> Path:
    """Write the first ``max_images`` images as a grid PNG (1-pixel gaps), nearest-upscaled."""
    imgs = _to_numpy(images[:max_images])
    n, h, w, c = imgs.shape
    cols = max(1, min(columns, n))
    rows = -(-n // cols)
    canvas = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1, c), 0.5, dtype=np.float32)
    for i, img in enumerate(imgs):
        r, q = divmod(i, cols)
        canvas[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + q * (w + 1) : 1 + q * (w + 1) + w] = img
    scale = max(1, -(-_MIN_TILE_PX // max(h, w)))
    u8 = (canvas * 255).round().astype(np.uint8)
    pil = Image.fromarray(u8[..., 0] if c == 1 else u8)
    pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    pil.save(path)
    return path


def _show(ax: Axes, img: np.ndarray, title: str) -> None:
    image = img[..., 0] if img.shape[-1] == 1 else img
    ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_title(title, fontsize=7)
    ax.set_axis_off()


def save_gallery(
    samples: Tensor,
    train: Tensor,
    report: MemorizationReport,
    path: Path,
    *,
    count: int = 16,
    threshold: float = 1 / 3,
) -> Path:
    """The ``count`` samples with the smallest d1/d2, each beside its NN1 and NN2 training image.

    Each row reads: sample (its d1/d2 and whether the ratio test flags it), NN1 (d1), NN2 (d2).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    order = np.argsort(report.ratio, kind="stable")[: max(1, count)]
    s_img, t_img = _to_numpy(samples), _to_numpy(train)
    per_col = 3
    cols = 2 if len(order) > 8 else 1
    rows = -(-len(order) // cols)
    fig = Figure(figsize=(1.3 * per_col * cols, 1.45 * rows), dpi=110)
    FigureCanvasAgg(fig)
    for k, i in enumerate(order):
        r, c = k % rows, k // rows
        base = r * per_col * cols + c * per_col
        flag = "MEM" if report.memorized[i] else "ok"
        cells = (
            (s_img[i], f"#{i} d1/d2={report.ratio[i]:.2f} {flag}"),
            (t_img[report.nn1[i]], f"NN1 d1={report.d1[i]:.2f}"),
            (t_img[report.nn2[i]], f"NN2 d2={report.d2[i]:.2f}"),
        )
        for j, (img, title) in enumerate(cells):
            _show(fig.add_subplot(rows, per_col * cols, base + j + 1), img, title)
    fig.suptitle(f"most copied samples (memorized if d1 < {threshold:.2f} d2)", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def save_similarity_histogram(
    similarities: dict[str, np.ndarray], path: Path, *, threshold: float
) -> Path:
    """Histogram of top-1 cosine similarities, one series per label (space / target set)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 3.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    lo = min([float(np.min(s)) for s in similarities.values()] + [threshold - 0.05])
    bins = np.linspace(max(-1.0, lo), 1.0, 51)
    for label, sims in similarities.items():
        ax.hist(sims, bins=bins, alpha=0.55, label=label)
    ax.axvline(threshold, color="k", linestyle="--", linewidth=1, label=f"threshold {threshold}")
    ax.set_xlabel("top-1 cosine similarity to the training set")
    ax.set_ylabel("samples")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
