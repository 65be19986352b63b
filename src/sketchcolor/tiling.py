"""From a page of any size and shape to the network's square working size and back.

The page is processed at PAGE_SCALE times the working size: there its lines are still
resolved, so the colors can be flattened inside them (compose.py) before they are brought to
the page's full size. `whole` letterboxes the page onto white paper at that size, so its
aspect ratio is kept (a squashed drawing is not what the network learned), and the network
sees it scaled to its working size. `tiles` (`--detail tiles`) colorizes overlapping
working-size tiles of it, blended with a tent window so no seams show: more detail per
object on large pages.
Either way only working-size tensors go through the network, so memory stays bounded
whatever the page's resolution; the page itself is only ever touched as 8-bit PIL images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from PIL import Image

from .imageio import to_tensor

DETAIL_MODES = ("whole", "tiles")
PAGE_SCALE = 2  # the page's longer side becomes 2 working sizes: what evaluation scores at 256 px
PAPER = 1.0  # white, in the [-1, 1] tensor range


@dataclass
class Region:
    """A page brought to processing resolution: the sketch (1, H, W) in [-1, 1] and where
    the page sits in it (padding may surround it)."""

    sketch: torch.Tensor
    box: tuple[int, int, int, int]  # top, left, height, width

    def crop(self, tensor: torch.Tensor) -> torch.Tensor:
        top, left, height, width = self.box
        return tensor[..., top : top + height, left : left + width]


def letterbox(gray: Image.Image, size: int) -> Region:
    """The page scaled to fit a size x size square, centred on white paper."""
    scale = size / max(gray.size)
    width, height = max(1, round(gray.width * scale)), max(1, round(gray.height * scale))
    return _on_paper(gray.resize((width, height), Image.Resampling.BICUBIC, reducing_gap=3.0), size, size)


def tile_region(gray: Image.Image, size: int) -> Region:
    """The page scaled so its longer side is PAGE_SCALE * size (at least size x size with paper)."""
    scale = PAGE_SCALE * size / max(gray.size)
    width, height = max(1, round(gray.width * scale)), max(1, round(gray.height * scale))
    resized = gray.resize((width, height), Image.Resampling.BICUBIC, reducing_gap=3.0)
    return _on_paper(resized, max(size, height), max(size, width))


def _on_paper(gray: Image.Image, height: int, width: int) -> Region:
    sketch = torch.full((1, height, width), PAPER)
    top, left = (height - gray.height) // 2, (width - gray.width) // 2
    sketch[:, top : top + gray.height, left : left + gray.width] = to_tensor(gray, 1)
    return Region(sketch, (top, left, gray.height, gray.width))


def colorize_tiled(colorize: Callable[[torch.Tensor], torch.Tensor], sketch: torch.Tensor, size: int,
                   batch_size: int) -> torch.Tensor:
    """Colorize a (1, H, W) sketch (H, W >= size) in overlapping size x size tiles -> (3, H, W).

    Tiles overlap by half; each is weighted by a tent that is highest at its centre, and the
    weighted sum is normalised, so every pixel blends the tiles that see it best.
    """
    height, width = sketch.shape[-2:]
    corners = [(top, left) for top in _starts(height, size) for left in _starts(width, size)]
    ramp = 1 - torch.linspace(-1, 1, size).abs() + 1e-3
    window = ramp[:, None] * ramp[None, :]
    total = torch.zeros(3, height, width)
    weight = torch.zeros(1, height, width)
    for start in range(0, len(corners), batch_size):
        chunk = corners[start : start + batch_size]
        tiles = torch.stack([sketch[:, t : t + size, l : l + size] for t, l in chunk])
        for (top, left), colors in zip(chunk, colorize(tiles).cpu()):
            total[:, top : top + size, left : left + size] += colors * window
            weight[:, top : top + size, left : left + size] += window
    return total / weight


def _starts(length: int, size: int) -> list[int]:
    """Tile offsets along one side: stride size/2, the last tile flush with the end."""
    if length <= size:
        return [0]
    stride = max(1, size // 2)
    starts = list(range(0, length - size, stride))
    return starts + [length - size]
