"""CPU benchmark of a preset with random weights: generator FLOPs, inference latency and
throughput per backend (torch eager, bf16 autocast, torch.compile, ONNX Runtime), a training
step, the data loader, peak memory, and the machine's own matmul peak to compare against.

`run_benchmark(preset, size=..., repeats=...)` returns one JSON-ready dict; `sketchcolor
benchmark` prints or writes it. Times are medians over `repeats` after warm-up; a variant
that fails is recorded with its error and never stops the run.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import platform
import resource
import statistics
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from PIL import Image, ImageDraw

from .atomic import atomic_write_text
from .config import Config, load_config
from .models import build_generator, generator_inputs
from .runtime import FrozenCompiled, cpu_autocast_bf16, cpu_flags, cpu_model, native_bf16

log = logging.getLogger("sketchcolor")
# CPU flags that decide which variants can be fast, recorded with every result.
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "asimd", "sve")
MATMUL_N = 2048  # side of the square matmul that measures the machine's peak
EMULATED_MATMUL_N = 512  # the same for emulated bf16 (0.3 GFLOP/s: 2048 would take a minute)
PARITY = 1e-2  # max |variant - eager fp32| for a variant to count as a faithful `infer_backend`
THROUGHPUT_BATCH = 8
TRAIN_BATCH = 4
PROBE_BATCHES = (4, 8, 16, 32)


def timed(fn: Callable[[], Any], *, repeats: int, warmup: int = 1) -> float:
    """Median wall seconds of `fn()` over `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def generator_gflop(generator: torch.nn.Module, size: int, channels: int = 1) -> float:
    """Forward GFLOPs at batch 1 (a multiply-add counts as 2, as FlopCounterMode does)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        generator(torch.zeros(1, channels, size, size))
    return counter.get_total_flops() / 1e9


def matmul_gflops(dtype: torch.dtype, *, repeats: int, n: int = MATMUL_N) -> float:
    """Same-run peak: GFLOP/s of an n^3 matmul (2 n^3 FLOPs) in `dtype`."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n**3 / timed(lambda: torch.mm(a, b), repeats=repeats) / 1e9


def torch_runner(module: Callable, bf16: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), (torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()):
            return module(x).float()

    return run


def onnx_runner(generator: torch.nn.Module, config: Config, workdir: Path) -> Callable:
    """Export through `sketchcolor.export` (which checks parity) and open an ONNX Runtime session."""
    from .checkpoint import save_model
    from .export import OnnxGenerator, export_onnx

    save_model(workdir / "model", generator, config)
    export_onnx(workdir / "model", workdir / "generator.onnx")
    return OnnxGenerator(workdir / "generator.onnx")


def variant_builders(generator: torch.nn.Module, config: Config, workdir: Path, *,
                     use_compile: bool = True) -> dict[str, Callable[[], Callable]]:
    """Name -> zero-argument builder of a tensor-in, tensor-out runner (built lazily, inside try)."""
    def fresh() -> torch.nn.Module:
        # Dynamo caches compiled code per module and shape; a variant must not reuse another's
        # graph (a frozen variant would silently run the unfrozen one compiled before it).
        torch._dynamo.reset()
        return copy.deepcopy(generator)

    compile_ = lambda: torch.compile(fresh(), mode="default", dynamic=False)  # noqa: E731
    # Colorizer's `compile` backend; batch 1 so both measured shapes are real (it pads up, not down).
    frozen = lambda: FrozenCompiled(fresh(), 1)  # noqa: E731
    builders = {"torch-eager-fp32": lambda: torch_runner(generator, False)}
    if bf16_skip_reason() is None:
        builders["torch-eager-bf16"] = lambda: torch_runner(generator, True)
    if use_compile:  # inductor's first call takes tens of seconds per shape
        builders["torch-compile-fp32"] = lambda: torch_runner(compile_(), False)
        builders["torch-compile-frozen-fp32"] = lambda: torch_runner(frozen(), False)
    if use_compile and bf16_skip_reason() is None:
        builders["torch-compile-bf16"] = lambda: torch_runner(compile_(), True)
        builders["torch-compile-frozen-bf16"] = lambda: torch_runner(frozen(), True)
    builders["onnxruntime-fp32"] = lambda: onnx_runner(generator, config, workdir)
    return builders


def measure_variant(name: str, build: Callable[[], Callable], inputs: dict[int, torch.Tensor],
                    reference: torch.Tensor | None, *, repeats: int) -> dict[str, Any]:
    """Latency at batch 1, throughput at batch 8 and max |output - eager fp32| for one variant."""
    record: dict[str, Any] = {"name": name, "precision": "bf16" if "bf16" in name else "fp32"}
    try:
        start = time.perf_counter()
        run = build()
        output = run(inputs[1])  # the first call also compiles or exports
        record["setup_s"] = round(time.perf_counter() - start, 3)
        run(inputs[THROUGHPUT_BATCH])  # warm-up (and compile) at the second shape
        record["latency_ms_bs1"] = 1e3 * timed(lambda: run(inputs[1]), repeats=repeats)
        bs8 = timed(lambda: run(inputs[THROUGHPUT_BATCH]), repeats=repeats, warmup=0)
        record["images_per_s_bs8"] = THROUGHPUT_BATCH / bs8
        base = output if reference is None else reference
        record["max_abs_diff"] = (output.float() - base).abs().max().item()
        record["ok"] = True
        record["output"] = output
    except Exception as err:  # noqa: BLE001 - a failing variant is a result, not a crash
        record.update(ok=False, error=f"{type(err).__name__}: {err}"[:500])
    log.info("benchmark: %s: %s", name, f"{record['latency_ms_bs1']:.1f} ms at batch 1, "
             f"{record['images_per_s_bs8']:.2f} images/s at batch {THROUGHPUT_BATCH}" if record["ok"] else record["error"])
    return record


def add_ratios(record: dict[str, Any], gflop: float, peaks: dict[str, float]) -> None:
    """Achieved GFLOP/s and its fraction of the same-precision matmul peak."""
    if not record.get("ok"):
        return
    peak = peaks[record["precision"]]
    bs1 = gflop / (record["latency_ms_bs1"] / 1e3)
    bs8 = gflop * record["images_per_s_bs8"]
    record.update(gflops_bs1=bs1, fraction_of_peak_bs1=bs1 / peak, gflops_bs8=bs8, fraction_of_peak_bs8=bs8 / peak)


def bf16_skip_reason() -> str | None:
    """Why the bf16 variants are not measured here, or None. Where the CPU has no bf16 units
    (no AVX512-BF16 or AMX) torch emulates it some 25x slower than fp32: minutes of measuring a
    variant no one should run (`--precision auto` never picks it either)."""
    if not cpu_autocast_bf16():
        return "this torch has no bf16 autocast on the CPU"
    if not native_bf16(torch.device("cpu")):
        return "bf16 is emulated on this CPU (no AVX512-BF16 or AMX), about 25x slower than fp32"
    return None


def inference_results(config: Config, size: int, repeats: int, peaks: dict[str, float], *,
                      use_compile: bool = True) -> dict[str, Any]:
    torch.manual_seed(0)
    generator = build_generator(config.generator).eval()
    channels = generator_inputs(config.generator)
    gflop = generator_gflop(generator, size, channels)
    rng = torch.Generator().manual_seed(0)
    inputs = {b: torch.rand(b, channels, size, size, generator=rng) * 2 - 1 for b in (1, THROUGHPUT_BATCH)}
    details, reference = [], None
    with tempfile.TemporaryDirectory() as workdir:
        for name, build in variant_builders(generator, config, Path(workdir), use_compile=use_compile).items():
            record = measure_variant(name, build, inputs, reference, repeats=repeats)
            output = record.pop("output", None)
            if name == "torch-eager-fp32":
                reference = output
            add_ratios(record, gflop, peaks)
            details.append(record)
        faithful = [d for d in details if d.get("ok") and d["max_abs_diff"] <= PARITY]
        best = min(faithful, key=lambda d: d["latency_ms_bs1"])
        auto = auto_results(generator, config, size, Path(workdir), details, use_compile=use_compile)
    return {"g_gflop": gflop, "infer_ms_bs1": best["latency_ms_bs1"], "infer_backend": best["name"],
            "details": details, "auto": auto}


# `--backend auto`'s candidates (backend_choice.py) as the variants above measure them.
VARIANT_OF_CANDIDATE = {"torch/fp32": "torch-eager-fp32", "torch/bf16": "torch-eager-bf16",
                        "compile/fp32": "torch-compile-frozen-fp32", "compile/bf16": "torch-compile-frozen-bf16",
                        "onnx/fp32": "onnxruntime-fp32"}


def auto_results(generator: torch.nn.Module, config: Config, size: int, workdir: Path,
                 details: list[dict[str, Any]], *, use_compile: bool) -> dict[str, Any]:
    """What `--backend auto` picks at batch 1, measured from scratch (a fresh cache) as on a new
    machine: for one sketch, where set-up counts, and for a stream of them (a server: compile is
    a candidate, with `use_compile`). Each with the time the choice took and the chosen variant's
    batch-1 latency against the fastest faithful variant above."""
    from .backend_choice import CACHE_FILE, SERVER_IMAGES, choose
    from .export import OnnxGenerator
    from .inference import Colorizer

    onnx_path = workdir / "generator.onnx"  # exported by the onnxruntime variant, if it ran

    def build(candidate):
        network = OnnxGenerator(onnx_path) if candidate.backend == "onnx" else generator
        return Colorizer(network, config, device=torch.device("cpu"), batch_size=1, precision=candidate.precision,
                         backend=candidate.backend)

    fastest = min((d["latency_ms_bs1"] for d in details if d.get("ok") and d["max_abs_diff"] <= PARITY))
    latency = {d["name"]: d["latency_ms_bs1"] for d in details if d.get("ok")}
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as cache:
        for job, images in (("one_sketch", 1), ("stream", SERVER_IMAGES)):
            torch._dynamo.reset()
            start = time.perf_counter()
            chosen = choose(build, config, size=size, batch=1, images=images, cache_dir=Path(cache),
                            allow_compile=use_compile)
            name = f"{chosen.backend}/{chosen.precision}"
            ms = latency.get(VARIANT_OF_CANDIDATE[name])
            (entry,) = json.loads((Path(cache) / CACHE_FILE).read_text()).values()  # what it measured
            result[job] = {"images": images, "choice": name, "choose_s": time.perf_counter() - start,
                           "latency_ms_bs1": ms, "vs_fastest": None if ms is None else ms / fastest,
                           "job_s": {candidate: timing["setup_s"] + images * timing["seconds_per_image"]
                                     for candidate, timing in entry["timings"].items()}}
            log.info("benchmark: backend auto for %s: %s (%.1f s to choose), %s the fastest variant's latency",
                     "one sketch" if images == 1 else f"{images} sketches", name, result[job]["choose_s"],
                     "?" if ms is None else f"{ms / fastest:.2f}x")
    return result


def train_results(config: Config, size: int, repeats: int, *, probe: bool, use_compile: bool = False) -> dict[str, Any]:
    """Images/s of the preset's train_step at batch 4 (median after 2 warm-up steps, which
    compile), in fp32 (the default, exact mode) and with bf16 autocast on the CPU
    (`train.amp_on_cpu`), each also with `train.compile` when `use_compile`; optionally the
    largest batch that runs in fp32. The headline `train_images_per_s_bs4` is the fp32 figure,
    the default's, not the fastest."""
    result: dict[str, Any] = {}
    variants = {"fp32": config}
    if bf16_skip_reason() is None:
        variants["bf16"] = config.with_overrides(["train.amp_on_cpu=true"])
    if use_compile and config.train.trainer == "paired":  # CycleGAN's trainer has no compiled step
        variants.update({f"{name}_compiled": variant.with_overrides(["train.compile=true"])
                         for name, variant in list(variants.items())})
    result["train_gflop_bs4"] = train_step_gflop(config, size)
    for name, variant in variants.items():
        with tempfile.TemporaryDirectory() as run_dir:
            step = _train_step_timer(variant, run_dir, size, repeats)
            result[f"train_images_per_s_bs4_{name}"] = TRAIN_BATCH / step(TRAIN_BATCH)
            log.info("benchmark: training %s: %.2f images/s at batch %d", name,
                     result[f"train_images_per_s_bs4_{name}"], TRAIN_BATCH)
            if probe and name == "fp32":
                result["train_max_batch"] = largest_batch(lambda batch: step(batch, once=True))
    result["train_images_per_s_bs4"] = result["train_images_per_s_bs4_fp32"]
    return result


def train_step_gflop(config: Config, size: int) -> float | None:
    """FLOPs of one fp32 train step at batch 4 (both networks, forward and backward): with the
    step's time, how close training runs to the machine's matmul peak. None for a preset with
    a gradient penalty: torch's FlopCounterMode cannot follow its double backward."""
    from torch.utils.flop_counter import FlopCounterMode

    from .train import make_trainer

    with tempfile.TemporaryDirectory() as run_dir:
        trainer = make_trainer(config, run_dir)
        data = {"sketch": torch.rand(TRAIN_BATCH, 1, size, size) * 2 - 1,
                "color": torch.rand(TRAIN_BATCH, 3, size, size) * 2 - 1}
        trainer.train_step(data)  # the first step builds the optimizers' state; it is not counted
        counter = FlopCounterMode(display=False)
        try:
            with counter:
                trainer.train_step(data)
        except RuntimeError:  # "A leaf node was passed to _will_engine_execute_node ..." (autograd.grad)
            return None
    return counter.get_total_flops() / 1e9


def _train_step_timer(config: Config, run_dir: str, size: int, repeats: int) -> Callable[[int], float]:
    from .train import make_trainer

    trainer = make_trainer(config, run_dir)  # the preset's own trainer (CycleGAN's trains four networks)

    def step(batch: int, once: bool = False) -> float:
        data = {"sketch": torch.rand(batch, 1, size, size) * 2 - 1, "color": torch.rand(batch, 3, size, size) * 2 - 1}
        return timed(lambda: trainer.train_step(data), repeats=1 if once else repeats, warmup=0 if once else 2)

    return step


def largest_batch(step: Callable[[int], Any]) -> int:
    """The largest of PROBE_BATCHES whose train step runs (stops at the first failure)."""
    largest = 0
    for batch in PROBE_BATCHES:
        try:
            step(batch)
        except (RuntimeError, MemoryError):
            break
        largest = batch
    return largest


def draw_pair(rng: np.random.Generator, size: int) -> Image.Image:
    """A side-by-side (sketch | color) pair of outlined shapes, as the data loader reads them."""
    pair = Image.new("RGB", (2 * size, size), "white")
    draw = ImageDraw.Draw(pair)
    for _ in range(4):
        x, y = (int(v) for v in rng.integers(0, size // 2, 2))
        w, h = (int(v) for v in rng.integers(size // 4, size // 2, 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        draw.ellipse([x, y, x + w, y + h], outline=(0, 0, 0), width=2)
        draw.ellipse([size + x, y, size + x + w, y + h], fill=fill, outline=(0, 0, 0), width=2)
    return pair


def loader_results(config: Config, size: int, *, count: int = 48, epochs: int = 2) -> dict[str, Any]:
    """Images/s of the project's DataLoader (EpochSampler, config's workers) over synthetic pairs."""
    from torch.utils.data import DataLoader

    from .data import EpochSampler, load_split

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "train").mkdir()
        for index in range(count):
            draw_pair(rng, size).save(Path(root) / "train" / f"pair_{index:03d}.png")
        data = dataclasses.replace(config.data, size=size, load_size=None, sketch_side="left",
                                   cache_dir=str(Path(root) / "cache"))
        dataset = load_split(root, "train", data, augment=True)  # decoding is cached, as in training
        sampler = EpochSampler(len(dataset), seed=0)
        loader = DataLoader(dataset, batch_size=TRAIN_BATCH, sampler=sampler, num_workers=data.num_workers,
                            drop_last=True, persistent_workers=data.num_workers > 0)
        start, seen = time.perf_counter(), 0
        for epoch in range(epochs):  # the first epoch includes starting the workers
            sampler.set_epoch(epoch)
            seen += sum(batch["sketch"].shape[0] for batch in loader)
        return {"loader_images_per_s": seen / (time.perf_counter() - start), "loader_workers": data.num_workers}


PAGE_SIDE = 1024
PAGE_BATCH = 4  # `colorize --batch-size`'s default


def draw_page(rng: np.random.Generator, side: int) -> Image.Image:
    """A gray line-art page of outlined shapes, drawn by our own code."""
    page = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(page)
    for _ in range(12):
        x, y = (int(v) for v in rng.integers(0, side * 3 // 4, 2))
        w, h = (int(v) for v in rng.integers(side // 16, side * 2 // 5, 2))
        draw.ellipse([x, y, x + w, y + h], outline=0, width=3)
    return page


@contextmanager
def fresh_cache() -> Iterator[None]:
    """The block runs with an empty ~/.cache/sketchcolor, as on a new machine: `auto` measures."""
    previous = os.environ.get("XDG_CACHE_HOME")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["XDG_CACHE_HOME"] = cache
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = previous


def pages_results(count: int, backends: tuple[str, ...], *, side: int = PAGE_SIDE) -> dict[str, Any]:
    """`colorize` end to end with the bundled model: a folder of `count` pages of side x side
    read, fitted, colorized, composed and written as `sketchcolor colorize` does, in pages/s per
    backend, and where each page's time goes, stage by stage (page_stage_ms).

    All in one empty cache, as on a new machine: `first_auto_s` is the first job's one-time
    cost (`auto` measuring, the ONNX export); then every backend runs as later jobs do."""
    from .colorize_files import colorize_paths
    from .inference import Colorizer

    rng = np.random.default_rng(0)
    result: dict[str, Any] = {"pages": count, "side": side, "batch": PAGE_BATCH, "backends": {}}
    with tempfile.TemporaryDirectory() as root, fresh_cache():
        paths = [Path(root) / f"page_{index:03d}.png" for index in range(count)]
        for path in paths:
            draw_page(rng, side).save(path)
        start = time.perf_counter()
        Colorizer.from_pretrained(None, backend="auto", batch_size=PAGE_BATCH, images=count)
        result["first_auto_s"] = time.perf_counter() - start
        for backend in backends:
            torch._dynamo.reset()
            start = time.perf_counter()
            colorizer = Colorizer.from_pretrained(None, backend=backend, batch_size=PAGE_BATCH, images=count)
            setup = time.perf_counter() - start
            colorize_paths(colorizer, paths[:PAGE_BATCH], Path(root) / "warm-up", progress=False)  # oneDNN, compile
            warm = time.perf_counter() - start - setup
            start = time.perf_counter()
            written, _ = colorize_paths(colorizer, paths, Path(root) / "out", progress=False)
            run = time.perf_counter() - start
            result["backends"][backend] = {"runs": f"{colorizer.backend}/{colorizer.precision}", "setup_s": setup,
                                           "warm_up_s": warm, "pages_per_s": written / run,
                                           "job_pages_per_s": written / (setup + warm + run)}
            log.info("benchmark: colorize %d pages of %d px, --backend %s (%s): %.2f pages/s, %.1f s to set up",
                     count, side, backend, result["backends"][backend]["runs"], written / run, setup + warm)
        result["stage_ms"] = page_stage_ms(Colorizer.from_pretrained(None, backend="torch", batch_size=PAGE_BATCH),
                                           paths[: 4 * PAGE_BATCH])
    return result


def page_stage_ms(colorizer, paths: list[Path]) -> dict[str, float]:
    """Milliseconds per page of each stage of `colorize`, one after another on one thread
    (the pipeline overlaps them): decode, fit, network (at the colorizer's batch), smoothing,
    compose (flat colors to full size, lines laid over), encode. Smoothing is composing with
    `smooth` rounds less composing with none."""
    from .imageio import png_bytes, read_image, to_gray
    from .page import PAGE_SCALE, compose_page, fit_region

    stages = dict.fromkeys(("decode", "fit", "network", "smooth", "compose", "encode"), 0.0)

    def clocked(stage: str, fn: Callable, *args, **kwargs):
        start = time.perf_counter()
        value = fn(*args, **kwargs)
        stages[stage] += time.perf_counter() - start
        return value

    size, smooth = colorizer.size, colorizer.options.smooth
    for first in range(0, len(paths), colorizer.batch_size):
        grays = [clocked("decode", lambda p: to_gray(read_image(p)), path)
                 for path in paths[first : first + colorizer.batch_size]]
        regions = [clocked("fit", fit_region, gray, size * PAGE_SCALE) for gray in grays]
        colors = clocked("network", colorizer.paint, torch.stack([r.sketch for r in regions]), size)
        for page_colors, region, gray in zip(colors, regions, grays):
            clocked("smooth", compose_page, page_colors, region, gray, lines="keep", smooth=smooth)
            page = clocked("compose", compose_page, page_colors, region, gray, lines="keep", smooth=0)
            clocked("encode", png_bytes, page.composite)
    stages["smooth"] -= stages["compose"]  # composing with smoothing, less composing without
    return {stage: 1e3 * seconds / len(paths) for stage, seconds in stages.items()}


def machine_info() -> dict[str, Any]:
    return {"cpu": cpu_model(), "cpu_flags": sorted(cpu_flags() & set(SPEED_FLAGS)), "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "python": platform.python_version(), "load_average_start": os.getloadavg()}


def run_benchmark(preset: str = "pix2pix", *, size: int = 256, repeats: int = 5, use_compile: bool = True,
                  probe_batches: bool = False, pages: int = 100) -> dict[str, Any]:
    """Benchmark `preset` (random weights) at `size`; returns a JSON-ready dict (see benchmarks/README.md).

    `use_compile=False` skips the torch.compile variants; `probe_batches` adds `train_max_batch`;
    `pages` > 0 adds `colorize` end to end on that many 1024 px pages with the bundled model.
    """
    config = load_config(preset, [f"data.size={size}", "train.device=cpu"])
    machine = machine_info()
    peaks = {"fp32": matmul_gflops(torch.float32, repeats=repeats)}
    skip_bf16 = bf16_skip_reason()
    if skip_bf16:
        log.info("benchmark: bf16 variants skipped: %s", skip_bf16)
    # Emulated bf16's peak is still measured, on a smaller matmul (a second, not minutes): the figure that shows why.
    peaks["bf16"] = (matmul_gflops(torch.bfloat16, repeats=1, n=EMULATED_MATMUL_N) if skip_bf16
                     else matmul_gflops(torch.bfloat16, repeats=repeats))
    result: dict[str, Any] = {"preset": preset, "size": size, "repeats": repeats,
                              "matmul_gflops_fp32": peaks["fp32"], "matmul_gflops_bf16": peaks["bf16"],
                              "skipped": {"bf16": skip_bf16} if skip_bf16 else {}}
    result.update(inference_results(config, size, repeats, peaks, use_compile=use_compile))
    result.update(train_results(config, size, repeats, probe=probe_batches, use_compile=use_compile))
    result.update(loader_results(config, size))
    if pages:
        result["colorize"] = pages_results(pages, ("auto", "torch", "onnx", *(("compile",) if use_compile else ())))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB
    machine["load_average_end"] = os.getloadavg()
    result["machine"] = machine
    return result


def write_json(result: dict[str, Any], path: str | Path | None) -> str:
    text = json.dumps(result, indent=2) + "\n"
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    return text
