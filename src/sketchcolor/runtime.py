"""How a generator runs at inference: which backend, which precision, chosen once per process.

- `torch`: eager PyTorch.
- `compile`: `torch.compile` (inductor) with *freezing*: weights become constants, so
  convolutions are pre-packed for oneDNN once instead of per call. Measured here it is the
  fastest CPU path by far (benchmarks/results/), but its first call compiles for tens of
  seconds, so it pays off only for long jobs: a folder of hundreds of pages, a server.
- `onnx`: ONNX Runtime on an exported graph (export.py), fp32.
`auto` on a CPU is measured, once per machine and model shape (backend_choice.py); on a GPU,
or for a Colorizer built directly, it is eager torch. Precision `auto` is bf16 where the
hardware computes it natively (outputs stay within 1e-2 of fp32; measured in the benchmark),
else fp32: bf16 is never chosen where it is emulated.
"""

from __future__ import annotations

import logging
import platform
from contextlib import contextmanager, nullcontext
from functools import cache
from pathlib import Path
from typing import Iterator

import torch

log = logging.getLogger("sketchcolor")
BACKENDS = ("auto", "torch", "compile", "onnx")
PRECISIONS = ("auto", "fp32", "bf16")
# `auto` measures (and may pick) compile only for jobs this long: the compile (~25 s on
# 2 cores) must be repaid by ~0.1 s saved per image at 256 px (benchmarks/results/).
COMPILE_MIN_IMAGES = 256


def pick_backend(requested: str) -> str:
    """Without a measurement: `auto` -> eager `torch`; other names pass through."""
    return "torch" if requested == "auto" else requested


def pick_precision(requested: str, device: torch.device, backend: str) -> str:
    """What will actually run: `auto` -> bf16 on native-bf16 hardware; bf16 where it cannot
    run falls back to fp32 with one note."""
    if requested == "fp32":
        return "fp32"
    reason = _bf16_unavailable(device, backend)
    if requested == "auto":
        return "bf16" if reason is None and native_bf16(device) else "fp32"
    if reason:
        log.warning("precision bf16: %s; using fp32", reason)
        return "fp32"
    return "bf16"


def autocast(device: torch.device, precision: str):
    return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


class FrozenCompiled:
    """A generator compiled by inductor with freezing, for inference only.

    Compiled graphs are specialised to their input shape, so every call is padded to the
    same batch size: one compile per process, whatever the last batch holds. They are also
    specialised to torch's thread count: changing it recompiled (~10 s) into a graph half as
    fast, so callers that change threads (`pipelined_threads`) leave a compiled one alone.
    """

    keeps_threads = True  # see above: run it with the thread count it was compiled with

    def __init__(self, generator: torch.nn.Module, batch_size: int) -> None:
        self.batch_size = batch_size
        self.compiled = torch.compile(generator.eval(), dynamic=False)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        count = x.shape[0]
        if count < self.batch_size:
            x = torch.cat([x, x[:1].expand(self.batch_size - count, *x.shape[1:])])
        import torch._inductor.config as inductor_config  # only where compile is used

        with inductor_config.patch(freezing=True):
            return self.compiled(x)[:count]


@contextmanager
def pipelined_threads(enabled: bool = True) -> Iterator[None]:
    """Torch ops single-threaded for the block when `enabled`: in a pipeline (colorizing a folder)
    the stages already keep the cores busy, and each op splitting itself over them as well only
    contends (measured: 6.0-6.9 pages/s with one thread per op, 5.3-5.9 with two, 2 cores)."""
    previous = torch.get_num_threads()
    if enabled:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 is computed natively (fast), not emulated: AVX512-BF16 or AMX on x86,
    or a CUDA GPU with bf16 support."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    flags = cpu_flags()
    return "avx512_bf16" in flags or "amx_bf16" in flags


@cache
def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (/proc/cpuinfo); empty off Linux."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no cheap way to tell, assume emulated
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def _bf16_unavailable(device: torch.device, backend: str) -> str | None:
    if backend == "onnx":
        return "the ONNX backend runs fp32 only"
    if device.type == "cuda":
        return None if torch.cuda.is_bf16_supported() else f"{torch.cuda.get_device_name(device)} has no bf16"
    return None if cpu_autocast_bf16() else "this torch has no bf16 autocast on the CPU"


@cache
def cpu_autocast_bf16() -> bool:
    # A real convolution, not a version check: what matters is that the kernels exist.
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3)).dtype == torch.bfloat16
    except RuntimeError:
        return False


@cache
def compile_works() -> bool:
    """Whether inductor can build here (it needs a C++ compiler); checked once on a toy."""
    try:
        FrozenCompiled(torch.nn.Conv2d(1, 1, 1), 1)(torch.ones(1, 1, 2, 2))
        return True
    except Exception as err:  # noqa: BLE001 - any failure means: do not pick compile automatically
        log.info("torch.compile unavailable here (%s); using eager torch", type(err).__name__)
        return False
