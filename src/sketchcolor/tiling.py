"""`--detail tiles`: a page at PAGE_SCALE working sizes (page.tile_region) colorized in
overlapping working-size tiles, blended with a tent window so no seams show: more detail
per object on large pages. Only working-size tensors go through the network, so memory
stays bounded whatever the page's resolution.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def colorize_tiled(colorize: Callable[[torch.Tensor], torch.Tensor], sketch: torch.Tensor, size: int,
                   batch_size: int) -> torch.Tensor:
    """Colorize a (C, H, W) sketch (H, W >= size; any channels beside it, such as hints, are
    tiled with it) in overlapping size x size tiles -> (3, H, W).

    Tiles overlap by half; each is weighted by a tent that is highest at its centre, and the
    weighted sum is normalised, so every pixel blends the tiles that see it best.
    """
    height, width = sketch.shape[-2:]
    corners = [(top, left) for top in _starts(height, size) for left in _starts(width, size)]
    ramp = 1 - torch.linspace(-1, 1, size).abs() + 1e-3
    window = ramp[:, None] * ramp[None, :]
    total = torch.zeros(3, height, width)
    weight = torch.zeros(1, height, width)
    for start in range(0, len(corners), batch_size):
        chunk = corners[start : start + batch_size]
        tiles = torch.stack([sketch[:, t : t + size, l : l + size] for t, l in chunk])
        for (top, left), colors in zip(chunk, colorize(tiles).cpu()):
            total[:, top : top + size, left : left + size] += colors * window
            weight[:, top : top + size, left : left + size] += window
    return total / weight


def _starts(length: int, size: int) -> list[int]:
    """Tile offsets along one side: stride size/2, the last tile flush with the end."""
    if length <= size:
        return [0]
    stride = max(1, size // 2)
    starts = list(range(0, length - size, stride))
    return starts + [length - size]
