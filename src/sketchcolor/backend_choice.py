"""`--backend auto` on a CPU: the backend and precision that run this model fastest on this
machine, measured once and cached.

Which one wins depends on the CPU, not on a rule: on an AVX-512 machine with native bf16,
compiled bf16 was fastest; on an AMD EPYC with AVX2 only, ONNX Runtime in fp32 beat every
torch path and bf16 was 25x slower (emulated). So the first job for a model shape and batch
size times each candidate on a few random batches (seconds), keeps the winner, and records
the timings in ~/.cache/sketchcolor/backends.json under a key of the CPU's model and flags,
thread count, library versions, the generator's shape, working size and batch size. Later
jobs read the decision back without measuring. Delete the file to measure again; name a
backend (`--backend torch|compile|onnx`) to skip the choice altogether.

A job of N images picks the candidate with the least `setup_s + N * seconds_per_image`:
`compile` (tens of seconds to compile once) is measured, and chosen, only for jobs long enough
that it could pay back (`runtime.COMPILE_MIN_IMAGES`), such as folders and the web service.
bf16 is a candidate only where the CPU computes it natively.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from .atomic import atomic_write_text
from .config import Config
from .paths import default_cache_dir
from .runtime import COMPILE_MIN_IMAGES, compile_works, cpu_flags, cpu_model, native_bf16

if TYPE_CHECKING:
    from .inference import Colorizer

log = logging.getLogger("sketchcolor")
CACHE_FILE = "backends.json"
SERVER_IMAGES = 10_000  # the job a server plans for: its set-up is repaid over many requests
TIMED_CALLS = 3  # batches timed per candidate after one warm-up (which also compiles or exports)


@dataclass(frozen=True)
class Candidate:
    backend: str  # torch, compile or onnx
    precision: str  # fp32 or bf16

    @property
    def name(self) -> str:
        return f"{self.backend}/{self.precision}"


@dataclass(frozen=True)
class Timing:
    setup_s: float  # building it and its first call, beyond the call itself (compiling, exporting)
    seconds_per_image: float  # median over TIMED_CALLS batches

    def job_seconds(self, images: int) -> float:
        return self.setup_s + images * self.seconds_per_image


def candidates(precision: str, images: int, *, allow_compile: bool = True) -> list[Candidate]:
    """What `auto` may pick for a job of `images` images at `precision` (auto, fp32 or bf16)."""
    precisions = {"auto": ["fp32", "bf16"] if native_bf16(torch.device("cpu")) else ["fp32"]}.get(precision, [precision])
    backends = ["torch", "onnx"]
    if allow_compile and images >= COMPILE_MIN_IMAGES and compile_works():
        backends.append("compile")
    # ONNX Runtime runs fp32 only; torch paths take either precision.
    return [Candidate(backend, p) for backend in backends for p in precisions if backend != "onnx" or p == "fp32"]


def cache_key(config: Config, size: int, batch: int) -> str:
    """What a measurement holds for: this CPU, thread count and libraries, this network shape,
    working size and batch. Not the weights: speed does not depend on their values."""
    parts = {"cpu": cpu_model(), "flags": sorted(cpu_flags()), "threads": torch.get_num_threads(),
             "torch": torch.__version__, "onnxruntime": importlib.metadata.version("onnxruntime"),
             "generator": asdict(config.generator), "size": size, "batch": batch}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def choose(build: Callable[[Candidate], Colorizer], config: Config, *, size: int, batch: int, images: int | None,
           precision: str = "auto", cache_dir: Path | None = None, allow_compile: bool = True,
           prepare: Callable[[Candidate], object] | None = None) -> Colorizer:
    """The colorizer of the fastest candidate for a job of `images` images (None: unknown, one
    batch). `build` makes a colorizer for a candidate; one built to measure it is kept if it wins.
    `prepare` does, untimed, what a candidate needs once and later jobs find on disk (the ONNX
    export): it is not a set-up those jobs pay."""
    images = images or batch
    path = (cache_dir or default_cache_dir()) / CACHE_FILE
    key = cache_key(config, size, batch)
    cache = _read_cache(path)
    known = _timings(cache.get(key))
    built: dict[str, Colorizer] = {}
    allowed = candidates(precision, images, allow_compile=allow_compile)
    missing = [c for c in allowed if c.name not in known]
    for candidate in missing:
        timing, colorizer = _measure(build, candidate, size, batch, prepare)
        if timing is not None:
            known[candidate.name], built[candidate.name] = timing, colorizer
    usable = {c.name: c for c in allowed if c.name in known}
    if not usable:  # nothing measured ran: let eager torch report its own error
        return build(Candidate("torch", "fp32"))
    best = min(usable, key=lambda name: known[name].job_seconds(images))
    if missing:
        cache[key] = {"cpu": cpu_model(), "size": size, "batch": batch,
                      "timings": {name: asdict(timing) for name, timing in known.items()}}
        _write_cache(path, cache)
        log.info("backend auto: %s for %d images at batch %d, %d px (%s); cached in %s", best, images, batch, size,
                 ", ".join(f"{name} {1e3 * t.seconds_per_image:.1f} ms/image" for name, t in known.items()), path)
    return built.get(best) or build(usable[best])


def _measure(build: Callable[[Candidate], Colorizer], candidate: Candidate, size: int, batch: int,
             prepare: Callable[[Candidate], object] | None) -> tuple[Timing | None, Colorizer | None]:
    """Time one candidate on random sketches; (None, None) if it fails to build or run here."""
    sketches = torch.rand(batch, 1, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    try:
        if prepare is not None:
            prepare(candidate)
        start = time.perf_counter()
        colorizer = build(candidate)
        colorizer.paint(sketches, size)  # the warm-up: compiles, or lets oneDNN pick its kernels
        first = time.perf_counter() - start
        times = []
        for _ in range(TIMED_CALLS):
            start = time.perf_counter()
            colorizer.paint(sketches, size)
            times.append(time.perf_counter() - start)
    except Exception as err:  # noqa: BLE001 - a candidate that cannot run here is not a candidate
        log.info("backend auto: %s cannot run here (%s: %s)", candidate.name, type(err).__name__, err)
        return None, None
    per_batch = statistics.median(times)
    return Timing(setup_s=max(0.0, first - per_batch), seconds_per_image=per_batch / batch), colorizer


def _timings(entry: object) -> dict[str, Timing]:
    """An entry's timings; none if it was edited into another shape (then it is measured again)."""
    try:
        return {name: Timing(**timing) for name, timing in entry["timings"].items()}
    except (KeyError, TypeError, AttributeError):
        return {}


def _read_cache(path: Path) -> dict:
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):  # none yet, or torn by hand: measure again
        return {}
    return cache if isinstance(cache, dict) else {}


def _write_cache(path: Path, cache: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(cache, indent=1) + "\n")
    except OSError as err:  # a read-only home: the choice stands, it is just not remembered
        log.warning("backend auto: could not cache the measurement in %s (%s)", path, err.strerror or err)
