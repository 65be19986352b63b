"""Color hints: dots and strokes of color an artist puts on a sketch, and the network's view of them.

One representation (`Hints`: marks in page pixels or 0-1 coordinates, plus an optional hint
layer image) comes from a JSON file, a painting program's layer, the web page or the
simulation below, and one function, `draw_hints`, turns it into the network's extra input
channels, in training, evaluation, the CLI and the server alike:

    channels 0-2: the hint's RGB in [-1, 1] where there is a hint, 0 elsewhere
    channel 3:    the mask, 1 where there is a hint

and, for a generator with `generator.hint_spread`, each hint's color carried a little way
through the paper around it up to the lines (`spread_hints`; SPREAD_MASK in channel 3 there).

Hint files (JSON) state their units once for all positions and sizes:

    {"units": "pixels",           # or "relative": 0-1 of the page's width and height
     "points":  [{"x": 120, "y": 80, "color": "#d03030", "radius": 6}],
     "strokes": [{"points": [[10, 10], [60, 40]], "color": [40, 90, 200], "width": 8}]}

Radii and widths in relative files are fractions of the page's longer side; left out, they
are RADIUS and WIDTH of it. Training hints are drawn from the true colors (`simulate_hints`)
the way ideepcolor and PaintsChainer draw theirs: a share of samples with none, a geometric
number of small dots and short strokes on non-line pixels, colored by the mean true color
under them with a little jitter.
"""

from __future__ import annotations

import colorsys
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageColor, ImageDraw

from .compose import cross_sum
from .config import HintConfig
from .errors import SketchcolorError
from .imageio import INK_GRAY, INK_THRESHOLD, read_layer
from .page import Box

HINT_CHANNELS = 4  # RGB x mask, and the mask (1 on a hint, SPREAD_MASK where its color was spread)
UNITS = ("pixels", "relative")
RADIUS = 0.01  # default dot radius, as a fraction of the page's longer side
WIDTH = 0.015  # default stroke width, likewise
LAYER_OPAQUE = 64  # alpha (0-255) from which a pixel of a hint layer, once fitted, is a hint


@dataclass(frozen=True)
class Mark:
    """A dot (one point, `size` its radius) or a stroke (a polyline, `size` its width), in the
    units of the Hints that hold it."""

    points: tuple[tuple[float, float], ...]
    color: tuple[int, int, int]
    size: float

    @property
    def is_dot(self) -> bool:
        return len(self.points) == 1


@dataclass(frozen=True)
class Hints:
    """Everything an artist said about colors on one page. `layer` is an RGBA image of the
    page's size whose opaque pixels are hints (a painting program's hint layer)."""

    marks: tuple[Mark, ...] = ()
    units: str = "pixels"
    layer: Image.Image | None = field(default=None, compare=False)

    def __bool__(self) -> bool:
        return bool(self.marks) or self.layer is not None

    def check(self, page_size: tuple[int, int]) -> None:
        """Raise one clear error if a mark lies outside the page or the layer is another size."""
        width, height = page_size
        if self.layer is not None and self.layer.size != page_size:
            raise SketchcolorError(f"hint layer is {self.layer.width}x{self.layer.height} but the page is "
                                   f"{width}x{height}: export the layer at the page's size")
        limit = (1.0, 1.0) if self.units == "relative" else (float(width), float(height))
        for mark in self.marks:
            for x, y in mark.points:
                if not (0 <= x <= limit[0] and 0 <= y <= limit[1]):
                    where = "0-1 coordinates" if self.units == "relative" else f"the {width}x{height} page"
                    raise SketchcolorError(f"hint point ({x:g}, {y:g}) is outside {where}")

    def to_json(self) -> dict:
        """The JSON hint-file form (the layer, an image, is not part of it)."""
        def color(mark: Mark) -> str:
            return "#{:02x}{:02x}{:02x}".format(*mark.color)

        return {"units": self.units,
                "points": [{"x": m.points[0][0], "y": m.points[0][1], "color": color(m), "radius": m.size}
                           for m in self.marks if m.is_dot],
                "strokes": [{"points": [list(p) for p in m.points], "color": color(m), "width": m.size}
                            for m in self.marks if not m.is_dot]}


# --- reading hints ---------------------------------------------------------------------
def parse_hints(data: str | bytes | dict, source: str = "hints") -> Hints:
    """Hints from the JSON hint-file form (text or already parsed); one error line naming the
    problem when it is not valid."""
    if not isinstance(data, dict):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as err:
            raise SketchcolorError(f"{source} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise SketchcolorError(f"{source} must be a JSON object with points and/or strokes")
    unknown = set(data) - {"units", "points", "strokes"}
    if unknown:
        raise SketchcolorError(f"{source} has unknown key(s) {sorted(unknown)}: expected units, points, strokes")
    units = data.get("units", "pixels")
    if units not in UNITS:
        raise SketchcolorError(f"{source}: units must be one of {', '.join(UNITS)}, not {units!r}")
    marks = [_dot(item, f"{source}: points[{i}]") for i, item in enumerate(_list(data, "points", source))]
    marks += [_stroke(item, f"{source}: strokes[{i}]") for i, item in enumerate(_list(data, "strokes", source))]
    return Hints(tuple(marks), units)


def read_hints(path: str | Path, page_size: tuple[int, int] | None = None) -> Hints:
    """A hint file: `.json`, or an image (RGBA hint layer). Checked against the page when its
    size is given."""
    path = Path(path)
    if not path.is_file():
        raise SketchcolorError(f"hint file {path} not found")
    if path.suffix.lower() == ".json":
        hints = parse_hints(path.read_bytes(), source=str(path))
    else:
        hints = hint_layer(read_layer(path))
    if page_size is not None:
        try:
            hints.check(page_size)
        except SketchcolorError as err:
            raise SketchcolorError(f"{path}: {err}") from None
    return hints


def as_hints(value: "Hints | dict | str | Path | Image.Image | None") -> Hints | None:
    """What the Python API accepts as one page's hints: Hints, the JSON form as a dict, a hint
    file's path, or a hint-layer image."""
    if value is None or isinstance(value, Hints):
        return value
    if isinstance(value, dict):
        return parse_hints(value)
    if isinstance(value, Image.Image):
        if "A" not in value.getbands():
            raise SketchcolorError("a hint layer must have transparency (RGBA): only the hints are opaque")
        return hint_layer(value)
    if isinstance(value, (str, Path)):
        return read_hints(value)
    raise SketchcolorError(f"hints must be Hints, a dict, a hint file's path or a layer image, not {type(value).__name__}")


def hint_layer(image: Image.Image) -> Hints:
    """Hints from a hint layer (RGBA, as imageio.read_layer decodes it): its opaque pixels."""
    layer = image.convert("RGBA")
    layer.load()
    return Hints(layer=layer)


def _list(data: dict, key: str, source: str) -> list:
    items = data.get(key, [])
    if not isinstance(items, list):
        raise SketchcolorError(f"{source}: {key} must be a list")
    return items


def _dot(item, where: str) -> Mark:
    if not isinstance(item, dict) or "x" not in item or "y" not in item:
        raise SketchcolorError(f"{where} must be an object with x, y and color")
    point = (_number(item["x"], f"{where}.x"), _number(item["y"], f"{where}.y"))
    return Mark((point,), _color(item.get("color"), where), _size(item.get("radius"), f"{where}.radius"))


def _stroke(item, where: str) -> Mark:
    points = item.get("points") if isinstance(item, dict) else None
    if not isinstance(points, list) or len(points) < 2:
        raise SketchcolorError(f"{where} must be an object with points (2 or more [x, y]) and color")
    polyline = []
    for i, point in enumerate(points):
        if not isinstance(point, (list, tuple)) or len(point) != 2:
            raise SketchcolorError(f"{where}.points[{i}] must be [x, y]")
        polyline.append((_number(point[0], f"{where}.points[{i}]"), _number(point[1], f"{where}.points[{i}]")))
    return Mark(tuple(polyline), _color(item.get("color"), where), _size(item.get("width"), f"{where}.width"))


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SketchcolorError(f"{where} must be a number, not {value!r}")
    return float(value)


def _size(value, where: str) -> float:
    """A radius or width; 0 means "the default" (RADIUS or WIDTH of the page)."""
    if value is None:
        return 0.0
    size = _number(value, where)
    if size < 0:
        raise SketchcolorError(f"{where} must not be negative, not {value!r}")
    return size


def _color(value, where: str) -> tuple[int, int, int]:
    if isinstance(value, str):
        try:
            return ImageColor.getrgb(value)[:3]
        except ValueError:
            pass
    elif (isinstance(value, (list, tuple)) and len(value) == 3
          and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value)):
        return tuple(value)
    raise SketchcolorError(f"{where}.color must be '#rrggbb' or [r, g, b] in 0-255, not {value!r}")


# --- the network's view ----------------------------------------------------------------
SPREAD_MASK = 0.5  # the mask channel where a hint's color was spread (1 on the hint itself)
# Sketch values (in [-1, 1]) that stop a spread. The network's input stops at faint lines too
# (gray 204 and below: what it was trained with); a fill stops where `colorize` evens colors
# out and where the hint metrics end a region: at ink (imageio's INK_THRESHOLD).
INPUT_BARRIER = 0.6
FILL_BARRIER = INK_THRESHOLD


def draw_hints(hints: Hints | None, page_size: tuple[int, int], box: Box, canvas: tuple[int, int], *,
               sketch: torch.Tensor | None = None, reach: int = 0, barrier: float = INPUT_BARRIER) -> torch.Tensor:
    """The hint channels (4, H, W) for a page of `page_size` (width, height) placed at `box`
    on a canvas of (height, width) pixels: what the network sees beside the sketch. With the
    canvas' `sketch` and a `reach`, each hint's color is also spread through the paper around
    it (spread_hints).

    Every mark covers at least one canvas pixel however small the page is drawn, so no hint
    the user gave is lost to the scale."""
    height, width = canvas
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    if hints:
        scale_x, scale_y = box.width / page_size[0], box.height / page_size[1]
        if hints.layer is not None:
            fitted = hints.layer.resize((box.width, box.height), Image.Resampling.BOX)
            image.alpha_composite(fitted, (box.left, box.top))
        draw = ImageDraw.Draw(image)
        for mark in hints.marks:
            _draw_mark(draw, _to_canvas(mark, hints.units, page_size, box, scale_x, scale_y))
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    mask = (pixels[..., 3:] >= LAYER_OPAQUE / 255).astype(np.float32)
    channels = np.concatenate([(pixels[..., :3] * 2 - 1) * mask, mask], axis=2)
    channels = torch.from_numpy(np.ascontiguousarray(channels.transpose(2, 0, 1)))
    return spread_hints(channels, sketch, reach, barrier) if sketch is not None and reach > 0 else channels


def spread_hints(channels: torch.Tensor, sketch: torch.Tensor, reach: int, barrier: float = INPUT_BARRIER) -> torch.Tensor:
    """Hint channels (4, H, W) with each hint's color carried up to `reach` pixels through the
    paper around it, never across a line of the sketch (1, h, w), in 4-connected steps, so a
    diagonal gap in a line holds too; where two spreads meet, their colors mix. The network
    still decides what to paint: this only puts the artist's color over the region it was
    dropped in, which a small generator otherwise learns to do slowly."""
    if not channels[3].any():
        return channels
    height, width = channels.shape[-2:]
    paper = (F.interpolate(sketch[None].float(), size=(height, width), mode="area")[0, 0] > barrier).numpy()
    # In NumPy: a fill is hundreds of steps on small arrays, where PyTorch's per-operation
    # overhead (worst in the threads pages are composed on) cost 2-3x the work. Same values.
    given = channels.numpy()
    hinted = given[3] > 0
    filled, colors = hinted.copy(), given[:3] * hinted
    for _ in range(reach):
        total, count = cross_sum(colors), cross_sum(filled.astype(np.float32))
        reached = (count > 0) & ~filled & paper
        if not reached.any():
            break
        colors = np.where(reached, total / np.maximum(count, 1), colors)
        filled |= reached
    mask = np.where(hinted, 1.0, np.where(filled, SPREAD_MASK, 0.0)).astype(np.float32)
    return torch.from_numpy(np.concatenate([colors * filled, mask[None]]))


def fill_hints(channels: torch.Tensor, sketch: torch.Tensor, reach: int, barrier: float = FILL_BARRIER,
               gap: int = 0, claim: int = 0) -> torch.Tensor:
    """Hint channels (4, H, W) spread as a painting program's bucket fill from each hint, up to
    `reach` pixels, bounded by the lines of the sketch (1, H, W). A `gap` closes gaps in an
    outline up to 2 * gap wide for good: nothing runs through them ("close gap").

    Where hints compete, each first `claim`s the area its outline encloses with gaps up to
    2 * claim closed; only then does the fill run on through those gaps, into what no hint
    claimed. A hint beyond a small gap no longer paints the region a hint inside it was
    dropped in, while a lone hint fills what it did (MODEL_CARD.md, "Which hint a region
    belongs to")."""
    sketch = F.interpolate(sketch[None].float(), size=tuple(channels.shape[-2:]), mode="area")[0]
    filled = _closed_fill(channels, sketch, reach, barrier, gap)
    if claim <= gap or _colors_hinted(channels) < 2:  # one color has nothing to compete for
        return filled
    claimed = _closed_fill(channels, sketch, reach, barrier, claim)
    # The claim decides whose color a pixel takes, never how far the fills reach.
    return torch.where((claimed[3:] > 0) & (filled[3:] > 0), claimed, filled)


def _colors_hinted(channels: torch.Tensor) -> int:
    return torch.unique(channels[:3, channels[3] > 0], dim=1).shape[1]


def _closed_fill(channels: torch.Tensor, sketch: torch.Tensor, reach: int, barrier: float, gap: int) -> torch.Tensor:
    """The fill first through the paper with every line thickened by `gap` pixels, so a gap up
    to 2 * gap wide holds, then through the unthickened paper into the band along the lines
    that the thickening took (2 * gap + 1 four-connected steps reach its corners). A `gap` of
    0 is the plain fill: it runs through every gap."""
    if gap > 0:
        thick = -F.max_pool2d(-sketch[None], 2 * gap + 1, stride=1, padding=gap)[0]
        channels = spread_hints(channels, thick, reach, barrier)
    return spread_hints(channels, sketch, 2 * gap + 1 if gap > 0 else reach, barrier)


def paint_hints(colors: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """Colors (3, H, W) with the hint channels' colors laid over them wherever a hint or its
    spread reaches: a bucket fill from each hint, bounded by the lines and by its reach."""
    return torch.where(channels[3:] > 0, channels[:3], colors)


def hints_image(hints: Hints, page_size: tuple[int, int]) -> Image.Image:
    """The hints as an RGBA layer of the page's size, opaque where there are hints: what
    `colorize --layers` writes, and a hint layer `read_hints` reads back as the same hints."""
    width, height = page_size
    channels = draw_hints(hints, page_size, Box(0, 0, height, width), (height, width))
    mask = channels[3:]
    rgb = ((channels[:3] + 1) * 127.5).round() * mask
    pixels = torch.cat([rgb, mask * 255]).to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(pixels, "RGBA")


def _to_canvas(mark: Mark, units: str, page_size: tuple[int, int], box: Box, scale_x: float,
               scale_y: float) -> Mark:
    """The mark in canvas pixels (centres of pixels at +0.5)."""
    width, height = page_size
    unit = (width, height) if units == "relative" else (1, 1)
    points = tuple((box.left + x * unit[0] * scale_x, box.top + y * unit[1] * scale_y) for x, y in mark.points)
    default = RADIUS if mark.is_dot else WIDTH
    size_in_page = mark.size * (max(page_size) if units == "relative" else 1) if mark.size else default * max(page_size)
    return replace(mark, points=points, size=size_in_page * max(scale_x, scale_y))


def _draw_mark(draw: ImageDraw.ImageDraw, mark: Mark) -> None:
    fill = (*mark.color, 255)
    radius = max(mark.size if mark.is_dot else mark.size / 2, 0.5)
    if not mark.is_dot:
        draw.line([(x - 0.5, y - 0.5) for x, y in mark.points], fill=fill, width=max(1, round(2 * radius)),
                  joint="curve")
    for x, y in (mark.points if mark.is_dot else (mark.points[0], mark.points[-1])):  # dots and round caps
        cx, cy = x - 0.5, y - 0.5  # the centre in pixel indices
        if radius <= 0.5:  # under a pixel: the pixel it falls in
            draw.point((round(cx), round(cy)), fill=fill)
        else:
            draw.ellipse([cx - radius + 0.5, cy - radius + 0.5, cx + radius - 0.5, cy + radius - 0.5], fill=fill)


# --- hints drawn from the true colors (training and measurement) ------------------------
def hint_count(rng: np.random.Generator, draw: HintConfig) -> int:
    """How many marks a training sample gets: none for `none_share` of them, else geometric."""
    if rng.random() < draw.none_share:
        return 0
    return int(min(rng.geometric(1 / draw.mean_count), draw.max_count))


CHROMATIC = 40  # max - min of a pixel's 8-bit RGB from which its hue is a color worth turning


def simulate_hints(color: np.ndarray, gray: np.ndarray, count: int, rng: np.random.Generator,
                   draw: HintConfig = HintConfig(), *, chromatic: bool = False) -> Hints:
    """`count` marks on the non-line pixels of an image (color H x W x 3 and gray H x W, uint8),
    each colored by the true colors under it, in the image's pixels. `chromatic`: only where the
    true color has a hue (counterfactual hints: turning the hue of white paper changes nothing)."""
    height, width = gray.shape
    usable = gray > INK_GRAY
    if chromatic:
        usable &= (color.max(axis=2).astype(np.int16) - color.min(axis=2)) >= CHROMATIC
    free = np.flatnonzero(usable.reshape(-1))
    if count <= 0 or free.size == 0:
        return Hints()
    side = max(height, width)
    marks = []
    for flat in rng.choice(free, size=min(count, free.size), replace=False):
        y, x = divmod(int(flat), width)
        if rng.random() < draw.stroke_share:
            points = _stroke_path(color, gray, (x, y), rng, draw, side)
            size = 2 * rng.uniform(draw.radius_min, draw.radius_max) * side
        else:
            points, size = [(x, y)], rng.uniform(draw.radius_min, draw.radius_max) * side
        true = _mean_color(color, points, max(size / 2, 1.0) if len(points) > 1 else size)
        jittered = np.clip(np.round(true + rng.normal(0, draw.jitter, 3)), 0, 255).astype(int)
        marks.append(Mark(tuple((px + 0.5, py + 0.5) for px, py in points), tuple(int(v) for v in jittered), size))
    return Hints(tuple(marks))


def _stroke_path(color: np.ndarray, gray: np.ndarray, start: tuple[int, int], rng: np.random.Generator,
                 draw: HintConfig, side: int) -> list[tuple[int, int]]:
    """A short stroke from `start` in a random direction, bending once, stopped before it
    crosses a line or leaves the start's color: a stroke inside one region, as artists draw them."""
    height, width = gray.shape
    origin = color[start[1], start[0]].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    length = rng.uniform(draw.stroke_min, draw.stroke_max) * side
    points, (x, y) = [start], start
    for _ in range(2):
        angle += rng.uniform(-0.8, 0.8)
        for _ in range(int(length / 2)):
            nx, ny = round(x + math.cos(angle)), round(y + math.sin(angle))
            if not (0 <= nx < width and 0 <= ny < height) or gray[ny, nx] <= INK_GRAY:
                break
            if np.abs(color[ny, nx].astype(np.float32) - origin).max() > 40:
                break
            x, y = nx, ny
        if (x, y) != points[-1]:
            points.append((x, y))
    return points if len(points) > 1 else [start]


def _mean_color(color: np.ndarray, points: list[tuple[int, int]], radius: float) -> np.ndarray:
    """The mean true color within `radius` of the mark's points."""
    height, width = color.shape[:2]
    reach = max(1, int(math.ceil(radius)))
    samples = [color[max(0, y - reach + 1) : min(height, y + reach), max(0, x - reach + 1) : min(width, x + reach)]
               .reshape(-1, 3) for x, y in points]
    return np.concatenate(samples).astype(np.float32).mean(axis=0)


def rotate_hue(hints: Hints, rng: np.random.Generator, degrees: tuple[float, float] = (90.0, 180.0)) -> Hints:
    """Counterfactual hints: every mark's color with its hue turned by one angle of 90-180
    degrees either way (saturation and value kept): the page recolored consistently, as an
    artist choosing another palette would, so a model that follows its prior instead is caught out."""
    turn = rng.uniform(*degrees) / 360 * rng.choice([-1, 1])
    marks = []
    for mark in hints.marks:
        h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in mark.color))
        rgb = colorsys.hsv_to_rgb((h + turn) % 1.0, s, v)
        marks.append(replace(mark, color=tuple(int(round(c * 255)) for c in rgb)))
    return replace(hints, marks=tuple(marks))
