"""Device choice shared by training and inference."""

from __future__ import annotations

import torch

from .errors import SketchcolorError


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA when present, else the CPU; an unavailable CUDA request is an error.

    On the CPU it also flushes denormal floats to zero: GAN activations and Adam moments
    drift into the denormal range, where x86 arithmetic runs tens of times slower (a
    tiny-preset step went from 30 ms to seconds), and values that small change nothing.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise SketchcolorError(f"device {name!r} is not one of auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SketchcolorError(f"device {name} requested but CUDA is not available on this machine")
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    return device
