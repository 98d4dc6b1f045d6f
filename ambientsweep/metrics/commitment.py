"""At which noise level does a sample commit to the training image it ends up copying?

A diagnostic for high-noise ambient training (Shah, Kalavasis, Klivans, Daras, ICML 2025;
reference/methods.md §3). Its argument: memorization is only *needed* at low noise, so if the
network regresses onto noisy copies for every sigma >= sigma_tn, sampling cannot steer towards
one particular training image while the noise is high. That helps only where the choice of the
copied image is made at high noise. Here we measure where it is made.

During sampling we record every call of the denoiser, D(x_i; sigma_i) (the x0 prediction of
EDM eq. 1's probability-flow ODE at the current point), and its nearest training image in
pixel L2, ``nn_i``. The last call's prediction is the sample itself (Heun's last step to
sigma = 0 is an Euler step that lands on D). A sample's **commitment noise level** is the
largest sigma_k such that every call at k and after has the same nearest neighbour as the final
sample:

    commit_sigma = sigma_k,   k = min { k : nn_j = nn_final for all j >= k }.

For a sample that the ratio test calls memorized, commit_sigma is the noise level from which
on its copy was already decided. If most copies commit below sigma_tn, the low-noise branch
(trained on the clean images) makes the choice and a noisy high-noise branch cannot prevent
it. The statistic depends on the sampler's grid (Heun, 18 steps: sigma_max = 80 down to 0.002).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ambientsweep.metrics.memorization import memorization, nearest_neighbours

__all__ = ["Commitment", "DenoiserCalls", "commitment", "commitment_sigmas"]


@dataclass(frozen=True)
class Commitment:
    """Per-sample commitment of one set of samples to the training set."""

    sigmas: np.ndarray  # [calls] noise level of each denoiser call, in call order
    nn: np.ndarray  # [calls, n] nearest training row of D(x; sigma) at each call
    final_nn: np.ndarray  # [n] nearest training row of the final sample
    memorized: np.ndarray  # [n] bool: the final sample passes the ratio test
    commit_sigma: np.ndarray  # [n] commitment noise level (0 if only the sample itself agrees)

    def memorized_commit(self) -> np.ndarray:
        """commit_sigma of the memorized samples only."""
        return self.commit_sigma[self.memorized]

    def share_committed_above(self, level: float) -> float:
        """Share of memorized samples whose copy was decided at a noise level >= `level`
        (NaN where no sample is memorized)."""
        mem = self.memorized_commit()
        return float((mem >= level).mean()) if mem.size else float("nan")


def commitment_sigmas(sigmas: np.ndarray, nn: np.ndarray, final_nn: np.ndarray) -> np.ndarray:
    """commit_sigma per sample from the recorded neighbours (see the module docstring).

    Args:
        sigmas: ``[calls]`` noise level of each call, in call order (non-increasing).
        nn: ``[calls, n]`` nearest training row at each call.
        final_nn: ``[n]`` nearest training row of each final sample.
    """
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if nn.ndim != 2 or nn.shape != (len(sigmas), len(final_nn)):
        raise ValueError(f"nn of shape {nn.shape} does not fit {len(sigmas)} calls x "
                         f"{len(final_nn)} samples")
    disagree = nn != final_nn[None, :]
    calls = len(sigmas)
    # Index of the last disagreeing call (-1 when none), reading the calls backwards.
    last_bad = np.where(disagree.any(0), calls - 1 - np.argmax(disagree[::-1], axis=0), -1)
    first_good = last_bad + 1
    return np.where(first_good < calls, sigmas[np.minimum(first_good, calls - 1)], 0.0)


class DenoiserCalls:
    """Context manager: record ``(sigma, output)`` of every forward call of `net`."""

    def __init__(self, net: torch.nn.Module) -> None:
        self.net = net
        self.sigmas: list[float] = []
        self.outputs: list[Tensor] = []

    def _hook(self, module: torch.nn.Module, args: tuple[object, ...], output: Tensor) -> None:
        if len(args) < 2:
            raise ValueError("commitment needs the denoiser called as net(x, sigma, ...)")
        sigma = torch.as_tensor(args[1]).reshape(-1)
        if sigma.numel() > 1 and not bool((sigma == sigma[0]).all()):
            raise ValueError("commitment needs one noise level per denoiser call")
        self.sigmas.append(float(sigma[0]))
        self.outputs.append(output.detach().float().cpu())

    def __enter__(self) -> DenoiserCalls:
        self._handle = self.net.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.remove()


def commitment(calls: DenoiserCalls, samples: Tensor, train: Tensor) -> Commitment:
    """Commitment of `samples` (the result of the recorded sampling run) to `train`.

    Args:
        calls: the denoiser calls recorded while `samples` were drawn.
        samples: ``[n, C, H, W]`` final samples (clamped as the evaluation clamps them).
        train: ``[m, C, H, W]`` clean training images, ``m >= 2``.
    """
    if not calls.outputs:
        raise ValueError("no denoiser call was recorded")
    if any(len(out) != len(samples) for out in calls.outputs):
        raise ValueError("every recorded call must cover all samples (one batch)")
    nn = np.stack([nearest_neighbours(out, train, k=1).index[:, 0].numpy()
                   for out in calls.outputs])
    report = memorization(samples, train)
    sigmas = np.asarray(calls.sigmas)
    return Commitment(sigmas=sigmas, nn=nn, final_nn=report.nn1, memorized=report.memorized,
                      commit_sigma=commitment_sigmas(sigmas, nn, report.nn1))
