"""Device choice shared by training and inference."""

from __future__ import annotations

import torch

from .errors import SketchcolorError


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA when present, else the CPU; an unavailable CUDA request is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SketchcolorError(f"device {name} requested but CUDA is not available on this machine")
    return device
