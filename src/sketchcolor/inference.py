"""Colorize sketches with a trained generator: `Colorizer.from_pretrained(path)(image)`."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from PIL import Image

from .checkpoint import load_model
from .compose import LINE_MODES, flat_colors, multiply_lines
from .config import Config
from .device import resolve_device
from .errors import SketchcolorError
from .imageio import to_gray, to_pil
from .tiling import DETAIL_MODES, Region, colorize_tiled, letterbox, tile_region

if TYPE_CHECKING:
    from .export import OnnxGenerator

log = logging.getLogger("sketchcolor")
DEFAULT_MODEL = Path(__file__).parent / "weights" / "default"
BACKENDS = ("torch", "onnx")
PRECISIONS = ("fp32", "bf16")


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


def model_label(model_dir: Path) -> str:
    """A run's name for its best/ or latest/ generator, else the directory's own name."""
    return model_dir.parent.name if model_dir.name in ("best", "latest") else model_dir.name


class Colorizer:
    """A generator plus the pre/post-processing around it.

    Sketches of any size and mode are converted to gray, resized to the model's working
    size and colorized. With `lines="keep"` (the default) the colors are flattened, brought
    to the sketch's own size and the sketch's lines laid over them, so lines stay as sharp
    as drawn; `lines="model"` returns the network's own output, resized.

    `generator` is the torch module, or with `backend="onnx"` an `export.OnnxGenerator`: a
    callable with the same tensor-in, tensor-out interface around an ONNX Runtime session.
    `precision` is what actually runs: "bf16" falls back to "fp32" where it cannot.
    """

    def __init__(self, generator: torch.nn.Module | OnnxGenerator, config: Config, *, device: torch.device,
                 batch_size: int = 8, lines: str = "keep", precision: str = "fp32", detail: str = "whole"):
        if lines not in LINE_MODES:
            raise SketchcolorError(f"lines must be one of {', '.join(LINE_MODES)}, not {lines!r}")
        if detail not in DETAIL_MODES:
            raise SketchcolorError(f"detail must be one of {', '.join(DETAIL_MODES)}, not {detail!r}")
        if precision not in PRECISIONS:
            raise SketchcolorError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        is_torch = isinstance(generator, torch.nn.Module)
        self.generator = generator.to(device).eval() if is_torch else generator
        self.config = config
        self.device = device
        self.batch_size = batch_size
        self.lines = lines
        self.detail = detail
        self.size = config.data.size
        self.precision = precision if precision == "fp32" or _bf16_runs(device, is_torch) else "fp32"

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, *, device: str = "auto", batch_size: int = 8,
                        lines: str = "keep", backend: str = "torch", precision: str = "fp32",
                        detail: str = "whole") -> "Colorizer":
        """Load a model directory or run folder (None: the bundled default model).

        `backend="onnx"` runs it with ONNX Runtime: a model directory is exported once and
        cached under ~/.cache/sketchcolor/onnx; an `.onnx` file from `export onnx` runs as is.
        """
        if backend not in BACKENDS:
            raise SketchcolorError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        target = resolve_device(device)
        model = resolve_model_dir(path)
        if backend == "onnx":
            from .export import load_onnx  # onnxruntime is imported only when it is used

            generator, config = load_onnx(model, device=target)
        elif model.suffix == ".onnx" and model.is_file():
            raise SketchcolorError(f"{model} is an ONNX file: load it with backend='onnx'")
        else:
            generator, config, _ = load_model(model, device=target)
        return cls(generator, config, device=target, batch_size=batch_size, lines=lines, precision=precision,
                   detail=detail)

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
        for start in range(0, len(images), self.batch_size):
            grays = [to_gray(image) for image in images[start : start + self.batch_size]]
            regions = [letterbox(gray, self.size) for gray in grays]
            colors = self.colorize_tensors(torch.stack([region.sketch for region in regions])).cpu()
            results += [self._compose(c, region, gray) for c, region, gray in zip(colors, regions, grays)]
        return results

    @torch.no_grad()
    def colorize_tensors(self, sketches: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) sketches in [-1, 1] at any size -> (B, 3, H, W) colors in [-1, 1]."""
        height, width = sketches.shape[-2:]
        working = F.interpolate(sketches.to(self.device), size=(self.size, self.size), mode="bicubic",
                                antialias=True, align_corners=False).clamp(-1, 1)
        bf16 = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.precision == "bf16" else nullcontext()
        with bf16:
            colors = self.generator(working).float()
        if (height, width) != (self.size, self.size):
            colors = F.interpolate(colors, size=(height, width), mode="bicubic", antialias=True,
                                   align_corners=False).clamp(-1, 1)
        return colors

    def _compose(self, colors: torch.Tensor, region: Region, page: Image.Image) -> Layers:
        """Colors (3, h, w) for a region -> the page at full size, lines as --lines says."""
        if self.lines == "model":
            return Layers(to_pil(region.crop(colors)).resize(page.size, Image.Resampling.BICUBIC))
        flat = to_pil(region.crop(flat_colors(colors[None], region.sketch[None])[0]))
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


def _bf16_runs(device: torch.device, is_torch: bool) -> bool:
    """Whether bf16 autocast works here; if not, one note says so (the caller uses fp32)."""
    if not is_torch:
        reason = "the ONNX backend runs fp32 only"
    elif device.type == "cuda":
        reason = None if torch.cuda.is_bf16_supported() else f"{torch.cuda.get_device_name(device)} has no bf16"
    else:
        reason = None if _cpu_autocast_bf16() else "this torch has no bf16 autocast on the CPU"
    if reason:
        log.warning("precision bf16: %s; using fp32", reason)
    return reason is None


@cache
def _cpu_autocast_bf16() -> bool:
    # A real convolution, not a version check: what matters is that the kernels exist.
    # CPUs without native bf16 instructions (AVX512-BF16, AMX) still run it, emulated and slower.
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3)).dtype == torch.bfloat16
    except RuntimeError:
        return False
