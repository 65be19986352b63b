"""Line fidelity: does the colored page keep the sketch's lines, and only those?

Both images are reduced to line maps: the sketch's ink (gray below INK_LEVEL) and the
output's dark pixels (luma below INK_LEVEL). Recall is the share of ink pixels that are
still dark in the output (lines kept). Precision is the share of the output's dark *marks*
that lie on the sketch's lines (no smudges or lines invented).

A mark is a dark pixel outside any dark area wider than WIDEST_LINE: such an area is a dark
color (black hair, a navy coat, brown hair at luma 0.45), which the color metrics score.
The sketch's lines include its faint ones (gray below LINE_LEVEL): colors multiplied under
a light pencil line darken it past INK_LEVEL, and that line is the artist's. Counting every
dark pixel as a line, as this measure did until session 24, made faithful outputs look
smudged: the real OpenMoji pages, whose lines are their sketches' by construction, scored
line precision 0.87 (0.99 now), and the models' whole line-F1 gap on OpenMoji val was brown
hair a few hundredths of luma either side of INK_LEVEL (MODEL_CARD.md, "The line measure
counts lines, not dark colors"). A tolerance of one pixel forgives anti-aliasing shifts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..imageio import INK_LEVEL
from .ssim import luma

TOLERANCE = 1  # pixels
# The widest stroke still counted as a line, as a share of the page's shorter side (6 px at
# 256 px). Chosen on the real OpenMoji val pages alone, whose lines are the sketch's, as the
# narrowest that brings their own precision to 0.99 (against ink: 0.977 with 4 px, 0.991
# with 6 px, 0.992 with 8 px).
WIDEST_LINE = 6 / 256
# The faintest gray that is still a drawn line, not paper (about page.py's TONE_MARK, 192 of 255;
# kept apart so that tuning screentone detection does not move this measure).
LINE_LEVEL = 0.75


def line_scores(generated: torch.Tensor, sketch: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image line precision, recall and F1 of (B, 3, H, W) outputs against (B, 1, H, W)
    sketches, both in [0, 1]. An image with no ink (or no dark output) scores 1 for that side."""
    ink = (sketch < INK_LEVEL).float()
    dark = (luma(generated) < INK_LEVEL).float()
    marks = dark - dark_areas(dark)
    near_lines = within_tolerance((sketch < LINE_LEVEL).float())
    recall = _share(ink * within_tolerance(dark), ink)
    precision = _share(marks * near_lines, marks)
    f1 = 2 * precision * recall / (precision + recall).clamp_min(1e-12)
    return {"line_precision": precision, "line_recall": recall, "line_f1": f1}


def within_tolerance(mask: torch.Tensor) -> torch.Tensor:
    """A (B, 1, H, W) 0/1 mask grown by TOLERANCE pixels each way, as a float 0/1 mask."""
    return F.max_pool2d(mask.float(), 2 * TOLERANCE + 1, stride=1, padding=TOLERANCE)


def dark_areas(dark: torch.Tensor) -> torch.Tensor:
    """The part of a (B, 1, H, W) 0/1 mask covered by squares wider than WIDEST_LINE that fit
    inside it (a morphological opening): dark colors, not strokes."""
    radius = max(1, round(WIDEST_LINE * min(dark.shape[-2:]) / 2))
    side = 2 * radius + 1
    # Beyond the page is not dark: a stroke along the edge must not fit a square there.
    eroded = -F.max_pool2d(-F.pad(dark, [radius] * 4), side, stride=1)
    return F.max_pool2d(eroded, side, stride=1, padding=radius)


def _share(hits: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    hits, total = hits.flatten(1).sum(1), total.flatten(1).sum(1)
    return torch.where(total > 0, hits / total.clamp_min(1), torch.ones_like(total))
