"""Colorize sketches with a trained generator: `Colorizer.from_pretrained(path)(image)`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from PIL import Image

from .checkpoint import load_model, resolve_model_dir
from .compose import LINE_MODES, SMOOTH_STEPS, flat_colors, multiply_lines, render
from .config import Config
from .device import resolve_device
from .errors import SketchcolorError
from .imageio import to_gray, to_pil
from .runtime import BACKENDS, PRECISIONS, FrozenCompiled, autocast, pick_backend, pick_precision
from .tiling import DETAIL_MODES, PAGE_SCALE, Region, colorize_tiled, letterbox, tile_region

if TYPE_CHECKING:
    from .export import OnnxGenerator

log = logging.getLogger("sketchcolor")


class Colorizer:
    """A generator plus the pre/post-processing around it.

    Sketches of any size and mode are converted to gray, resized to the model's working
    size and colorized. With `lines="keep"` (the default) the colors are flattened (evened
    out inside the lines for `smooth` rounds), brought to the sketch's own size and the
    sketch's lines laid over them, so lines stay as sharp as drawn; `lines="model"` returns
    the network's own output, resized.

    `generator` is the torch module, or with `backend="onnx"` an `export.OnnxGenerator`: a
    callable with the same tensor-in, tensor-out interface around an ONNX Runtime session.
    `precision` is what actually runs: "bf16" falls back to "fp32" where it cannot.
    """

    def __init__(self, generator: torch.nn.Module | OnnxGenerator, config: Config, *, device: torch.device,
                 batch_size: int = 8, lines: str = "keep", precision: str = "fp32", detail: str = "whole",
                 backend: str = "torch", smooth: int = SMOOTH_STEPS):
        if smooth < 0:
            raise SketchcolorError(f"smooth must be 0 or more rounds, not {smooth}")
        for name, value, allowed in (("lines", lines, LINE_MODES), ("detail", detail, DETAIL_MODES),
                                     ("precision", precision, PRECISIONS), ("backend", backend, BACKENDS)):
            if value not in allowed:
                raise SketchcolorError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        is_torch = isinstance(generator, torch.nn.Module)
        self.generator = generator.to(device).eval() if is_torch else generator
        self.config = config
        self.device = device
        self.batch_size = batch_size
        self.lines = lines
        self.detail = detail
        self.smooth = smooth  # rounds of smoothing inside the lines with lines="keep" (compose.py)
        self.size = config.data.size
        self.backend = pick_backend(backend, device) if is_torch else "onnx"
        self.precision = pick_precision(precision, device, self.backend)
        # What runs the network: the module itself, or its frozen compiled form (compiled on first use).
        self.run = FrozenCompiled(self.generator, batch_size) if self.backend == "compile" else self.generator

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, *, device: str = "auto", batch_size: int = 8,
                        lines: str = "keep", backend: str = "auto", precision: str = "auto",
                        detail: str = "whole", images: int | None = None,
                        smooth: int = SMOOTH_STEPS) -> "Colorizer":
        """Load a model directory or run folder (None: the bundled default model).

        `backend="onnx"` runs it with ONNX Runtime: a model directory is exported once and
        cached under ~/.cache/sketchcolor/onnx; an `.onnx` file from `export onnx` runs as is.
        `backend="auto"` compiles when `images` (the job's length, if known) repays it, and
        `precision="auto"` uses bf16 where the hardware has it: see runtime.py.
        """
        if backend not in BACKENDS:
            raise SketchcolorError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        target = resolve_device(device)
        model = resolve_model_dir(path)
        backend = pick_backend(backend, target, images)
        if backend == "onnx":
            from .export import load_onnx  # onnxruntime is imported only when it is used

            generator, config = load_onnx(model, device=target)
        elif model.suffix == ".onnx" and model.is_file():
            raise SketchcolorError(f"{model} is an ONNX file: load it with backend='onnx'")
        else:
            generator, config, _ = load_model(model, device=target)
        return cls(generator, config, device=target, batch_size=batch_size, lines=lines, precision=precision,
                   detail=detail, backend=backend, smooth=smooth)

    def __call__(self, images: Image.Image | list[Image.Image]) -> Image.Image | list[Image.Image]:
        """Colorized pages, each at its input's full size."""
        if isinstance(images, Image.Image):
            return self.layers([images])[0].composite
        return [page.composite for page in self.layers(images)]

    def layers(self, images: list[Image.Image]) -> list[Layers]:
        """Each page as layers: the composite, and with lines="keep" the flat colors and lines."""
        results: list[Layers] = []
        if self.detail == "tiles":
            for image in images:
                gray = to_gray(image)
                region = tile_region(gray, self.size)
                colors = colorize_tiled(self.colorize_tensors, region.sketch, self.size, self.batch_size)
                results.append(self._compose(colors, region, gray))
            return results
        # Kept lines need the page where its lines are resolved, to flatten the colors inside
        # them; the network's own page needs only its output, resized once.
        side = self.size * PAGE_SCALE if self.lines == "keep" else self.size
        for start in range(0, len(images), self.batch_size):
            grays = [to_gray(image) for image in images[start : start + self.batch_size]]
            regions = [letterbox(gray, side) for gray in grays]
            colors = self.colorize_tensors(torch.stack([region.sketch for region in regions])).cpu()
            results += [self._compose(c, region, gray) for c, region, gray in zip(colors, regions, grays)]
        return results

    @torch.no_grad()
    def colorize_tensors(self, sketches: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) sketches in [-1, 1] at any size -> (B, 3, H, W) colors in [-1, 1]: with
        lines="keep" the colors to lay the lines over, with lines="model" the network's page."""
        height, width = sketches.shape[-2:]
        working = F.interpolate(sketches.to(self.device), size=(self.size, self.size), mode="bicubic",
                                antialias=True, align_corners=False).clamp(-1, 1)
        with autocast(self.device, self.precision):
            colors = self.run(working).float()
        if self.lines == "model":  # a generator that paints under the lines shows its layer with them
            colors = render(colors, working, self.config.generator.output)
        if (height, width) != (self.size, self.size):
            colors = F.interpolate(colors, size=(height, width), mode="bicubic", antialias=True,
                                   align_corners=False).clamp(-1, 1)
        return colors

    def _compose(self, colors: torch.Tensor, region: Region, page: Image.Image) -> Layers:
        """Colors (3, h, w) for a region -> the page at full size, lines as --lines says."""
        if self.lines == "model":
            return Layers(to_pil(region.crop(colors)).resize(page.size, Image.Resampling.BICUBIC))
        flat = to_pil(region.crop(flat_colors(colors[None], region.sketch[None], smooth_steps=self.smooth)[0]))
        flat = flat.resize(page.size, Image.Resampling.BICUBIC)
        return Layers(multiply_lines(flat, page), flat=flat, lines=page)


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
