"""Methods that are not trained generators but are scored the same way, as floors and
references. Like a Colorizer, each maps sketch pages to colored pages at their own size."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from ..imageio import to_gray


class SketchCopy:
    """The sketch itself, as a gray RGB page: the floor a colorizer has to beat."""

    def __call__(self, pages: list[Image.Image]) -> list[Image.Image]:
        return [to_gray(page).convert("RGB") for page in pages]


def style_transfer(*, data: str | Path, steps: int = 300, size: int = 256, vgg_weights: str | Path | None = None,
                   device: str = "auto", **_: Any) -> Any:
    """Neural Style Transfer with style images drawn from the train-split colors of `data`;
    one clear error when the VGG19 weights are missing."""
    from ..device import resolve_device
    from .style_transfer import StyleTransfer, StyleTransferConfig, load_vgg_features, style_pool_from_pairs

    features = load_vgg_features(vgg_weights, resolve_device(device))
    return StyleTransfer(features, StyleTransferConfig(steps=steps, size=size), style_pool_from_pairs(data), seed=0)


# Baselines by the name `evaluate --baseline` and `compare` take; each builder takes keyword options.
BASELINES: dict[str, Callable[..., Any]] = {"sketch": lambda **_: SketchCopy(), "nst": style_transfer}
