"""Whether a colorization follows a color hint: adherence inside the hinted region, leakage outside.

A hint's region is the line-enclosed area it was dropped in: the connected component of
non-line pixels of the sketch under the hint's mark. Adherence is the CIEDE2000 difference
between the hint's color and the output's median color in that region (0: the region took
the hint's color). Leakage is the share of pixels outside the region whose color is within
LEAK_DELTA_E of the hint's, minus that share in the output without hints: the hint's color
spreading where the artist did not put it.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from ..imageio import INK_LEVEL
from .color import delta_e_2000, rgb_to_lab

LEAK_DELTA_E = 10.0  # a pixel this close to the hint's color counts as the hint's color


def line_regions(sketch: torch.Tensor) -> np.ndarray:
    """(1, H, W) sketch in [0, 1] -> (H, W) labels of its line-enclosed regions (0: lines)."""
    paper = sketch[0].numpy() > INK_LEVEL
    labels, _ = ndimage.label(paper)  # 4-connected: a diagonal gap in a line does not join regions
    return labels


def hinted_region(labels: np.ndarray, mark: np.ndarray) -> np.ndarray | None:
    """The region most of a hint's mark (an (H, W) bool mask) lies in; None if it lies on lines."""
    under = labels[mark & (labels > 0)]
    if under.size == 0:
        return None
    return labels == np.bincount(under).argmax()


def adherence(generated: torch.Tensor, region: np.ndarray, color: tuple[int, int, int]) -> float:
    """CIEDE2000 between `color` (8-bit RGB) and the median color of (3, H, W) `generated` in
    [0, 1] over the region."""
    inside = generated[:, torch.from_numpy(region)]  # (3, N)
    median = inside.median(dim=1).values
    hint = torch.tensor(color, dtype=torch.float32) / 255
    lab = rgb_to_lab(torch.stack([median, hint])[..., None, None])
    return float(delta_e_2000(lab[:1], lab[1:]).flatten()[0])


def leakage(generated: torch.Tensor, plain: torch.Tensor, region: np.ndarray, page: np.ndarray,
            color: tuple[int, int, int]) -> float:
    """Share of the page's pixels outside `region` that took the hint's color, beyond those
    that had it without hints. `page` masks the page's own pixels (not the letterbox paper)."""
    outside = torch.from_numpy(page & ~region)
    if not outside.any():
        return 0.0
    hint = rgb_to_lab((torch.tensor(color, dtype=torch.float32) / 255)[None, :, None, None])

    def share(image: torch.Tensor) -> float:
        near = delta_e_2000(rgb_to_lab(image[None]), hint)[0] < LEAK_DELTA_E
        return float(near[outside].float().mean())

    return share(generated) - share(plain)
