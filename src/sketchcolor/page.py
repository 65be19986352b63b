"""The one way a page goes through sketchcolor, and back.

    page (any size, shape, mode) -> gray -> fitted to a square -> network -> colors
        -> composed page at full size (lines kept, smoothing, layers, tiles)

Training-data decoding, validation, `evaluate`, `compare`, `colorize`, `study create` and
`serve` all fit pages with `fit` / `fit_pair` here; nothing else resizes a page.

Fitting is a letterbox: the page scaled so its longer side fills the square, centred on
white paper. Not a stretch: a squashed drawing is neither what users bring nor what the
network should learn, and 181 of the 192 artists' pages are not square. Not a crop either:
a crop drops part of the page that the user asked to have colored, so scores would judge
pages no user gets. A pair is fitted by one box for both halves, so a training pair looks
to the network exactly as a user's page does, and a scored result lines up with its truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

from .compose import flat_colors, lay_lines_over
from .imageio import to_gray, to_pil, to_tensor

PAGE_SCALE = 2  # colorize composes at 2 working sizes, where the page's lines are still resolved
PAPER = 1.0  # white, in the [-1, 1] tensor range
WHITE = {"L": 255, "RGB": (255, 255, 255)}


@dataclass(frozen=True)
class Box:
    """Where a fitted page sits on its paper: top, left, height, width in pixels."""

    top: int
    left: int
    height: int
    width: int

    def crop(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor[..., self.top : self.top + self.height, self.left : self.left + self.width]


def fit_box(width: int, height: int, side: int) -> Box:
    """The box a width x height page takes when fitted into a side x side square."""
    scale = side / max(width, height)
    fitted_w, fitted_h = max(1, round(width * scale)), max(1, round(height * scale))
    return Box((side - fitted_h) // 2, (side - fitted_w) // 2, fitted_h, fitted_w)


def fit(image: Image.Image, side: int) -> Image.Image:
    """`image` (L or RGB) letterboxed into a side x side square of white paper."""
    box = fit_box(image.width, image.height, side)
    scaled = _resize(image, (box.width, box.height))
    paper = Image.new(image.mode, (side, side), WHITE[image.mode])
    paper.paste(scaled, (box.left, box.top))
    return paper


def fit_pair(sketch: Image.Image, color: Image.Image, side: int) -> tuple[Image.Image, Image.Image]:
    """A (sketch, color) pair fitted by the same box: gray sketch, RGB color. A color image of
    another size than its sketch (paired folders) is first brought to the sketch's size."""
    if color.size != sketch.size:
        color = _resize(color, sketch.size)
    return fit(to_gray(sketch), side), fit(color.convert("RGB"), side)


def shrink(image: Image.Image, max_side: int) -> Image.Image:
    """The page scaled down (aspect kept) so its longer side is at most `max_side`."""
    scale = max_side / max(image.size)
    if scale >= 1:
        return image
    return _resize(image, (max(1, round(image.width * scale)), max(1, round(image.height * scale))))


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    # reducing_gap: a fast box pre-shrink for large pages, then bicubic; the result differs
    # from plain bicubic by under a gray level.
    if image.size == size:
        return image.copy()
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


@dataclass
class Region:
    """A page brought to processing resolution: the sketch (1, H, W) in [-1, 1] and where
    the page sits in it (paper may surround it)."""

    sketch: torch.Tensor
    box: Box

    def crop(self, tensor: torch.Tensor) -> torch.Tensor:
        return self.box.crop(tensor)


def fit_region(gray: Image.Image, side: int) -> Region:
    """The gray page fitted into a side x side square, as the network's input tensor."""
    return Region(to_tensor(fit(gray, side), 1), fit_box(gray.width, gray.height, side))


def tile_region(gray: Image.Image, size: int) -> Region:
    """For `--detail tiles`: the page scaled so its longer side is PAGE_SCALE * size, on
    paper only where needed to make each side at least `size` (one tile)."""
    scale = PAGE_SCALE * size / max(gray.size)
    width, height = max(1, round(gray.width * scale)), max(1, round(gray.height * scale))
    paper_h, paper_w = max(size, height), max(size, width)
    box = Box((paper_h - height) // 2, (paper_w - width) // 2, height, width)
    sketch = torch.full((1, paper_h, paper_w), PAPER)
    box_view = box.crop(sketch)
    box_view[:] = to_tensor(_resize(gray, (width, height)), 1)
    return Region(sketch, box)


@dataclass
class Layers:
    """One colorized page. With lines kept, also the layers it is made of, as a painter
    would stack them: the flat colors, and over them the sketch in multiply mode."""

    composite: Image.Image
    flat: Image.Image | None = None
    lines: Image.Image | None = None  # the page's own gray sketch

    def line_art(self) -> Image.Image:
        """The lines as black ink on transparency (alpha = darkness), for painting programs."""
        ink = Image.new("LA", self.lines.size, 0)
        ink.putalpha(self.lines.point(lambda value: 255 - value))
        return ink


def compose_page(colors: torch.Tensor, region: Region, gray: Image.Image, *, lines: str, smooth: int) -> Layers:
    """Colors (3, H, W) painted for a region -> the page at its full size. With lines "keep",
    the colors are flattened inside the region's lines, brought to the page's size and the
    page's own lines laid over them; with "model", the network's page, resized."""
    if lines == "model":
        return Layers(_resize(to_pil(region.crop(colors)), gray.size))
    flat = flat_colors(colors[None], region.sketch[None], smooth_steps=smooth)[0]
    flat_page = _resize(to_pil(region.crop(flat)), gray.size)
    return Layers(lay_lines_over(flat_page, gray), flat=flat_page, lines=gray)
