"""Structural similarity (Wang et al. 2004), batched, as scikit-image computes it.

The local statistics come from a Gaussian window applied as two 1-D convolutions, one
group per channel, over the 'valid' region only: scikit-image filters the padded image
and then crops `window // 2` pixels from each border, which leaves exactly these values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import SketchcolorError
from .pixel import check_pair

K1, K2 = 0.01, 0.03
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601


def luma(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB -> (B, 1, H, W) BT.601 luminance; a (B, 1, H, W) batch is returned as is."""
    if x.shape[1] == 1:
        return x
    weights = torch.tensor(LUMA_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


def gaussian_window(size: int, sigma: float, *, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Normalised 1-D Gaussian of `size` taps centred on the middle one."""
    offsets = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    window = torch.exp(-(offsets**2) / (2 * sigma**2))
    return window / window.sum()


def _blur(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filter of every channel of `x` on its own."""
    channels, size = x.shape[1], window.numel()
    x = F.conv2d(x, window.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)
    return F.conv2d(x, window.view(1, 1, size, 1).expand(channels, 1, size, 1), groups=channels)


def ssim(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    window: int = 11,
    sigma: float = 1.5,
    data_range: float = 1.0,
    channels: str = "rgb",
) -> torch.Tensor:
    """Mean SSIM per image, (B,), for (B, 3, H, W) or (B, 1, H, W) batches.

    `channels="rgb"` averages the per-channel SSIM maps; `channels="luma"` compares the
    BT.601 luminance. Matches `skimage.metrics.structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False)`; the means are taken over the valid region.
    """
    check_pair(a, b)
    if channels not in ("rgb", "luma"):
        raise ValueError(f"channels must be 'rgb' or 'luma', got {channels!r}")
    if min(a.shape[-2:]) < window:
        raise SketchcolorError(f"SSIM needs images of at least {window}x{window} pixels, got {tuple(a.shape[-2:])}")
    if channels == "luma":
        a, b = luma(a), luma(b)
    count = a.shape[1]
    kernel = gaussian_window(window, sigma, dtype=a.dtype, device=a.device)
    # One convolution pass over the five maps whose local means SSIM needs.
    stats = _blur(torch.cat([a, b, a * a, b * b, a * b], dim=1), kernel)
    mu_a, mu_b, aa, bb, ab = stats.split(count, dim=1)
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    numerator = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    denominator = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return (numerator / denominator).mean(dim=(1, 2, 3))
