"""Fréchet Inception Distance: the pure maths, the FID Inception network, a keyed cache.

The network is pytorch-fid's port of the TensorFlow FID Inception v3 (the same weights
file torch-fidelity uses), so scores are comparable with published ones. Nothing here
downloads: the weights file is found locally (`find_fid_weights`) or the caller stops
with `missing_weights_message()`.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from pytorch_fid.inception import FID_WEIGHTS_URL, FIDInceptionA, FIDInceptionC, FIDInceptionE_1, FIDInceptionE_2
from scipy import linalg
from torch import nn

from ..atomic import atomic_path
from ..errors import SketchcolorError
from ..local_weights import LocalWeights

FID_WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_ENV = "SKETCHCOLOR_FID_WEIGHTS"
FID_INPUT_SIZE = 299
# Inception3 children from the input to the final average pool (aux head and fc skipped).
FEATURE_LAYERS = (
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
    "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
    "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool",
)  # fmt: skip

Statistics = tuple[np.ndarray, np.ndarray]


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr(sqrt(sigma1 sigma2)) of two Gaussians."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"mismatched statistics: {mu1.shape} {sigma1.shape} vs {mu2.shape} {sigma2.shape}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr(sqrt(sigma1 @ sigma2)) for symmetric positive semi-definite covariances.

    sigma1 @ sigma2 is similar to the symmetric PSD matrix S = sqrt(sigma1) sigma2 sqrt(sigma1),
    so the trace of its root is the sum of the roots of S's eigenvalues. Two symmetric
    eigendecompositions take ~2 s at 2048 dimensions where scipy's general sqrtm takes ~25 s,
    and they stay real and finite for the singular covariances of small image sets.
    """
    values, vectors = linalg.eigh(sigma1)
    root1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    product = root1 @ sigma2 @ root1
    eigenvalues = linalg.eigvalsh((product + product.T) / 2)  # symmetrise away rounding
    return float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())


def feature_statistics(features: np.ndarray) -> Statistics:
    """Mean and covariance (rows are samples) of an (N, D) feature matrix, in float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise SketchcolorError(f"FID statistics need an (N, D) feature matrix with N >= 2, got {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def statistics_key(*parts: str) -> str:
    """24 hex digits of the sha256 of `parts` (JSON keeps ("ab", "c") and ("a", "bc") apart)."""
    return hashlib.sha256(json.dumps(list(parts)).encode()).hexdigest()[:24]


def cached_statistics(cache_dir: str | Path, key: str, compute: Callable[[], Statistics]) -> Statistics:
    """(mu, sigma) from `<cache_dir>/<key>.npz`, or from `compute()`, stored there atomically."""
    if not key or Path(key).name != key:
        raise ValueError(f"cache key must be a plain file name, got {key!r}")
    path = Path(cache_dir) / f"{key}.npz"
    cached = _read_statistics(path)
    if cached is not None:
        return cached
    mu, sigma = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # a file object stops savez adding ".npz"
        np.savez(handle, mu=mu, sigma=sigma)
    return mu, sigma


def _read_statistics(path: Path) -> Statistics | None:
    """The cached pair, or None when absent or unreadable (then it is recomputed and replaced)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return data["mu"], data["sigma"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None


FID_WEIGHTS = LocalWeights(FID_WEIGHTS_NAME, FID_WEIGHTS_URL, FID_WEIGHTS_ENV, "--fid-weights",
                           "FID weights", "FID needs", "the FID Inception v3")


def find_fid_weights(explicit: str | Path | None = None) -> Path | None:
    """The FID weights file (LocalWeights.find), or None."""
    return FID_WEIGHTS.find(explicit)


def missing_weights_message() -> str:
    return FID_WEIGHTS.missing_message()


def build_fid_inception() -> nn.Module:
    """pytorch-fid's FID Inception v3, randomly initialised (no download)."""
    net = torchvision.models.inception_v3(weights=None, num_classes=1008, aux_logits=False, init_weights=False)
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE_1(1280)
    net.Mixed_7c = FIDInceptionE_2(2048)
    return net


class InceptionFeatures(nn.Module):
    """Frozen FID Inception v3: images in [0, 1], any size -> (B, 2048) pool features."""

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        self.net = build_fid_inception()
        FID_WEIGHTS.load_into(self.net, weights)
        self.net.requires_grad_(False)
        self.eval()

    @staticmethod
    def random_state_dict() -> dict[str, torch.Tensor]:
        """A randomly initialised state dict that loads into this network (for tests).

        He-initialised convolutions keep activations at unit scale; PyTorch's default init
        shrinks them layer by layer into denormal floats, which the CPU computes 50x slower.
        """
        net = build_fid_inception()
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        return net.state_dict()

    def train(self, mode: bool = True) -> InceptionFeatures:
        # Always eval: batch-norm must use the stored statistics, or features would depend on the batch.
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Resize, then scale to [-1, 1], exactly as pytorch-fid does.
        x = F.interpolate(x, size=(FID_INPUT_SIZE, FID_INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        for name in FEATURE_LAYERS:
            x = getattr(self.net, name)(x)
        return x.flatten(1)
