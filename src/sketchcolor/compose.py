"""Keeping the artist's lines: the network paints at its small working size, and the result
is recombined with the sketch at full resolution the way artists layer a page.

1. `flat_colors`: smooth the network's colors inside the regions the sketch's lines enclose
   (never across a line), then remove the (blurry) lines the network drew, filling each line
   pixel with the average of the non-line colors around it, so only flat color regions remain;
2. the flat layer is resized to the page's size (smooth colors upscale well);
3. `lay_lines_over`: the original sketch is laid over it in multiply mode: white paper
   lets the color through, ink darkens it, so every line stays exactly as drawn.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageChops

from .imageio import INK_GRAY, INK_THRESHOLD  # sketch values below these (darker than mid-gray) are ink

LINE_MODES = ("keep", "model")
FILL_REACH = 2  # line pixels are filled from non-line colors within this many pixels
# Rounds of line-bounded smoothing. Chosen on validation pairs at 256 px, the size `colorize`
# composes at for the bundled model: more rounds improved SSIM, PSNR and CIEDE2000 of both
# models tried up to 256; past that the bundled one's colors fade (MODEL_CARD.md).
SMOOTH_STEPS = 256


def flat_colors(colors: torch.Tensor, sketches: torch.Tensor, reach: int = FILL_REACH,
                smooth_steps: int = SMOOTH_STEPS) -> torch.Tensor:
    """Colors (B, 3, h, w) smoothed inside the lines of the sketches (B, 1, h, w), with the
    sketch's ink pixels replaced by nearby fill."""
    kernel = 2 * reach + 1
    ink = (sketches < INK_THRESHOLD).float()
    ink = F.max_pool2d(ink, 3, stride=1, padding=1)  # also the anti-aliased rim of each line
    paint = 1.0 - ink
    colors = smooth_within_lines(colors, paint, smooth_steps)
    summed = F.avg_pool2d(colors * paint, kernel, stride=1, padding=reach, count_include_pad=False)
    weight = F.avg_pool2d(paint, kernel, stride=1, padding=reach, count_include_pad=False)
    filled = summed / weight.clamp_min(1e-6)
    # Where a line is wider than the reach there is no paint nearby: keep the network's color.
    filled = torch.where(weight > 1e-6, filled, colors)
    return torch.where(ink.bool(), filled, colors)


def smooth_within_lines(colors: torch.Tensor, paint: torch.Tensor, steps: int) -> torch.Tensor:
    """Average every paint pixel (paint == 1) with its paint neighbours above, below, left and
    right, `steps` times. Color spreads only between edge-sharing paint pixels, so it cannot
    pass a line (even a one-pixel diagonal one): the network's noise and blotches even out
    inside each region the lines enclose while the color edges stay on the lines."""
    if steps <= 0:
        return colors
    # One page at a time: a page's maps stay in the CPU cache across the steps (4x faster
    # than a batch of 8 at 256 px).
    return torch.cat([_smooth_page(page[None], mask[None], steps) for page, mask in zip(colors, paint)])


def _smooth_page(colors: torch.Tensor, paint: torch.Tensor, steps: int) -> torch.Tensor:
    share = (paint / cross_sum(paint).clamp_min(1.0))[0]  # zero on ink: ink pixels never feed their neighbours
    # Two zero-bordered buffers, each step written into the other in place: the same sums
    # as cross_sum without a padded copy and four temporaries per step (1.5-2x faster here).
    current, following = (colors.new_zeros(colors.shape[1], colors.shape[2] + 2, colors.shape[3] + 2)
                          for _ in range(2))
    current[:, 1:-1, 1:-1] = colors[0] * paint[0]
    for _ in range(steps):
        inner = following[:, 1:-1, 1:-1]
        torch.add(current[:, 1:-1, 1:-1], current[:, :-2, 1:-1], out=inner)
        inner += current[:, 2:, 1:-1]
        inner += current[:, 1:-1, :-2]
        inner += current[:, 1:-1, 2:]
        inner *= share
        current, following = following, current
    return torch.where(paint.bool(), current[None, :, 1:-1, 1:-1], colors)


def cross_sum(x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Each pixel plus its four edge neighbours (zero beyond the border), of a tensor or an
    array alike (hints.spread_hints runs its fills in NumPy)."""
    if isinstance(x, np.ndarray):
        padded = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)])
    else:
        padded = F.pad(x, (1, 1, 1, 1))
    return (padded[..., 1:-1, 1:-1] + padded[..., :-2, 1:-1] + padded[..., 2:, 1:-1]
            + padded[..., 1:-1, :-2] + padded[..., 1:-1, 2:])


def multiply(flat: torch.Tensor, sketches: torch.Tensor) -> torch.Tensor:
    """A color layer (B, 3, h, w) with the sketch (B, 1, h, w) multiplied over, all in [-1, 1]."""
    return (flat + 1) * (sketches + 1) / 2 - 1


def render(painted: torch.Tensor, sketches: torch.Tensor, output: str) -> torch.Tensor:
    """The page a generator's output stands for (`generator.output` in its config): its own
    image, or for "flat" the color layer it painted with the sketch multiplied over."""
    return multiply(painted, sketches) if output == "flat" else painted


def lay_lines_over(flat: Image.Image, sketch: Image.Image) -> Image.Image:
    """Lay the gray sketch over an RGB color layer of the same size in multiply mode (each
    channel: color * line // 255, Pillow's multiply, twice as fast as the same in NumPy)."""
    return ImageChops.multiply(flat.convert("RGB"), sketch.convert("L").convert("RGB"))


def lines_intact(sketch: Image.Image, colored: Image.Image, ink_level: float = INK_GRAY) -> bool:
    """Whether every ink pixel of the sketch (gray < ink_level) is at least as dark in every
    channel of the colored page: what `lay_lines_over` guarantees at full size."""
    gray = np.asarray(sketch.convert("L"))
    if colored.size != sketch.size:
        return False
    brightest = np.asarray(colored.convert("RGB")).max(axis=2)
    ink = gray < ink_level
    return bool((brightest[ink] <= gray[ink]).all())
