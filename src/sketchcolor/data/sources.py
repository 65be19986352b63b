"""Finding pairs on disk and decoding one pair into aligned sketch/color arrays.

Two layouts of pairs are understood:
- side-by-side files (the paper's Kaggle set: color on the left, sketch on the right;
  the sketch half is found by saturation unless `sketch_side` says otherwise);
- paired folders: `sketch/` and `color/` with files matched by stem.
A split folder (`DIR/train`, `DIR/val`, `DIR/test`) may hold either layout. A folder of
color-only images (`find_colors`) gives pairs too: their sketches are drawn from the colors
(sketchify.random_sketch), one fixed sketch per file here, afresh per sample in training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import SketchcolorError
from ..imageio import ImageReadError, list_images, read_image, split_pair
from ..page import fit_pair
from .sketchify import file_seed, random_sketch

# A "color" image is really grayscale when fewer than MIN_COLORED_FRACTION of its pixels
# have a chroma (max - min channel, 0-255) of at least COLORED_CHROMA. Chroma rather than
# HSV saturation: saturation explodes on near-black pixels, chroma does not, and JPEG noise
# on gray stays well under 25. A fraction rather than a mean: an emoji on white paper
# is mostly paper but clearly colored where painted.
COLORED_CHROMA = 25
MIN_COLORED_FRACTION = 0.005
# Halves more elongated than this are not a side-by-side pair.
MAX_HALF_ASPECT = 4.0
# A training image's smallest side: below it a page holds no drawing to learn from (a 1x1
# "pair" splits into empty halves).
MIN_SIDE = 16


@dataclass(frozen=True)
class PairSource:
    """Where one pair lives: a side-by-side file, a sketch file plus a color file, or a
    color-only file whose sketch is drawn (`drawn`)."""

    path: Path
    color_path: Path | None = None
    drawn: bool = False

    @property
    def name(self) -> str:
        return self.path.name


class BadPairError(SketchcolorError):
    """A pair that can be read but cannot be used (wrong shape, no color)."""


def split_dir(root: str | Path, split: str) -> Path:
    """`root/split` if it exists; a root with no split folders at all is itself the split
    (a plain folder of pairs can be trained on or evaluated)."""
    root = Path(root)
    if not root.is_dir():
        raise SketchcolorError(f"data folder {root} does not exist")
    if (root / split).is_dir():
        return root / split
    if not any((root / s).is_dir() for s in ("train", "val", "test")):
        return root
    raise SketchcolorError(f"data folder {root} has no {split}/ split")


def find_pairs(folder: str | Path) -> list[PairSource]:
    """All pairs in one split folder, sorted by name; an empty folder is an error."""
    folder = Path(folder)
    if (folder / "sketch").is_dir() and (folder / "color").is_dir():
        colors = {p.stem: p for p in list_images(folder / "color")}
        pairs = [PairSource(s, colors[s.stem]) for s in list_images(folder / "sketch") if s.stem in colors]
    else:
        pairs = [PairSource(p) for p in list_images(folder)]
    if not pairs:
        raise SketchcolorError(f"no image pairs found in {folder}")
    return pairs


def find_colors(folder: str | Path) -> list[PairSource]:
    """Every image in a folder of color-only images, as pairs with drawn sketches."""
    sources = [PairSource(path, drawn=True) for path in list_images(folder)]
    if not sources:
        raise SketchcolorError(f"no images found in {folder}")
    return sources


def aligned_only(pairs: list[PairSource], folder: str | Path) -> list[PairSource]:
    """The pairs that a `manifest.json` (in the folder or up to two levels above it) marks
    `"aligned": true`: only those are fit for pixel metrics. Entries name files relative to
    the manifest's folder, as `../shared/data/anime-pairs/manifest.json` does."""
    folder = Path(folder).resolve()
    for place in (folder, folder.parent, folder.parent.parent):
        manifest = place / "manifest.json"
        if manifest.is_file():
            break
    else:
        raise SketchcolorError(f"--aligned-only: no manifest.json in or above {folder}")
    try:
        entries = json.loads(manifest.read_text())
        aligned = {(place / entry["file"]).resolve() for entry in entries if entry.get("aligned")}
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise SketchcolorError(f"{manifest}: not a list of {{\"file\", \"aligned\"}} entries ({err})") from None
    kept = [pair for pair in pairs if pair.path.resolve() in aligned]
    if not kept:
        raise SketchcolorError(f"{manifest} marks none of the pairs in {folder} as aligned")
    return kept


def load_pair(source: PairSource, sketch_side: str = "auto") -> tuple[Image.Image, Image.Image]:
    """Read a pair as (sketch, color) PIL images, rejecting unusable ones with BadPairError."""
    if source.drawn:  # the sketch `data sketchify --seed 0` writes for this file
        color = read_image(source.path)
        sketch = random_sketch(color, file_seed(source.path.stem))
    elif source.color_path is not None:
        sketch, color = read_image(source.path), read_image(source.color_path)
    else:
        sketch, color = read_side_by_side(source.path, sketch_side)
    if min(*sketch.size, *color.size) < MIN_SIDE:
        raise BadPairError(f"{source.name}: the sketch ({sketch.width}x{sketch.height}) or the colors "
                           f"({color.width}x{color.height}) are under {MIN_SIDE} px on a side: too small to learn from")
    if colored_fraction(color) < MIN_COLORED_FRACTION:
        raise BadPairError(f"{source.name}: the color image is grayscale")
    return sketch, color


def read_side_by_side(path: Path, sketch_side: str = "auto") -> tuple[Image.Image, Image.Image]:
    """A side-by-side pair file as (sketch, color), refused with BadPairError unless its shape
    can be one: halves of at least MIN_SIDE px, not more elongated than MAX_HALF_ASPECT."""
    image = read_image(path)
    if image.width < 2 * MIN_SIDE or image.height < MIN_SIDE:
        raise BadPairError(f"{path}: {image.width}x{image.height} is too small for a side-by-side pair "
                           f"of {MIN_SIDE} px halves")
    if image.width < 2 * image.height / MAX_HALF_ASPECT or image.width > 2 * image.height * MAX_HALF_ASPECT:
        raise BadPairError(f"{path}: {image.width}x{image.height} is not a side-by-side pair")
    return split_pair(image, sketch_side)


def colored_fraction(image: Image.Image) -> float:
    """Fraction of pixels whose chroma is at least COLORED_CHROMA."""
    array = np.asarray(image.convert("RGB"), dtype=np.int16)
    chroma = array.max(axis=2) - array.min(axis=2)
    return float((chroma >= COLORED_CHROMA).mean())


def decode_pair(source: PairSource, size: int, sketch_side: str = "auto") -> np.ndarray:
    """One pair fitted as every page is (page.fit_pair), as a (size, size, 4) uint8 array:
    channel 0 the gray sketch, 1-3 the RGB color."""
    sketch, color = fit_pair(*load_pair(source, sketch_side), size)
    return np.concatenate([np.asarray(sketch)[:, :, None], np.asarray(color)], axis=2)


def try_decode(source: PairSource, size: int, sketch_side: str) -> tuple[np.ndarray | None, str | None]:
    """`decode_pair` that reports an unusable file as its reason instead of raising."""
    try:
        return decode_pair(source, size, sketch_side), None
    except (ImageReadError, BadPairError) as err:
        return None, str(err)
