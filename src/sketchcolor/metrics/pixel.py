"""Per-pixel fidelity metrics: PSNR and mean absolute error, one value per image."""

from __future__ import annotations

import torch

# PSNR is infinite for identical images; clamping the MSE at this fraction of
# data_range**2 caps it at 100 dB instead, so batch means and logs stay finite.
MSE_FLOOR = 1e-10


def check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    """Raise unless `a` and `b` are image batches (B, C, H, W) of the same shape."""
    if a.dim() != 4 or a.shape != b.shape:
        raise ValueError(f"expected two (B, C, H, W) batches of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, (B,); at most 100 dB (see MSE_FLOOR)."""
    check_pair(a, b)
    mse = (a - b).pow(2).mean(dim=(1, 2, 3)).clamp_min(MSE_FLOOR * data_range**2)
    return 10 * torch.log10(data_range**2 / mse)


def mean_abs_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference per image over all channels and pixels, (B,)."""
    check_pair(a, b)
    return (a - b).abs().mean(dim=(1, 2, 3))
