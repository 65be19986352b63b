"""Image grids: rows of pairs side by side (sketch | real | generated ...), as the paper's
figures show them. Used by training samples and evaluation reports."""

from __future__ import annotations

import torch
from torchvision.utils import make_grid


def comparison_grid(columns: list[torch.Tensor], padding: int = 2) -> torch.Tensor:
    """Columns of equal-size batches in [-1, 1] (1 or 3 channels) -> one (3, H, W) grid, a row per item."""
    rgb = [column.float().cpu().expand(-1, 3, -1, -1) for column in columns]
    rows = torch.stack(rgb, dim=1).flatten(0, 1)
    return make_grid(rows, nrow=len(columns), padding=padding, pad_value=1.0)
