"""Keeping the artist's lines: the network paints at its small working size, and the result
is recombined with the sketch at full resolution the way artists layer a page.

1. `flat_colors`: remove the (blurry) lines the network drew, filling each line pixel with
   the average of the non-line colors around it, so only flat color regions remain;
2. the flat layer is resized to the page's size (smooth colors upscale well);
3. `multiply_lines`: the original sketch is laid over it in multiply mode: white paper
   lets the color through, ink darkens it, so every line stays exactly as drawn.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

LINE_MODES = ("keep", "model")
INK_THRESHOLD = 0.0  # sketch values in [-1, 1] below this (darker than mid-gray) are ink
FILL_REACH = 2  # line pixels are filled from non-line colors within this many pixels


def flat_colors(colors: torch.Tensor, sketches: torch.Tensor, reach: int = FILL_REACH) -> torch.Tensor:
    """Colors (B, 3, h, w) with the sketch's ink pixels (B, 1, h, w) replaced by nearby fill."""
    kernel = 2 * reach + 1
    ink = (sketches < INK_THRESHOLD).float()
    ink = F.max_pool2d(ink, 3, stride=1, padding=1)  # also the anti-aliased rim of each line
    paint = 1.0 - ink
    summed = F.avg_pool2d(colors * paint, kernel, stride=1, padding=reach, count_include_pad=False)
    weight = F.avg_pool2d(paint, kernel, stride=1, padding=reach, count_include_pad=False)
    filled = summed / weight.clamp_min(1e-6)
    # Where a line is wider than the reach there is no paint nearby: keep the network's color.
    filled = torch.where(weight > 1e-6, filled, colors)
    return torch.where(ink.bool(), filled, colors)


def multiply(flat: torch.Tensor, sketches: torch.Tensor) -> torch.Tensor:
    """A color layer (B, 3, h, w) with the sketch (B, 1, h, w) multiplied over, all in [-1, 1]."""
    return (flat + 1) * (sketches + 1) / 2 - 1


def render(painted: torch.Tensor, sketches: torch.Tensor, output: str) -> torch.Tensor:
    """The page a generator's output stands for (`generator.output` in its config): its own
    image, or for "flat" the color layer it painted with the sketch multiplied over."""
    return multiply(painted, sketches) if output == "flat" else painted


def multiply_lines(flat: Image.Image, sketch: Image.Image) -> Image.Image:
    """Lay the gray sketch over an RGB color layer of the same size in multiply mode."""
    color = np.asarray(flat.convert("RGB"), dtype=np.uint16)
    lines = np.asarray(sketch.convert("L"), dtype=np.uint16)[:, :, None]
    return Image.fromarray(((color * lines + 127) // 255).astype(np.uint8), "RGB")


def keep_lines(colors: torch.Tensor, sketches: torch.Tensor) -> torch.Tensor:
    """`flat_colors` then the sketch multiplied over, on tensors in [-1, 1] of one size:
    what `--lines keep` produces, for scoring it batched."""
    return multiply(flat_colors(colors, sketches), sketches)


def lines_kept(sketch: Image.Image, colored: Image.Image, ink_level: int = 128) -> bool:
    """Whether every ink pixel of the sketch (gray < ink_level) is at least as dark in every
    channel of the colored page: what `multiply_lines` guarantees at full size."""
    gray = np.asarray(sketch.convert("L"))
    if colored.size != sketch.size:
        return False
    brightest = np.asarray(colored.convert("RGB")).max(axis=2)
    ink = gray < ink_level
    return bool((brightest[ink] <= gray[ink]).all())
