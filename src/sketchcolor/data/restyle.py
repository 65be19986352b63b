"""The same sketch as it reaches us in other ways: scanned, drawn faintly, inked thickly,
photographed. `evaluate --sketch-style` scores a model on a set's sketches turned into one
of these, so robustness to how a page was drawn and captured is measured, not assumed.

Each style is drawn from a seed per file (`sketchify.file_seed`), so a set is scored on the
same restyled pages every time. The ranges are those of real captures, not of the training
jitter (`augment.py`), which they overlap only in part:
- scan: an off-white sheet (gray 0.75-0.9), pencil lines at 45-70% of black, paper grain and
  a light gradient across the page (a flatbed's uneven lid);
- faint: light pencil on white paper, lines at 25-45% of black: most of them paler than the
  ink level where colors stop (`imageio.INK_LEVEL`);
- thick: every line thickened by a pixel per 256 px of the page's side (a heavy marker);
- photo: a phone picture of a page: gray, unevenly lit sheet, half the resolution, JPEG 40;
- tone: a manga page's screentone: a rotated grid of black dots (10-35% of the paper, 4-8 px
  apart: dots as a scan at the page's resolution resolves them) laid under the lines wherever
  the true colors are darkest (the 25-50% darkest of the page, never its white paper), as an
  artist tones shadows, hair and clothes. It needs the page's colors: only a scored pair has
  them. Its dots are drawn at 4x and averaged down: meant for the pages of a scored set.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

from .sketchify import Seed

SKETCH_STYLES = ("given", "scan", "faint", "thick", "photo", "tone")
TONE_PITCH = (4.0, 8.0)  # px between dots
TONE_COVER = (0.10, 0.35)  # share of a toned area under dots
TONE_SHARE = (0.25, 0.5)  # share of the page, the darkest in its colors, that is toned


def restyle(sketch: Image.Image, style: str, seed: Seed, color: Image.Image | None = None) -> Image.Image:
    """The gray `sketch` as the named style would bring it (`given`: unchanged); `tone` places
    its screentone by the page's true `color`."""
    if style not in SKETCH_STYLES:
        raise ValueError(f"sketch style must be one of {', '.join(SKETCH_STYLES)}, not {style!r}")
    gray = sketch.convert("L")
    if style == "given":
        return gray
    rng = np.random.default_rng(seed)
    if style == "tone":
        if color is None:
            raise ValueError("the tone sketch style places its screentone by the page's colors: give color=")
        return _tone(gray, color, rng)
    return _STYLES[style](gray, rng)


def _scan(gray: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _on_paper(gray, rng, tone=(0.75, 0.9), strength=(0.45, 0.7), light=0.04)


def _faint(gray: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _on_paper(gray, rng, tone=(1.0, 1.0), strength=(0.25, 0.45), light=0.0, grain=False)


def _thick(gray: Image.Image, rng: np.random.Generator) -> Image.Image:
    pixels = max(1, round(max(gray.size) / 256))
    return gray.filter(ImageFilter.MinFilter(2 * pixels + 1))


def _photo(gray: Image.Image, rng: np.random.Generator) -> Image.Image:
    lit = _on_paper(gray, rng, tone=(0.7, 0.85), strength=(0.7, 0.9), light=0.12)
    small = lit.resize((max(1, lit.width // 2), max(1, lit.height // 2)), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=40)
    return Image.open(buffer).convert("L").resize(gray.size, Image.Resampling.BILINEAR)


def _tone(gray: Image.Image, color: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Screentone dots under the lines wherever the page's true colors are darkest."""
    sketch = np.asarray(gray, dtype=np.float32) / 255
    lightness = np.asarray(color.convert("L").resize(gray.size, Image.Resampling.BILINEAR), dtype=np.float32)
    # Ties at the quantile are toned, unless they are the page's lightest: on a page mostly of
    # white paper the quantile is that white, and paper stays untoned.
    darkest = np.quantile(lightness, rng.uniform(*TONE_SHARE))
    toned = (lightness < darkest) | ((lightness == darkest) & (darkest < lightness.max()))
    # An artist lays tone over whole areas, not specks: the darkest pixels' mask, smoothed.
    toned = np.asarray(Image.fromarray(toned.astype(np.uint8) * 255).filter(ImageFilter.MedianFilter(5))) > 127
    dots = halftone(gray.size, pitch=rng.uniform(*TONE_PITCH),
                    cover=rng.uniform(*TONE_COVER), angle=rng.uniform(15, 75))
    return Image.fromarray((np.minimum(sketch, np.where(toned, dots, 1.0)) * 255 + 0.5).astype(np.uint8), mode="L")


def halftone(size: tuple[int, int], *, pitch: float, cover: float, angle: float) -> np.ndarray:
    """A (height, width) field in [0, 1] of round black dots on a grid of `pitch` pixels turned
    by `angle` degrees, covering `cover` of the paper; edges antialiased by 4x supersampling."""
    width, height = size
    fine = 4
    ys, xs = np.mgrid[0 : height * fine, 0 : width * fine].astype(np.float32) / fine
    turn = np.deg2rad(angle)
    u = (xs * np.cos(turn) + ys * np.sin(turn)) / pitch
    v = (-xs * np.sin(turn) + ys * np.cos(turn)) / pitch
    distance = np.hypot(u - np.round(u), v - np.round(v))  # to the nearest dot's center, in pitches
    ink = (distance < np.sqrt(cover / np.pi)).astype(np.float32)
    return 1 - ink.reshape(height, fine, width, fine).mean(axis=(1, 3))


def _on_paper(gray: Image.Image, rng: np.random.Generator, *, tone: tuple[float, float],
              strength: tuple[float, float], light: float, grain: bool = True) -> Image.Image:
    """Lines drawn at `strength` of black on a sheet of `tone`, lit with a linear gradient of up
    to `light` across the page, with paper grain: what a page looks like once captured."""
    sketch = np.asarray(gray, dtype=np.float32) / 255
    height, width = sketch.shape
    paper = float(rng.uniform(*tone))
    drawn = paper - (1 - sketch) * float(rng.uniform(*strength)) * paper
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width]
    ramp = (np.cos(angle) * xs / width + np.sin(angle) * ys / height) - 0.5
    drawn = drawn * (1 + light * 2 * ramp)
    if grain:  # fibres a few pixels across, not pixel noise
        coarse = rng.normal(0, 0.02, size=(max(1, height // 4), max(1, width // 4))).astype(np.float32)
        drawn = drawn + np.asarray(Image.fromarray(coarse, mode="F").resize((width, height), Image.Resampling.BILINEAR))
    return Image.fromarray((np.clip(drawn, 0, 1) * 255 + 0.5).astype(np.uint8), mode="L")


_STYLES: dict[str, Callable[[Image.Image, np.random.Generator], Image.Image]] = {
    "scan": _scan, "faint": _faint, "thick": _thick, "photo": _photo,
}
