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

import numpy as np
import torch
from PIL import Image, ImageFilter
from scipy import ndimage
from scipy.spatial import cKDTree

from .compose import flat_colors, lay_lines_over
from .imageio import INK_GRAY, to_gray, to_pil, to_tensor

PAGE_SCALE = 2  # colorize composes at 2 working sizes, where the page's lines are still resolved
PAPER = 1.0  # white, in the [-1, 1] tensor range
WHITE = {"L": 255, "RGB": (255, 255, 255)}
# Cleaning a captured page (`clean`). The network and the composition expect white paper and
# ink-dark lines (imageio.INK_LEVEL: where colors stop). Paper is most of a sketch, so the gray
# that PAPER_SHARE of its pixels reach or pass is its paper even under grain. A page whose paper
# is darker than PAPER_WHITE is divided by its sheet, estimated as the lightest gray around each
# point over BACKGROUND_WINDOW of the page's side (a flat field, as document scanners do), so an
# unevenly lit sheet turns white everywhere; then a page with no line as dark as ink gets its
# darkest LINE_SHARE of pixels made black. Chosen on validation pages (MODEL_CARD.md, "Scanned,
# faint and photographed pages").
PAPER_SHARE = 0.25
PAPER_WHITE = 224  # 8-bit gray: off-white paper lighter than this is left to the network
LINE_SHARE = 0.005
GRAIN_CLIP = 2.0  # in quartile spreads of the paper's gray (upper quartile - median)
BACKGROUND_WINDOW = 1 / 12  # wider than any line, narrower than the light's changes
MIN_LEVEL_RANGE = 16  # "lines" this close to white are the paper's grain: no lines to darken
# Screentone (a manga page's printed dot patterns) is turned into the gray shade it prints on a
# cleaned page, as a scanner's descreen does: the network was taught on lines, and reads a field
# of dots as ink, and with lines kept the dots would be drawn over the colors. A dot is a round
# mark (darker than TONE_MARK, its core ink-dark), no wider or taller than TONE_DOT of the page's
# longer side (at least TONE_DOT_MIN px), on a grid of alike ones: its TONE_NEIGHBOURS nearest
# round marks of about its area, all about as far from it (within TONE_GRID of the nearest), in
# opposite pairs. Tone is many alike dots on a grid; a pupil, a freckle, a dakuten or a dashed
# line is not. A page with fewer than TONE_MIN_DOTS such dots has no tone and is left alone.
# Chosen on validation pages (MODEL_CARD.md, "Screen-toned pages").
TONE_MARK = 192
TONE_DOT = 1 / 300
TONE_DOT_MIN = 6
TONE_NEIGHBOURS = 4
TONE_GRID = 1.5
TONE_OPPOSITE = 0.35  # of the nearest neighbour's distance
TONE_MIN_DOTS = 100
TONE_EDGE_ROWS = 2  # rows of dots beside the grid taken as its edge
TONE_ASPECT = 1.5  # round: its box at most this much longer one way than the other
TONE_FILL = 0.5  # round: filling at least this share of its box (a disc fills 0.79)


@dataclass(frozen=True)
class Box:
    """Where a fitted page sits on its paper: top, left, height, width in pixels."""

    top: int
    left: int
    height: int
    width: int

    def crop(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor[..., self.top : self.top + self.height, self.left : self.left + self.width]


def page_gray(image: Image.Image, clean: bool) -> Image.Image:
    """The page as the gray sketch it is colorized from; with `clean`, a gray or unevenly lit
    sheet made white, screentone turned into its shade and faint lines made ink-dark (a clean
    digital page comes back unchanged)."""
    gray = to_gray(image)
    if not clean:
        return gray
    pixels = np.asarray(gray, dtype=np.float32)
    if np.quantile(pixels, 1 - PAPER_SHARE) < PAPER_WHITE:
        flat = pixels / np.maximum(_sheet(gray), 1)
        # The sheet estimate is the grain's lightest: paper down to GRAIN_CLIP spreads of its
        # grain below its middle goes to white, so the grain is not drawn over the colors.
        middle, upper = np.quantile(flat, [1 - 2 * PAPER_SHARE, 1 - PAPER_SHARE])
        white = max(middle - GRAIN_CLIP * (upper - middle), 1e-3)
        pixels = np.clip(255 * flat / white, 0, 255)
    pixels = without_screentone(pixels)
    line = np.quantile(pixels, LINE_SHARE)
    if INK_GRAY < line < 255 - MIN_LEVEL_RANGE:  # no line as dark as ink, but lines there are
        pixels = np.clip(255 * (pixels - line) / (255 - line), 0, 255)
    return Image.fromarray(np.round(pixels).astype(np.uint8), mode="L")


def without_screentone(pixels: np.ndarray) -> np.ndarray:
    """The gray page (H, W) with its screentone turned into the flat gray shade it prints (as a
    scanner's descreen does); the page itself (not a copy) when it has none."""
    marks = pixels < TONE_MARK
    labels, count = ndimage.label(marks, structure=np.ones((3, 3)))
    if count < TONE_MIN_DOTS:
        return pixels
    boxes = ndimage.find_objects(labels)
    sides = np.array([(rows.stop - rows.start, cols.stop - cols.start) for rows, cols in boxes])
    centers = np.array([((rows.start + rows.stop) / 2, (cols.start + cols.stop) / 2) for rows, cols in boxes])
    area = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    small = sides.max(1) <= max(TONE_DOT_MIN, round(max(pixels.shape) * TONE_DOT))
    # Round: about as tall as wide and filling its box as a disc does (a dash or a bit of a
    # broken pencil line is long and thin).
    roundish = small & (sides.max(1) <= TONE_ASPECT * sides.min(1)) & (area >= TONE_FILL * sides.prod(1))
    # Printed dots are ink-black at their core; a thin line's antialiased gray breaks into
    # fragments near TONE_MARK.
    roundish &= np.bincount(labels[pixels < INK_GRAY], minlength=count + 1)[1:] > 0
    grid, spacing = _on_a_grid(centers[roundish], area[roundish])
    if len(grid) < TONE_MIN_DOTS:
        return pixels
    # Small marks beside the grid are its dots too: its edge rows, which lack a neighbour on
    # one side, and beyond them the dots cut by a tone's edge or by the page's.
    dots = np.zeros(count + 1, dtype=bool)
    candidates = np.flatnonzero(small)
    for _ in range(TONE_EDGE_ROWS):
        distance, nearest = cKDTree(grid).query(centers[candidates])
        beside = distance <= TONE_GRID * spacing[nearest]
        dots[candidates[beside] + 1] = True
        grid = np.concatenate([grid, centers[candidates[beside]]])
        spacing = np.concatenate([spacing, spacing[nearest[beside]]])
        candidates = candidates[~beside]
    dotted = dots[labels]
    return _shaded(pixels, dotted, marks & ~dotted, reach=max(1, int(np.ceil(np.median(spacing)))))


def _shaded(pixels: np.ndarray, dotted: np.ndarray, lines: np.ndarray, reach: int) -> np.ndarray:
    """The page with its toned areas (the dots and the paper between them, closed over `reach`
    pixels, about a grid spacing; lines excepted) each set to its mean gray around it: the
    continuous shade the tone prints. The shade keeps what the tone said (this is dark) without
    its dots; turning the dots to paper instead lost that and scored worse on validation."""
    # A closing by a square, as separable max and min filters (fast at any page size); past the
    # page's edge counts as toned, or the closing would strip the tone along it.
    near = ndimage.maximum_filter(dotted.view(np.uint8), size=2 * reach + 1, mode="constant", cval=0)
    closed = ndimage.minimum_filter(near, size=2 * reach + 1, mode="constant", cval=1).astype(bool)
    # A dot's antialiased rim, where it reaches past the closed area, is part of its tone too.
    rims = ndimage.binary_dilation(dotted, structure=np.ones((3, 3)))
    toned = (closed | rims) & ~lines
    # A Gaussian as wide as the grid's spacing: a box would let the dots' period ripple through.
    share = ndimage.gaussian_filter(toned.astype(np.float32), reach)
    total = ndimage.gaussian_filter(np.where(toned, pixels, 0).astype(np.float32), reach)
    return np.where(toned, total / np.maximum(share, 1e-6), pixels)


def _on_a_grid(centers: np.ndarray, area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The centers of the round marks that sit on a grid of alike ones, as printed tone does
    (their TONE_NEIGHBOURS nearest neighbours a third to three times their area and all within
    TONE_GRID of the nearest one's distance), and the grid's spacing at each."""
    if len(centers) <= TONE_NEIGHBOURS:
        return centers[:0], area[:0].astype(float)
    distance, nearest = cKDTree(centers).query(centers, k=TONE_NEIGHBOURS + 1)
    distance, nearest = distance[:, 1:], nearest[:, 1:]  # each mark's own center comes first
    ratio = area[nearest] / area[:, None]
    on_grid = ((ratio >= 1 / 3) & (ratio <= 3)).all(axis=1) & (distance[:, -1] <= TONE_GRID * distance[:, 0])
    # On a grid the neighbours come in opposite pairs: each offset's opposite is another's.
    offsets = centers[nearest] - centers[:, None]
    gaps = np.linalg.norm(offsets[:, :, None] + offsets[:, None], axis=3)
    on_grid &= (gaps.min(axis=2) <= TONE_OPPOSITE * distance[:, :1]).all(axis=1)
    return centers[on_grid], distance[on_grid, 0]


def _sheet(gray: Image.Image) -> np.ndarray:
    """The sheet under the lines: the lightest gray within BACKGROUND_WINDOW of each point,
    found on a 96 px copy of the page (fast at any size) and smoothed."""
    scale = 96 / max(gray.size)
    small = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))),
                        Image.Resampling.BOX)
    window = 2 * round(96 * BACKGROUND_WINDOW / 2) + 1
    sheet = small.filter(ImageFilter.MaxFilter(window)).filter(ImageFilter.BoxBlur(window // 2))
    return np.asarray(sheet.resize(gray.size, Image.Resampling.BILINEAR), dtype=np.float32)


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
