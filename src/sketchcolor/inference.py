"""Colorize sketches with a trained generator: `Colorizer.from_pretrained(path)(image)`."""

from __future__ import annotations

import copy
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from PIL import Image

from .checkpoint import load_model, resolve_model_dir
from .compose import LINE_MODES, SMOOTH_STEPS, render
from .config import Config
from .device import resolve_device
from .errors import SketchcolorError
from .imageio import to_gray
from .page import PAGE_SCALE, Layers, compose_page, fit_region, tile_region
from .runtime import BACKENDS, PRECISIONS, FrozenCompiled, autocast, pick_backend, pick_precision
from .tiling import colorize_tiled

if TYPE_CHECKING:
    from .export import OnnxGenerator

log = logging.getLogger("sketchcolor")
DETAIL_MODES = ("whole", "tiles")


@dataclass(frozen=True)
class PageOptions:
    """How one call colorizes its pages; each may change from call to call on one Colorizer."""

    lines: str = "keep"  # keep: the page's own lines over flattened colors; model: the network's page
    smooth: int = SMOOTH_STEPS  # rounds of evening colors out inside the lines (lines "keep")
    detail: str = "whole"  # whole: the page at the working size; tiles: overlapping tiles at twice that
    size: int | None = None  # the network's working size; None: the model's own (data.size)

    def __post_init__(self) -> None:
        if self.smooth < 0:
            raise SketchcolorError(f"smooth must be 0 or more rounds, not {self.smooth}")
        for name, value, allowed in (("lines", self.lines, LINE_MODES), ("detail", self.detail, DETAIL_MODES)):
            if value not in allowed:
                raise SketchcolorError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


class Colorizer:
    """A generator plus the way pages go through it (page.py).

    Pages of any size and mode are colorized at their full size: see PageOptions for what
    each call may choose. `generator` is a torch module, or with `backend="onnx"` an
    `export.OnnxGenerator` (the same tensor-in, tensor-out interface). The caller's module is
    never changed: one still in training mode, or on another device, is copied. `precision`
    is what actually runs: "bf16" falls back to "fp32" where it cannot.
    """

    def __init__(self, generator: torch.nn.Module | OnnxGenerator, config: Config, *, device: torch.device,
                 batch_size: int = 8, precision: str = "fp32", backend: str = "torch",
                 options: PageOptions = PageOptions()):
        if precision not in PRECISIONS or backend not in BACKENDS:
            raise SketchcolorError(f"precision must be one of {', '.join(PRECISIONS)} and backend one of "
                                   f"{', '.join(BACKENDS)}, not {precision!r} and {backend!r}")
        is_torch = isinstance(generator, torch.nn.Module)
        self.generator = _for_inference(generator, device) if is_torch else generator
        self.config = config
        self.device = device
        self.batch_size = batch_size
        self.options = options
        self.size_multiple = 2 ** config.generator.depth if config.generator.name == "resunet" else 4
        self.backend = pick_backend(backend, device) if is_torch else "onnx"
        self.precision = pick_precision(precision, device, self.backend)
        # What runs the network: the module itself, or its frozen compiled form (compiled on first use).
        self.run = FrozenCompiled(self.generator, batch_size) if self.backend == "compile" else self.generator

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, *, device: str = "auto", batch_size: int = 8,
                        backend: str = "auto", precision: str = "auto", images: int | None = None,
                        **options) -> "Colorizer":
        """Load a model directory or run folder (None: the bundled default model); `options`
        are PageOptions' fields, the defaults of every call.

        `backend="onnx"` runs it with ONNX Runtime: a model directory is exported once and
        cached under ~/.cache/sketchcolor/onnx; an `.onnx` file from `export onnx` runs as is.
        `backend="auto"` compiles when `images` (the job's length, if known) repays it, and
        `precision="auto"` uses bf16 where the hardware has it: see runtime.py.
        """
        page_options = PageOptions(**options)
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
        return cls(generator, config, device=target, batch_size=batch_size, precision=precision, backend=backend,
                   options=page_options)

    @property
    def size(self) -> int:
        """The model's own working size."""
        return self.config.data.size

    def with_options(self, **changes) -> PageOptions:
        """This colorizer's default options with `changes` (None values keep the default)."""
        options = dataclasses.replace(self.options, **{k: v for k, v in changes.items() if v is not None})
        size = options.size or self.size
        if size < self.size_multiple or size % self.size_multiple:
            raise SketchcolorError(f"working size must be a multiple of {self.size_multiple}, not {size}")
        return options

    def __call__(self, images: Image.Image | list[Image.Image], **options) -> Image.Image | list[Image.Image]:
        """Colorized pages, each at its input's full size; `options` override PageOptions for this call."""
        if isinstance(images, Image.Image):
            return self.layers([images], **options)[0].composite
        return [page.composite for page in self.layers(images, **options)]

    def layers(self, images: list[Image.Image], **options) -> list[Layers]:
        """Each page as layers: the composite, and with lines "keep" the flat colors and lines."""
        chosen = self.with_options(**options)
        size = chosen.size or self.size
        if chosen.detail == "tiles":
            return [self._tiled(to_gray(image), size, chosen) for image in images]
        # Kept lines need the page where its lines are resolved, to flatten the colors inside
        # them; the network's own page needs only its output, resized once.
        side = size * PAGE_SCALE if chosen.lines == "keep" else size
        results: list[Layers] = []
        for start in range(0, len(images), self.batch_size):
            grays = [to_gray(image) for image in images[start : start + self.batch_size]]
            regions = [fit_region(gray, side) for gray in grays]
            colors = self.paint(torch.stack([region.sketch for region in regions]), size, chosen.lines).cpu()
            results += [compose_page(c, region, gray, lines=chosen.lines, smooth=chosen.smooth)
                        for c, region, gray in zip(colors, regions, grays)]
        return results

    def _tiled(self, gray: Image.Image, size: int, chosen: PageOptions) -> Layers:
        region = tile_region(gray, size)
        colors = colorize_tiled(lambda tiles: self.paint(tiles, size, chosen.lines), region.sketch, size,
                                self.batch_size)
        return compose_page(colors, region, gray, lines=chosen.lines, smooth=chosen.smooth)

    @torch.no_grad()
    def paint(self, sketches: torch.Tensor, size: int | None = None, lines: str = "keep") -> torch.Tensor:
        """(B, 1, H, W) sketches in [-1, 1] -> (B, 3, H, W) colors in [-1, 1], the network run at
        `size` (default: the model's): with lines "keep" the colors to lay the lines over, with
        "model" the network's page."""
        size = size or self.size
        height, width = sketches.shape[-2:]
        working = F.interpolate(sketches.to(self.device), size=(size, size), mode="bicubic",
                                antialias=True, align_corners=False).clamp(-1, 1)
        with autocast(self.device, self.precision):
            colors = self.run(working).float()
        if lines == "model":  # a generator that paints under the lines shows its layer with them
            colors = render(colors, working, self.config.generator.output)
        if (height, width) != (size, size):
            colors = F.interpolate(colors, size=(height, width), mode="bicubic", antialias=True,
                                   align_corners=False).clamp(-1, 1)
        return colors


def _for_inference(generator: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The module ready to infer on `device`, without touching the caller's: a module in
    training mode (the trainer's, validated mid-run) or elsewhere is copied first."""
    parameter = next(generator.parameters(), None)
    elsewhere = parameter is not None and parameter.device != device
    if generator.training or elsewhere:
        generator = copy.deepcopy(generator).to(device).eval()
    return generator
