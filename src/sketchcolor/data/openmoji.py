"""Build real line-art pairs from OpenMoji (https://openmoji.org, CC BY-SA 4.0).

OpenMoji ships every emoji twice: `black/svg` is the human-drawn outline alone and `color/svg`
is the same drawing colored. Rendering both gives pixel-aligned sketch/color pairs. The build
splits by outline drawing (skin-tone variants and recolored emoji share one outline), so no
drawing is seen on two sides, and it filters pairs that would teach the model nothing useful.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skia
from PIL import Image

from ..errors import SketchcolorError
from ..imageio import INK_GRAY, join_pair

SPLITS = ("train", "val", "test")
# Percent of outline groups in train and train+val; the rest is test (about 80/10/10).
TRAIN_PERCENT, VAL_PERCENT = 80, 90
SKIP_REASONS = ("flag", "component", "colorless", "misaligned", "empty", "unreadable")
# Unicode's building blocks (skin-tone swatches, hair fragments cut off by the 72-unit frame):
# fills that no outline bounds, never shown alone.
COMPONENT_GROUP = "component"

# A color pixel whose darkest channel is at or above this is paper, not paint.
PAPER_LEVEL = 240
# Below this fraction of ink (or paint) pixels a render is empty: about 8 pixels at 64 px.
MIN_INK_FRACTION = 0.002
# Flags (and skin-tone swatches, colored squares, pride flags) are a bare rectangle outline
# with flat fills: nothing to learn. Outline ink within RECTANGLE_BORDER_UNITS of its bounding
# box, in OpenMoji's 72-unit grid (strokes are 2 units wide, plus anti-aliasing), ...
RECTANGLE_BORDER_UNITS = 3.0
# ... for at least this fraction of ink pixels marks a rectangle. Real drawings measure
# 0.05-0.5, rectangles 0.95-1.0.
RECTANGLE_FRACTION = 0.95
# Mean HSV saturation of the painted (non-paper) pixels below which an emoji is gray art.
# Measured on all 4,495 at 128 px: 458 emoji sit below 0.0075 with a clear gap up to 0.02,
# then a smooth rise; the few in the gap are gray drawings with a speck of color.
COLORLESS_SATURATION = 0.02
# Luma (0-255) below which a color pixel is dark-ish: covers black lines with anti-aliasing
# and the dark colored lines some emoji use.
DARKISH_LEVEL = 160
# Fraction of outline ink that must be dark-ish in the color render. 96% of emoji score
# >= 0.99; those under 0.9 invert (white letters on color buttons), recolor most lines
# (zodiac signs, sparklers) or draw lines the outline lacks.
MIN_ALIGNMENT = 0.9

ATTRIBUTION = """\
# Attribution

The images in this folder are derived renders of emoji from **OpenMoji**
(https://openmoji.org), the open-source emoji and icon project, version {version}.

OpenMoji is licensed under the Creative Commons Attribution-ShareAlike 4.0 International
License (CC BY-SA 4.0): https://creativecommons.org/licenses/by-sa/4.0/

Each PNG joins a render of an emoji's `color/svg` drawing (left) with a render of its
`black/svg` outline (right), on white, at {size}x{size} pixels per half. These renders are
adaptations of OpenMoji and are shared under the same license.
"""


@dataclass(frozen=True)
class Emoji:
    """One OpenMoji entry with its two SVG sources (None when the package lacks a file)."""

    hexcode: str
    group: str
    base: str  # skintone_base_hexcode, or the hexcode itself
    black: bytes | None
    color: bytes | None


def build_openmoji(
    out_dir: Path, size: int = 256, package: Path | None = None, workers: int = 2
) -> dict[str, int]:
    """Render OpenMoji into color|sketch PNG pairs under out_dir/{train,val,test}.

    `package` is the tarball from `npm pack openmoji`; without it npm is run to fetch one.
    Emoji sharing an outline drawing share a split (`outline_groups`, `split_of`); degenerate
    pairs are skipped (`defect`). `workers` > 1 renders in that many processes. Returns the
    number of pairs per split and of emoji skipped per reason (`skipped_<reason>`).
    """
    if package is None:
        with tempfile.TemporaryDirectory() as tmp:
            return build_openmoji(out_dir, size, _npm_pack(Path(tmp)), workers)
    if size < 8:
        raise SketchcolorError(f"OpenMoji size must be at least 8 pixels, not {size}")
    out_dir = Path(out_dir)
    emojis, version = _read_package(Path(package))
    _prepare_out_dir(out_dir, size, version)
    groups = outline_groups(emojis)
    jobs = [(e, size, out_dir, split_of(groups[e.hexcode])) for e in emojis]
    counts = Counter({key: 0 for key in SPLITS + tuple(f"skipped_{r}" for r in SKIP_REASONS)})
    counts.update(_run(jobs, workers))
    return dict(counts)


def _npm_pack(directory: Path) -> Path:
    """Fetch the openmoji tarball into `directory` with npm, or explain what to do instead."""
    npm = shutil.which("npm")
    help_line = "install Node.js/npm or pass --package TGZ (a tarball from `npm pack openmoji`)"
    if npm is None:
        raise SketchcolorError(f"npm not found: {help_line}")
    try:
        subprocess.run([npm, "pack", "openmoji"], cwd=directory, check=True, capture_output=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        raise SketchcolorError(f"`npm pack openmoji` failed ({type(err).__name__}): {help_line}") from None
    tarballs = sorted(directory.glob("openmoji-*.tgz"))
    if not tarballs:
        raise SketchcolorError(f"`npm pack openmoji` wrote no tarball: {help_line}")
    return tarballs[-1]


def _read_package(package: Path) -> tuple[list[Emoji], str]:
    """Read the emoji table and both SVGs of each emoji straight from the tarball."""
    svg_dirs = ("package/black/svg/", "package/color/svg/")
    tables = ("package/data/openmoji.json", "package/package.json")
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(package, "r:*") as tar:
            for member in tar:
                if member.isfile() and (member.name.startswith(svg_dirs) or member.name in tables):
                    files[member.name] = tar.extractfile(member).read()
        table = json.loads(files["package/data/openmoji.json"])
        version = json.loads(files.get("package/package.json", b"{}")).get("version", "unknown")
        emojis = [_emoji(row, files) for row in table]
    except (OSError, tarfile.TarError, AttributeError, KeyError, TypeError, ValueError) as err:
        reason = str(err).splitlines()[0].rstrip(":")  # tarfile lists every method it tried, one per line
        raise SketchcolorError(f"{package}: not an OpenMoji npm tarball ({type(err).__name__}: {reason})") from None
    return emojis, version


def _emoji(row: dict, files: dict[str, bytes]) -> Emoji:
    """One openmoji.json row with its SVG bytes (KeyError if the row has no hexcode)."""
    hexcode = row["hexcode"]
    return Emoji(
        hexcode=hexcode,
        group=row.get("group", ""),
        base=row.get("skintone_base_hexcode") or hexcode,
        black=files.get(f"package/black/svg/{hexcode}.svg"),
        color=files.get(f"package/color/svg/{hexcode}.svg"),
    )


def _prepare_out_dir(out_dir: Path, size: int, version: str) -> None:
    """Create the split folders; refuse to mix with an earlier build's files."""
    for split in SPLITS:
        folder = out_dir / split
        if folder.is_dir() and any(folder.iterdir()):
            raise SketchcolorError(f"{folder} is not empty: remove it or build into a new folder")
        folder.mkdir(parents=True, exist_ok=True)
    (out_dir / "ATTRIBUTION.md").write_text(ATTRIBUTION.format(version=version, size=size), encoding="utf-8")


def outline_groups(emojis: list[Emoji]) -> dict[str, str]:
    """Map each hexcode to its outline group: the smallest hexcode among emoji that share a
    skin-tone base or a byte-identical outline file (e.g. all colored hearts share one)."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    def union(a: str, b: str) -> None:
        # Hang the larger root under the smaller, so every root is its group's minimum and
        # the key does not depend on the order of the table.
        ra, rb = sorted((find(a), find(b)))
        parent[rb] = ra

    first_owner: dict[bytes, str] = {}
    for emoji in emojis:
        union(emoji.hexcode, emoji.base)
        if emoji.black is not None:
            union(emoji.hexcode, first_owner.setdefault(hashlib.sha1(emoji.black).digest(), emoji.hexcode))
    return {emoji.hexcode: find(emoji.hexcode) for emoji in emojis}


def split_of(group: str) -> str:
    """Stable split for a group key: a hash, so it survives reordering and new emoji."""
    bucket = int(hashlib.sha1(group.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if bucket < TRAIN_PERCENT else "val" if bucket < VAL_PERCENT else "test"


def _run(jobs: list[tuple[Emoji, int, Path, str]], workers: int) -> list[str]:
    """Process every job, in worker processes when asked (rendering holds the GIL)."""
    if workers <= 1:
        return [_process(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_process, jobs, chunksize=32))


def _process(job: tuple[Emoji, int, Path, str]) -> str:
    """Render, check and write one pair; return its split, or `skipped_<reason>`."""
    emoji, size, out_dir, split = job
    color, outline = render_svg(emoji.color, size), render_svg(emoji.black, size)
    if color is None or outline is None:
        return "skipped_unreadable"
    sketch = np.asarray(Image.fromarray(outline).convert("L"))
    reason = defect(emoji, color, sketch)
    if reason is not None:
        return f"skipped_{reason}"
    join_pair(Image.fromarray(sketch, "L"), Image.fromarray(color, "RGB")).save(out_dir / split / f"{emoji.hexcode}.png")
    return split


def render_svg(svg: bytes | None, size: int) -> np.ndarray | None:
    """Render SVG bytes on white at size x size as uint8 RGB, or None if it cannot be drawn."""
    if not svg:
        return None
    try:
        dom = skia.SVGDOM.MakeFromStream(skia.MemoryStream(svg, True))
        if dom is None:
            return None
        info = skia.ImageInfo.Make(size, size, skia.kRGBA_8888_ColorType, skia.kPremul_AlphaType)
        surface = skia.Surface.MakeRaster(info)
        canvas = surface.getCanvas()
        canvas.clear(skia.ColorWHITE)  # drawing onto opaque white composites the SVG on paper
        dom.setContainerSize(skia.Size(size, size))  # OpenMoji's 72x72 viewBox scales to fit
        dom.render(canvas)
        return np.ascontiguousarray(surface.makeImageSnapshot().toarray()[:, :, :3])
    except Exception:  # noqa: BLE001 - one bad file from a third-party renderer must not stop the build
        return None


def defect(emoji: Emoji, color: np.ndarray, sketch: np.ndarray) -> str | None:
    """Why this pair is not worth training on (a SKIP_REASONS entry), or None if it is."""
    ink = sketch < INK_GRAY
    paint = _channel_min(color) < PAPER_LEVEL
    if ink.mean() < MIN_INK_FRACTION or paint.mean() < MIN_INK_FRACTION:
        return "empty"
    if emoji.group == COMPONENT_GROUP:
        return "component"
    if emoji.group == "flags" or is_rectangle(ink):
        return "flag"
    if paint_saturation(color, paint) < COLORLESS_SATURATION:
        return "colorless"
    if alignment(ink, color) < MIN_ALIGNMENT:
        return "misaligned"
    return None


def is_rectangle(ink: np.ndarray) -> bool:
    """True when nearly all ink lies on the border of its own bounding box."""
    ys, xs = np.nonzero(ink)
    border = max(2, round(ink.shape[0] * RECTANGLE_BORDER_UNITS / 72))
    distance = np.minimum.reduce([ys - ys.min(), ys.max() - ys, xs - xs.min(), xs.max() - xs])
    return float((distance <= border).mean()) >= RECTANGLE_FRACTION


def paint_saturation(color: np.ndarray, paint: np.ndarray) -> float:
    """Mean HSV saturation (0-1) over painted pixels; black lines count as 0."""
    high = np.maximum(np.maximum(color[..., 0], color[..., 1]), color[..., 2])[paint].astype(np.float32)
    low = _channel_min(color)[paint].astype(np.float32)
    return float(np.mean((high - low) / np.maximum(high, 1.0)))


def _channel_min(color: np.ndarray) -> np.ndarray:
    """Darkest channel per pixel; elementwise, as numpy's reduce over a 3-long axis is slow."""
    return np.minimum(np.minimum(color[..., 0], color[..., 1]), color[..., 2])


def alignment(ink: np.ndarray, color: np.ndarray) -> float:
    """Fraction of outline ink pixels that are dark-ish in the color render too."""
    luma = color.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return float((luma[ink] < DARKISH_LEVEL).mean())
