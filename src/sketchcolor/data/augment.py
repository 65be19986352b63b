"""Augmentation of training pairs: geometry for both images, drawing style for the sketch.

Real sketches differ from training sketches mostly in how they are drawn and scanned:
line weight, pencil-light strokes, gray or tinted paper with grain. The sketch-only
jitters below imitate those, so a model trained on clean digital line art still reads
a scanned pencil page; the color target is never changed by them.
All randomness comes from the generator passed in, so a sample is reproducible from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

PAPER_TONE = (0.72, 1.0)  # paper brightness, in [0, 1]
LINE_STRENGTH = (0.45, 1.0)  # how dark lines stay relative to black (pencil: lighter)
GRAIN = (0.0, 0.04)  # standard deviation of the paper's grain


@dataclass(frozen=True)
class Jitter:
    """Which augmentations run; built from a DataConfig."""

    size: int
    flip: bool = False
    scale: bool = False  # random crop side in [size, decoded side], resized to size
    line: float = 0.0  # probability of thicker or thinner lines
    paper: float = 0.0  # probability of paper tone, grain and lighter lines

    @classmethod
    def from_config(cls, data_config) -> "Jitter":
        return cls(data_config.size, data_config.flip, data_config.scale_jitter,
                   data_config.line_jitter, data_config.paper_jitter)


def augment(pixels: np.ndarray, jitter: Jitter, rng: np.random.Generator) -> torch.Tensor:
    """(S, S, 4) uint8 pixels (sketch, r, g, b) -> (4, size, size) float in [0, 1]."""
    pixels = _crop(pixels, jitter, rng)
    if jitter.flip and rng.random() < 0.5:
        pixels = pixels[:, ::-1]
    image = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))).float() / 255
    if image.shape[-1] != jitter.size:
        image = F.interpolate(image[None], size=(jitter.size, jitter.size), mode="bilinear",
                              antialias=True, align_corners=False)[0].clamp(0, 1)
    sketch = image[:1]
    if rng.random() < jitter.line:
        sketch = line_weight(sketch, float(rng.uniform(-1, 1)))
    if rng.random() < jitter.paper:
        sketch = paper(sketch, rng)
    return torch.cat([sketch, image[1:]])


def _crop(pixels: np.ndarray, jitter: Jitter, rng: np.random.Generator) -> np.ndarray:
    room = pixels.shape[0] - jitter.size
    if room <= 0:
        return pixels
    side = int(rng.integers(jitter.size, pixels.shape[0] + 1)) if jitter.scale else jitter.size
    top, left = rng.integers(0, pixels.shape[0] - side + 1, size=2)
    return pixels[top : top + side, left : left + side]


def line_weight(sketch: torch.Tensor, amount: float) -> torch.Tensor:
    """Thicken (amount > 0) or thin (amount < 0) dark lines by up to one pixel each side.

    A 3x3 min (max) filter moves every edge by a pixel; blending by |amount| gives the
    weights between, and keeps 1 px lines from vanishing outright when thinning.
    """
    if amount > 0:
        moved = -F.max_pool2d(-sketch[None], 3, stride=1, padding=1)[0]
    else:
        moved = F.max_pool2d(sketch[None], 3, stride=1, padding=1)[0]
    return torch.lerp(sketch, moved, abs(amount))


def paper(sketch: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Lines drawn lighter on a darker, grainy sheet, as a scanned pencil page looks."""
    tone = float(rng.uniform(*PAPER_TONE))
    strength = float(rng.uniform(*LINE_STRENGTH))
    drawn = tone - (1 - sketch) * strength * tone
    # Grain at a quarter of the resolution, smoothed up: paper fibres, not pixel noise.
    side = sketch.shape[-1]
    coarse = torch.from_numpy(rng.normal(0, rng.uniform(*GRAIN), size=(1, 1, max(1, side // 4), max(1, side // 4))))
    grain = F.interpolate(coarse.float(), size=(side, side), mode="bilinear", align_corners=False)[0]
    return (drawn + grain).clamp(0, 1)
