"""Line fidelity: does the colored page keep the sketch's lines, and only those?

Both images are reduced to line maps: the sketch's ink (gray below INK_LEVEL) and the
output's dark pixels (luma below INK_LEVEL). Recall is the share of ink pixels that are
still dark in the output (lines kept); precision the share of dark output pixels that are
ink (no smudges or lines invented). A tolerance of one pixel forgives anti-aliasing shifts.
Dark colors (black hair) lower the precision of a faithful output too, so compare it
between methods on the same images rather than against 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..imageio import INK_LEVEL
from .ssim import luma

TOLERANCE = 1  # pixels


def line_scores(generated: torch.Tensor, sketch: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image line precision, recall and F1 of (B, 3, H, W) outputs against (B, 1, H, W)
    sketches, both in [0, 1]. An image with no ink (or no dark output) scores 1 for that side."""
    ink = (sketch < INK_LEVEL).float()
    dark = (luma(generated) < INK_LEVEL).float()
    near_ink, near_dark = within_tolerance(ink), within_tolerance(dark)
    recall = _share(ink * near_dark, ink)
    precision = _share(dark * near_ink, dark)
    f1 = 2 * precision * recall / (precision + recall).clamp_min(1e-12)
    return {"line_precision": precision, "line_recall": recall, "line_f1": f1}


def within_tolerance(mask: torch.Tensor) -> torch.Tensor:
    """A (B, 1, H, W) 0/1 mask grown by TOLERANCE pixels each way, as a float 0/1 mask."""
    return F.max_pool2d(mask.float(), 2 * TOLERANCE + 1, stride=1, padding=TOLERANCE)


def _share(hits: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    hits, total = hits.flatten(1).sum(1), total.flatten(1).sum(1)
    return torch.where(total > 0, hits / total.clamp_min(1), torch.ones_like(total))
