"""Image metrics as pure, batched functions: (B, C, H, W) tensors in [0, 1] -> one value per image.

FID is split the same way: `InceptionFeatures` turns images into features, and
`feature_statistics` / `frechet_distance` are plain numpy on those features. `mean_ci`
turns a set of per-image (or per-rating) scores into a mean with its confidence interval, and
`pairs_to_resolve` says how many pairs an unresolved difference would need.
"""

from .color import ciede2000, colorfulness, delta_e_2000, rgb_to_lab
from .confidence import Estimate, mean_ci, pairs_to_resolve
from .fid import (
    FID_WEIGHTS_ENV,
    FID_WEIGHTS_NAME,
    InceptionFeatures,
    cached_statistics,
    feature_statistics,
    find_fid_weights,
    frechet_distance,
    missing_weights_message,
    statistics_key,
)
from .pixel import mean_abs_error, psnr
from .ssim import luma, ssim

__all__ = [
    "Estimate",
    "FID_WEIGHTS_ENV",
    "FID_WEIGHTS_NAME",
    "InceptionFeatures",
    "cached_statistics",
    "ciede2000",
    "colorfulness",
    "delta_e_2000",
    "feature_statistics",
    "find_fid_weights",
    "frechet_distance",
    "luma",
    "mean_ci",
    "mean_abs_error",
    "missing_weights_message",
    "pairs_to_resolve",
    "psnr",
    "rgb_to_lab",
    "ssim",
    "statistics_key",
]
