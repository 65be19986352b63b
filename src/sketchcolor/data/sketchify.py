"""Turn color images into sketches, in one fixed line style or in styles drawn at random.

Two families of line extractor, each with typed parameters:

- XDoG (Winnemöller, Kyprianidis and Olsen, "XDoG: An eXtended difference-of-Gaussians
  compendium", Computers & Graphics 2012) sharpens the image with a difference of two
  Gaussians and thresholds it softly: dark, clean ink lines on white paper.
- Pencil: each pixel's gap to the lightest pixel around it (its dilation minus the gray),
  scaled by a gain and levelling off at the darkest tone the lead gives. Edges get soft gray
  strokes on their dark side, as wide as the neighbourhood; flat areas, dark ones too, stay paper.

`random_sketch` draws a family (pencil with probability `LineStyle.pencil_share`, else XDoG),
then its parameters uniformly from the ranges of a `LineStyle`, then a paper tone, all from
one seed: the same seed gives the same sketch, so a data set can be re-sketched each epoch
with seed (epoch, index) or stored with several sketches per image.

The default ranges bracket the real sketches of shared/data/anime-pairs/train (38 pairs,
machine-made, soft gray lines), measured with both halves resized to 256 px (LANCZOS) and
paper tone off. Ink is gray below `imageio.INK_LEVEL`; "marks" are pixels below 0.9 and
"tone" their mean gray; width is ink pixels per pixel of the ink's skeleton; F1 is
`metrics.lines.line_scores` (1 px tolerance) against the real sketch. Random draws: 4 per pair.

- Real sketches: ink 2.0%, marks 15.2%, tone 0.68, width 1.37.
- Pencil: `gain`, `lead` and `radius` come from this comparison. Their corners span ink
  1.0%-10.4%, marks 14%-26%, tone 0.73-0.55 and width 1.1-2.4 (1.1-1.6 at radius 1);
  `lead` keeps high-contrast edges gray, as in the real sketches (1% of their marks are
  darker than 0.22).
  Random draws: ink 4.8%, tone 0.65, width 1.7, F1 0.56. `PencilParams()` is the closest
  single setting: ink 2.9%, marks 16.5%, tone 0.69, width 1.36, F1 0.55.
- XDoG is the clean-ink end, darker than any real sketch. From this comparison, each range's
  ends at the other defaults: `p` 15-60 spans ink 3.0%-8.1% (interior detail), `sigma`
  0.3-0.7 width 1.3-1.9, `phi` 30-3 tone 0.03-0.17, `k` 1.4-2.0 ink 5.2%-8.3%. All lows at
  once draw almost nothing (ink 0.2%), but no random draw went below 1.5%. Random draws:
  ink 6.6%, tone 0.06, width 1.55, F1 0.55. On pale, low-contrast pages XDoG breaks lines up
  where pencil keeps them.
- The fixed `XDoGParams()` of earlier versions: ink 6.5%, tone 0.07, width 1.39, F1 0.57 (its
  docstring's figures come from an earlier measurement made another way). The default
  `LineStyle()` with paper tone: ink 6.0%, F1 0.56.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import SketchcolorError
from ..imageio import INK_LEVEL, ImageReadError, join_pair, list_images, read_image

Range = tuple[float, float]  # (low, high), both included; low == high fixes the value
Seed = int | Sequence[int]  # anything numpy.random.default_rng takes, e.g. (epoch, index)


@dataclass(frozen=True)
class XDoGParams:
    """XDoG settings in the paper's p-form, on gray levels in [0, 1].

    S = (1 + p) * G_sigma - p * G_{k*sigma};  paper where S >= epsilon, else ink of value
    1 + tanh(phi * (S - epsilon)). On flat areas S equals the gray level, so epsilon < 0 draws
    edges only. The defaults give clean, dark 1-2 px lines on white for anime and flat-shaded
    illustration at 256-512 px. Tuned on shared/data/anime-pairs/train at 256 px (420 settings):
    ink-pixel F1 0.51 against those pairs' sketches (best 0.52, less clean), 6.7% of pixels
    inked (sketches: 4.9%); the common sigma 0.4, p 20, epsilon 0.2 scores 0.44 with 13.5%.
    """

    sigma: float = 0.4  # px, the fine Gaussian: line width and the smallest detail kept
    k: float = 1.6  # wide/fine sigma ratio; 1.6 makes the DoG approximate a Laplacian of Gaussian
    p: float = 40.0  # edge emphasis: larger draws fainter edges (texture, soft shading) as lines
    epsilon: float = -0.1  # S below this is ink; >= 0 also fills flat areas darker than it
    phi: float = 10.0  # steepness of the ink ramp: large is hard binary, small is soft pencil-like

    def __post_init__(self) -> None:
        if not (self.sigma > 0 and self.k > 1 and self.p >= 0 and self.phi > 0):
            raise SketchcolorError(f"XDoG needs sigma > 0, k > 1, p >= 0 and phi > 0, got {self}")

    def lines(self, gray: torch.Tensor) -> torch.Tensor:
        """(H, W) gray in [0, 1] -> (H, W) paper 1, ink towards 0."""
        sharpened = (1 + self.p) * gaussian_blur(gray, self.sigma) - self.p * gaussian_blur(gray, self.k * self.sigma)
        return torch.where(
            sharpened >= self.epsilon,
            torch.ones_like(sharpened),
            1 + torch.tanh(self.phi * (sharpened - self.epsilon)),
        )


@dataclass(frozen=True)
class PencilParams:
    """Soft pencil strokes from each pixel's gap to the lightest pixel around it.

    Only edges have a lighter neighbour, so flat fills (black hair too) stay paper. A stroke
    darkens with the edge's contrast, by `gain` for faint edges, and saturates at `lead`, as
    graphite does: gray lines, never black blots along high-contrast edges. A dark line wider
    than 2 * radius + 1 px is traced along both its sides, as an outline.
    """

    radius: int = 1  # px searched for the lightest neighbour: the stroke width
    gain: float = 2.0  # darkness per unit of edge contrast, for faint edges
    lead: float = 0.3  # the darkest stroke; below INK_LEVEL, so strokes still count as ink

    def __post_init__(self) -> None:
        if not (isinstance(self.radius, int) and self.radius >= 1 and self.gain > 0 and 0 <= self.lead < INK_LEVEL):
            raise SketchcolorError(f"pencil lines need an integer radius >= 1, gain > 0 and 0 <= lead < "
                                   f"{INK_LEVEL}, got {self}")

    def lines(self, gray: torch.Tensor) -> torch.Tensor:
        """(H, W) gray in [0, 1] -> (H, W) paper 1, ink towards `lead`."""
        r = self.radius
        padded = F.pad(gray[None, None], (r, r, r, r), mode="replicate")
        gap = F.max_pool2d(padded, 2 * r + 1, stride=1)[0, 0] - gray
        depth = 1 - self.lead  # tanh keeps slope `gain` at faint edges and levels off at `lead`
        return 1 - depth * torch.tanh(self.gain * gap / depth)


def extract_lines(image: Image.Image, params: XDoGParams | PencilParams = XDoGParams()) -> Image.Image:
    """Line drawing of `image` as mode 'L': white paper, dark lines, same size."""
    return _to_image(params.lines(_gray(image)))


def gaussian_blur(gray: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a (H, W) float image, edges replicated (any size works)."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    x = F.pad(gray[None, None], (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    x = F.conv2d(x, kernel.view(1, 1, -1, 1))
    return x[0, 0]


def _check_ranges(config: object, params_type: type | None = None) -> None:
    """Every tuple field of a dataclass config is a finite (low, high) with low <= high, and
    both ends are valid `params_type` settings (each valid set is an interval, so all between are)."""
    ranges = {f.name: tuple(v) for f in fields(config) if isinstance(v := getattr(config, f.name), (tuple, list))}
    for name, value in ranges.items():
        if len(value) != 2 or not all(_finite(v) for v in value) or value[0] > value[1]:
            raise SketchcolorError(f"{type(config).__name__}.{name} must be a (low, high) range, not {value}")
    if params_type is not None:
        for end in (0, 1):
            params_type(**{name: value[end] for name, value in ranges.items()})


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


@dataclass(frozen=True)
class XDoGRanges:
    """Ranges the XDoG parameters are drawn from (see `XDoGParams`; measured in the module doc)."""

    sigma: Range = (0.3, 0.7)  # line width 1.3-1.9 px
    k: Range = (1.4, 2.0)  # larger k thickens lines and keeps more detail
    p: Range = (15.0, 60.0)  # interior detail: 3% to 8% of the page inked
    epsilon: Range = (-0.2, -0.02)  # below 0: edges only, dark areas never filled
    phi: Range = (3.0, 30.0)  # gray-edged (3) to hard black (30) ink

    def __post_init__(self) -> None:
        _check_ranges(self, XDoGParams)

    def draw(self, rng: np.random.Generator) -> XDoGParams:
        return XDoGParams(**{f.name: float(rng.uniform(*getattr(self, f.name))) for f in fields(self)})


@dataclass(frozen=True)
class PencilRanges:
    """Ranges the pencil parameters are drawn from (see `PencilParams`)."""

    radius: tuple[int, int] = (1, 2)  # stroke width, both ends included
    gain: Range = (1.5, 3.0)  # faint strokes to dark ones
    lead: Range = (0.1, 0.4)  # darkest stroke, soft lead to hard

    def __post_init__(self) -> None:
        _check_ranges(self, PencilParams)

    def draw(self, rng: np.random.Generator) -> PencilParams:
        radius = int(rng.integers(self.radius[0], self.radius[1] + 1))
        return PencilParams(radius=radius, gain=float(rng.uniform(*self.gain)), lead=float(rng.uniform(*self.lead)))


@dataclass(frozen=True)
class LineStyle:
    """Which line extractors `random_sketch` draws from, how often, and with what ranges."""

    xdog: XDoGRanges = XDoGRanges()  # clean, dark ink
    pencil: PencilRanges = PencilRanges()  # soft gray strokes, like the machine-made anime sketches
    pencil_share: float = 0.5  # probability of the pencil family; XDoG otherwise
    paper: Range = (0.9, 1.0)  # paper tone multiplied in: white to the off-white of a scan

    def __post_init__(self) -> None:
        _check_ranges(self)
        if not 0 <= self.pencil_share <= 1:
            raise SketchcolorError(f"pencil_share is a probability in [0, 1], not {self.pencil_share}")
        if not INK_LEVEL < self.paper[0] <= self.paper[1] <= 1:
            raise SketchcolorError(f"paper tone must lie in ({INK_LEVEL}, 1], lighter than ink, not {self.paper}")

    @classmethod
    def fixed(cls, params: XDoGParams = XDoGParams()) -> LineStyle:
        """One XDoG setting on white paper, whatever the seed: earlier versions' sketches."""
        xdog = XDoGRanges(**{f.name: (getattr(params, f.name),) * 2 for f in fields(XDoGRanges)})
        return cls(xdog=xdog, pencil_share=0.0, paper=(1.0, 1.0))


def random_sketch(image: Image.Image, seed: Seed, style: LineStyle = LineStyle()) -> Image.Image:
    """A sketch of `image` ('L', same size) in a line style drawn from `style` by `seed`.

    Deterministic: the same image, seed and style give the same pixels.
    """
    rng = np.random.default_rng(seed)
    family = style.pencil if rng.random() < style.pencil_share else style.xdog
    params = family.draw(rng)
    paper = float(rng.uniform(*style.paper))
    return _to_image(params.lines(_gray(image)).clamp(0, 1) * paper)


def file_seed(stem: str, seed: int = 0, sketch: int = 0) -> tuple[int, int, int]:
    """The seed of sketch number `sketch` of the file named `stem`: it depends on the name, not
    the file's place in its folder, so adding images leaves the others' sketches alone. The
    same as `data sketchify --seed` uses, so a color-only validation set is scored on exactly
    the sketches that command writes."""
    return seed, zlib.crc32(stem.encode()), sketch  # crc32: stable across runs, unlike hash()


def redraw_sketch(pixels: np.ndarray, seed: Seed, style: LineStyle = LineStyle()) -> np.ndarray:
    """(H, W, 4) uint8 (sketch, r, g, b) with the sketch channel drawn afresh from the colors."""
    sketch = random_sketch(Image.fromarray(np.ascontiguousarray(pixels[:, :, 1:])), seed, style)
    return np.concatenate([np.asarray(sketch)[:, :, None], pixels[:, :, 1:]], axis=2)


def _gray(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image.convert("L"), dtype=np.float32) / 255.0)


def _to_image(ink: torch.Tensor) -> Image.Image:
    return Image.fromarray((ink.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy(), "L")


def sketchify_folder(
    input_dir: Path,
    out_dir: Path,
    style: LineStyle = LineStyle(),
    size: int | None = None,
    *,
    sketches: int = 1,
    seed: int = 0,
) -> tuple[dict[str, int], list[str]]:
    """Write side-by-side pairs (color left, sketch right) for every image in `input_dir`.

    One sketch writes `<stem>.png`; several write `<stem>-s0.png`, `<stem>-s1.png`, ...
    Sketch j of an image uses the seed `file_seed(stem, seed, j)`.
    `size`, when given, scales each image so its longer side is `size` pixels. Unreadable
    files (and a second file with an already used stem) are skipped, never fatal.
    Returns ({"images": n, "pairs": n, "skipped": n}, names of the skipped files).
    """
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    if size is not None and size < 1:
        raise SketchcolorError(f"size must be a positive number of pixels, not {size}")
    if sketches < 1:
        raise SketchcolorError(f"sketches must be at least 1 per image, not {sketches}")
    if not input_dir.is_dir():
        raise SketchcolorError(f"{input_dir}: not a folder of images")
    if out_dir.resolve() == input_dir.resolve():
        raise SketchcolorError(f"{out_dir}: write pairs to a folder other than the input")
    out_dir.mkdir(parents=True, exist_ok=True)
    stems: set[str] = set()
    skipped: list[str] = []
    for path in list_images(input_dir):
        if path.stem in stems:  # a.jpg and a.png would both write a.png
            skipped.append(path.name)
            continue
        try:
            color = _fit(read_image(path), size)
        except ImageReadError:
            skipped.append(path.name)
            continue
        for j in range(sketches):
            name = f"{path.stem}.png" if sketches == 1 else f"{path.stem}-s{j}.png"
            join_pair(random_sketch(color, file_seed(path.stem, seed, j), style), color).save(out_dir / name)
        stems.add(path.stem)
    return {"images": len(stems), "pairs": len(stems) * sketches, "skipped": len(skipped)}, skipped


def _fit(image: Image.Image, size: int | None) -> Image.Image:
    """Scale so the longer side is `size` (up or down); None keeps the image as it is."""
    if size is None:
        return image
    scale = size / max(image.size)
    target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image if target == image.size else image.resize(target, Image.Resampling.LANCZOS)
