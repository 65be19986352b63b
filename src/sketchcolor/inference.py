"""Colorize sketches with a trained generator: `Colorizer.from_pretrained(path)(image)`."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from .checkpoint import load_model
from .compose import LINE_MODES, flat_colors, multiply_lines
from .config import Config
from .device import resolve_device
from .errors import SketchcolorError
from .imageio import to_pil, to_rgb, to_tensor

DEFAULT_MODEL = Path(__file__).parent / "weights" / "default"


def resolve_model_dir(path: str | Path | None) -> Path:
    """None -> the bundled model; a run folder -> its best generator (by validation), else
    its latest; anything else is taken as a model directory."""
    if path is None:
        if not DEFAULT_MODEL.is_dir():
            raise SketchcolorError(f"the bundled model is missing from {DEFAULT_MODEL}; reinstall sketchcolor")
        return DEFAULT_MODEL
    path = Path(path)
    if not path.exists():
        raise SketchcolorError(f"model {path} does not exist")
    if not (path / "config.json").exists():
        for candidate in ("best", "latest"):
            if (path / candidate / "config.json").exists():
                return path / candidate
    return path


class Colorizer:
    """A generator plus the pre/post-processing around it.

    Sketches of any size and mode are converted to gray, resized to the model's working
    size and colorized. With `lines="keep"` (the default) the colors are flattened, brought
    to the sketch's own size and the sketch's lines laid over them, so lines stay as sharp
    as drawn; `lines="model"` returns the network's own output, resized.
    """

    def __init__(self, generator: torch.nn.Module, config: Config, *, device: torch.device,
                 batch_size: int = 8, lines: str = "keep"):
        if lines not in LINE_MODES:
            raise SketchcolorError(f"lines must be one of {', '.join(LINE_MODES)}, not {lines!r}")
        self.generator = generator.to(device).eval()
        self.config = config
        self.device = device
        self.batch_size = batch_size
        self.lines = lines
        self.size = config.data.size

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, *, device: str = "auto", batch_size: int = 8,
                        lines: str = "keep") -> "Colorizer":
        """Load a model directory or run folder (None: the bundled default model)."""
        target = resolve_device(device)
        generator, config, _ = load_model(resolve_model_dir(path), device=target)
        return cls(generator, config, device=target, batch_size=batch_size, lines=lines)

    def __call__(self, images: Image.Image | list[Image.Image]) -> Image.Image | list[Image.Image]:
        if isinstance(images, Image.Image):
            return self([images])[0]
        results: list[Image.Image] = []
        for start in range(0, len(images), self.batch_size):
            results += self._colorize_batch(images[start : start + self.batch_size])
        return results

    @torch.no_grad()
    def colorize_tensors(self, sketches: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) sketches in [-1, 1] at any size -> (B, 3, H, W) colors in [-1, 1]."""
        height, width = sketches.shape[-2:]
        working = F.interpolate(sketches.to(self.device), size=(self.size, self.size), mode="bicubic",
                                antialias=True, align_corners=False).clamp(-1, 1)
        colors = self.generator(working).float()
        if (height, width) != (self.size, self.size):
            colors = F.interpolate(colors, size=(height, width), mode="bicubic", antialias=True,
                                   align_corners=False).clamp(-1, 1)
        return colors

    def _colorize_batch(self, images: list[Image.Image]) -> list[Image.Image]:
        # Images of different sizes: bring each to the working size on its own first.
        pages = [to_rgb(image) for image in images]
        working = [page.resize((self.size, self.size), Image.Resampling.BICUBIC) for page in pages]
        sketches = torch.stack([to_tensor(image, 1) for image in working]).to(self.device)
        colors = self.colorize_tensors(sketches)
        if self.lines == "model":
            return [to_pil(color).resize(page.size, Image.Resampling.BICUBIC) for color, page in zip(colors.cpu(), pages)]
        flat = flat_colors(colors, sketches).cpu()
        return [multiply_lines(to_pil(color).resize(page.size, Image.Resampling.BICUBIC), page)
                for color, page in zip(flat, pages)]
