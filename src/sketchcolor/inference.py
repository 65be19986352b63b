"""Colorize sketches with a trained generator: `Colorizer.from_pretrained(path)(image)`."""

from __future__ import annotations

import copy
import dataclasses
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from PIL import Image

from .backend_choice import Candidate, choose
from .checkpoint import load_model, resolve_model_dir
from .compose import LINE_MODES, SMOOTH_STEPS, render
from .config import Config
from .device import resolve_device
from .errors import SketchcolorError
from .hints import HINT_CHANNELS, Hints, as_hints, draw_hints, fill_hints, paint_hints
from .page import PAGE_SCALE, Layers, Region, compose_page, fit_box, fit_region, page_gray, tile_region
from .runtime import BACKENDS, PRECISIONS, FrozenCompiled, autocast, pick_backend, pick_precision
from .tiling import colorize_tiled

if TYPE_CHECKING:
    from .export import OnnxGenerator

log = logging.getLogger("sketchcolor")
DETAIL_MODES = ("whole", "tiles")
COMPOSE_THREADS = 2
HINT_FILL = 0.5  # PageOptions.hint_fill: chosen on the validation sets (MODEL_CARD.md)
HINT_GAP = 0.0  # PageOptions.hint_gap: likewise
HINT_CLAIM = 0.064  # PageOptions.hint_claim: likewise
MAX_HINT_GAP = 0.1
CLEAN = True  # PageOptions.clean: chosen on validation pages (MODEL_CARD.md, "Scanned, faint and photographed pages")
NO_HINTS = ("this model was trained without color hints: colorize without hints, or use a hint-capable model "
            "(the bundled default takes them)")


@dataclass(frozen=True)
class PageOptions:
    """How one call colorizes its pages; each may change from call to call on one Colorizer."""

    lines: str = "keep"  # keep: the page's own lines over flattened colors; model: the network's page
    smooth: int = SMOOTH_STEPS  # rounds of evening colors out inside the lines (lines "keep")
    detail: str = "whole"  # whole: the page at the working size; tiles: overlapping tiles at twice that
    size: int | None = None  # the network's working size; None: the model's own (data.size)
    # With lines "keep": how far (a fraction of the working size) each color hint fills the
    # region it was dropped in, up to the lines, over the network's colors (0: the network's alone).
    hint_fill: float = HINT_FILL
    # Gaps in an outline up to this fraction of the page's side are closed for a hint's fill, as
    # a painting program's "close gap" does (0: a fill runs through every gap).
    hint_gap: float = HINT_GAP
    # Where hints compete, each first takes the region its outline encloses with gaps up to this
    # fraction of the page's side closed; then the fills run on through them (0: plain fills).
    hint_claim: float = HINT_CLAIM
    # Levels before coloring: the paper made white and the darkest lines black (page.page_gray),
    # for scanned, faint or photographed pages; a clean digital page comes back unchanged.
    clean: bool = CLEAN

    def __post_init__(self) -> None:
        if self.smooth < 0:
            raise SketchcolorError(f"smooth must be 0 or more rounds, not {self.smooth}")
        if not 0 <= self.hint_fill <= 4:
            raise SketchcolorError(f"hint_fill must be from 0 to 4 working sizes, not {self.hint_fill}")
        for name, width in (("hint_gap", self.hint_gap), ("hint_claim", self.hint_claim)):
            if not 0 <= width <= MAX_HINT_GAP:
                raise SketchcolorError(f"{name} must be from 0 to {MAX_HINT_GAP} of the page's side, not {width}")
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
                 options: PageOptions = PageOptions(), compose_threads: int = COMPOSE_THREADS):
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
        self.backend = pick_backend(backend) if is_torch else "onnx"
        self.precision = pick_precision(precision, device, self.backend)
        # What runs the network: the module itself, or its frozen compiled form (compiled on first use).
        self.run = FrozenCompiled(self.generator, batch_size) if self.backend == "compile" else self.generator
        # Pages are composed on these threads; two measured fastest on 2 cores (`colorize_files`).
        self._composer = ThreadPoolExecutor(compose_threads, thread_name_prefix="sketchcolor-compose")

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, *, device: str = "auto", batch_size: int = 8,
                        backend: str = "auto", precision: str = "auto", images: int | None = None,
                        **options) -> "Colorizer":
        """Load a model directory or run folder (None: the bundled default model); `options`
        are PageOptions' fields, the defaults of every call.

        `backend="onnx"` runs it with ONNX Runtime: a model directory is exported once and
        cached under ~/.cache/sketchcolor/onnx; an `.onnx` file from `export onnx` runs as is
        (with `auto` too: ONNX Runtime is the only backend for it).
        `backend="auto"` on a CPU runs what this machine measured fastest for the model and a job
        of `images` images (None: one batch), measured once and cached (backend_choice.py), and
        `precision="auto"` uses bf16 where the hardware computes it natively: see runtime.py.
        """
        page_options = PageOptions(**options)
        if precision not in PRECISIONS or backend not in BACKENDS:
            raise SketchcolorError(f"precision must be one of {', '.join(PRECISIONS)} and backend one of "
                                   f"{', '.join(BACKENDS)}, not {precision!r} and {backend!r}")
        target = resolve_device(device)
        model = resolve_model_dir(path)
        is_onnx_file = model.suffix == ".onnx" and model.is_file()
        if is_onnx_file and backend not in ("onnx", "auto"):
            raise SketchcolorError(f"{model} is an ONNX file: load it with backend='onnx'")
        builds = _Builds(cls, model, target, batch_size, page_options)
        if is_onnx_file:
            return builds(Candidate("onnx", precision))
        if backend == "auto" and target.type == "cpu":
            config = builds.load("torch")[1]
            return choose(builds, config, size=page_options.size or config.data.size,
                          batch=min(batch_size, images or batch_size), images=images, precision=precision,
                          prepare=builds.export_once)
        return builds(Candidate(pick_backend(backend), precision))

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

    @property
    def takes_hints(self) -> bool:
        """Whether the model was trained with color hints (hints.py)."""
        return self.config.generator.hints

    def hint_reach(self, size: int) -> int:
        """How many pixels of a `size` working page each hint's color is spread (config.HintConfig.spread)."""
        return round(self.config.hints.spread * size)

    def __call__(self, images: Image.Image | list[Image.Image], *, hints=None,
                 **options) -> Image.Image | list[Image.Image]:
        """Colorized pages, each at its input's full size; `hints` (one per page, or one for a
        single page: Hints, its JSON form as a dict, a hint file's path or a hint-layer image)
        say which colors go where; `options` override PageOptions for this call."""
        if isinstance(images, Image.Image):
            return self.layers([images], hints=None if hints is None else [hints], **options)[0].composite
        return [page.composite for page in self.layers(images, hints=hints, **options)]

    def layers(self, images: list[Image.Image], *, hints: list | None = None, **options) -> list[Layers]:
        """Each page as layers: the composite, and with lines "keep" the flat colors and lines."""
        return [future.result() for future in self.submit_layers(images, hints=hints, **options)]

    def submit_layers(self, images: list[Image.Image], *, hints: list | None = None,
                      **options) -> list[Future[Layers]]:
        """`layers` as futures, in page order: the network runs now, batch by batch, and each
        page is composed on the colorizer's threads while the next batch runs. Composing a
        1024 px page (smoothing, resizing) costs more than the network (the benchmark's `colorize`),
        and it overlaps: PyTorch's ops and Pillow's release the GIL."""
        chosen = self.with_options(**options)
        size = chosen.size or self.size
        hints = self._checked_hints(images, hints)
        if chosen.detail == "tiles":  # tiles run the network page by page: composed here, in order
            return [_done(self._tiled(page_gray(image, chosen.clean), size, chosen, page_hints))
                    for image, page_hints in zip(images, hints)]
        # Kept lines need the page where its lines are resolved, to flatten the colors inside
        # them; the network's own page needs only its output, resized once.
        side = size * PAGE_SCALE if chosen.lines == "keep" else size
        futures: list[Future[Layers]] = []
        for start in range(0, len(images), self.batch_size):
            grays = [page_gray(image, chosen.clean) for image in images[start : start + self.batch_size]]
            batch_hints = hints[start : start + self.batch_size]
            regions = [fit_region(gray, side) for gray in grays]
            given = None
            if self.takes_hints:  # drawn straight at the working size, where the network reads them
                given = torch.stack([draw_hints(page_hints, gray.size, fit_box(*gray.size, size), (size, size),
                                                sketch=region.sketch, reach=self.hint_reach(size))
                                     for gray, region, page_hints in zip(grays, regions, batch_hints)])
            colors = self.paint(torch.stack([region.sketch for region in regions]), size, chosen.lines, given).cpu()
            futures += [self._composer.submit(self._composed, page_colors, region, gray, page_hints, size, chosen)
                        for page_colors, region, gray, page_hints in zip(colors, regions, grays, batch_hints)]
        return futures

    def _composed(self, colors: torch.Tensor, region: Region, gray: Image.Image, hints: Hints | None, size: int,
                  chosen: PageOptions) -> Layers:
        """One page's colors, its hints filled in, composed back at the page's full size."""
        return compose_page(self._filled(colors, region, gray, hints, size, chosen), region, gray,
                            lines=chosen.lines, smooth=chosen.smooth)

    def _filled(self, colors: torch.Tensor, region: Region, gray: Image.Image, hints: Hints | None, size: int,
                chosen: PageOptions) -> torch.Tensor:
        """The region's colors with each hint filling the area it was dropped in (lines "keep":
        where the page's lines are resolved), before they are evened out inside the lines."""
        if not hints or chosen.lines != "keep" or chosen.hint_fill <= 0:
            return colors
        # Both detail modes compose at PAGE_SCALE working sizes: the reach is measured there.
        side = size * PAGE_SCALE
        drawn = draw_hints(hints, gray.size, region.box, tuple(colors.shape[-2:]))
        return paint_hints(colors, fill_hints(drawn, region.sketch, round(chosen.hint_fill * side),
                                              gap=round(chosen.hint_gap * side / 2),
                                              claim=round(chosen.hint_claim * side / 2)))

    def _checked_hints(self, images: list[Image.Image], hints: list | None) -> list[Hints | None]:
        """One Hints (or None) per page, each checked against its page; hints for a model that
        cannot take them are refused rather than silently ignored."""
        hints = [as_hints(item) for item in hints] if hints is not None else [None] * len(images)
        if len(hints) != len(images):
            raise SketchcolorError(f"{len(hints)} hint sets for {len(images)} pages: give one per page (or None)")
        if any(hints) and not self.takes_hints:
            raise SketchcolorError(NO_HINTS)
        for image, page_hints in zip(images, hints):
            if page_hints:
                page_hints.check(image.size)
        return hints

    def _tiled(self, gray: Image.Image, size: int, chosen: PageOptions, hints: Hints | None) -> Layers:
        region = tile_region(gray, size)
        stacked = region.sketch
        if self.takes_hints:  # hint channels tiled with the sketch, so each tile sees its own hints
            stacked = torch.cat([stacked, draw_hints(hints, gray.size, region.box, tuple(stacked.shape[-2:]),
                                                     sketch=region.sketch, reach=self.hint_reach(size))])
        colors = colorize_tiled(lambda tiles: self.paint(tiles[:, :1], size, chosen.lines, tiles[:, 1:] if
                                                         self.takes_hints else None), stacked, size, self.batch_size)
        return self._composed(colors, region, gray, hints, size, chosen)

    def warm_up(self) -> None:
        """One batch through the network at the working size: compiles, or lets kernels be chosen."""
        self.paint(torch.ones(self.batch_size, 1, self.size, self.size))

    @torch.no_grad()
    def paint(self, sketches: torch.Tensor, size: int | None = None, lines: str = "keep",
              hints: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) sketches in [-1, 1] -> (B, 3, H, W) colors in [-1, 1], the network run at
        `size` (default: the model's): with lines "keep" the colors to lay the lines over, with
        "model" the network's page. A hint-capable model also takes `hints` (B, 4, size, size),
        hints.draw_hints' channels at the working size (None: no hints)."""
        size = size or self.size
        height, width = sketches.shape[-2:]
        working = F.interpolate(sketches.to(self.device), size=(size, size), mode="bicubic",
                                antialias=True, align_corners=False).clamp(-1, 1)
        given = working
        if self.takes_hints:
            if hints is None:
                hints = torch.zeros(len(working), HINT_CHANNELS, size, size)
            given = torch.cat([working, hints.to(self.device, working.dtype)], 1)
        with autocast(self.device, self.precision):
            colors = self.run(given).float()
        if lines == "model":  # a generator that paints under the lines shows its layer with them
            colors = render(colors, working, self.config.generator.output)
        if (height, width) != (size, size):
            colors = F.interpolate(colors, size=(height, width), mode="bicubic", antialias=True,
                                   align_corners=False).clamp(-1, 1)
        return colors


class _Builds:
    """Colorizers of one model, one per candidate backend (`auto` measures several): each form
    of the model (torch module, ONNX session) is loaded once."""

    def __init__(self, cls: type[Colorizer], model: Path, device: torch.device, batch_size: int,
                 options: PageOptions):
        self.cls, self.model, self.device, self.batch_size, self.options = cls, model, device, batch_size, options
        self.loaded: dict[str, tuple] = {}

    def __call__(self, candidate: Candidate) -> Colorizer:
        generator, config = self.load("onnx" if candidate.backend == "onnx" else "torch")
        return self.cls(generator, config, device=self.device, batch_size=self.batch_size,
                        precision=candidate.precision, backend=candidate.backend, options=self.options)

    def load(self, form: str) -> tuple:
        if form not in self.loaded:
            if form == "onnx":
                from .export import load_onnx  # onnxruntime is imported only when it is used

                self.loaded[form] = load_onnx(self.model, device=self.device)
            else:
                self.loaded[form] = load_model(self.model, device=self.device)[:2]
        return self.loaded[form]

    def export_once(self, candidate: Candidate) -> None:
        """The ONNX export is made once and cached on disk: not a set-up later jobs pay."""
        if candidate.backend == "onnx" and self.model.is_dir():
            from .export import cached_onnx

            cached_onnx(self.model)


def _done(layers: Layers) -> Future[Layers]:
    future: Future[Layers] = Future()
    future.set_result(layers)
    return future


def _for_inference(generator: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The module ready to infer on `device`, without touching the caller's: a module in
    training mode (the trainer's, validated mid-run) or elsewhere is copied first."""
    parameter = next(generator.parameters(), None)
    elsewhere = parameter is not None and parameter.device != device
    if generator.training or elsewhere:
        generator = copy.deepcopy(generator).to(device).eval()
    return generator
