"""Image grids: rows of pairs side by side (sketch | real | generated ...), as the paper's
figures show them. Used by training samples and evaluation reports."""

from __future__ import annotations

import torch
from PIL import Image, ImageDraw, ImageFont
from torchvision.utils import make_grid


def comparison_grid(columns: list[torch.Tensor], padding: int = 2) -> torch.Tensor:
    """Columns of equal-size batches in [-1, 1] (1 or 3 channels) -> one (3, H, W) grid, a row per item."""
    rgb = [column.float().cpu().expand(-1, 3, -1, -1) for column in columns]
    rows = torch.stack(rgb, dim=1).flatten(0, 1)
    return make_grid(rows, nrow=len(columns), padding=padding, pad_value=1.0)


def label_columns(grid: Image.Image, labels: list[str], cell: int, padding: int = 2) -> Image.Image:
    """The grid with a white band on top naming each column."""
    font = ImageFont.load_default(size=max(9, min(14, cell // 8)))
    band = font.size * 2 + 4
    out = Image.new("RGB", (grid.width, grid.height + band), "white")
    out.paste(grid, (0, band))
    draw = ImageDraw.Draw(out)
    for index, label in enumerate(labels):
        left = padding + index * (cell + padding)
        text = label if draw.textlength(label, font=font) <= cell else _wrap(label, draw, font, cell)
        draw.multiline_text((left + 2, 2), text, fill="black", font=font, spacing=1)
    return out


def _wrap(label: str, draw: ImageDraw.ImageDraw, font, width: int) -> str:
    """Two lines at most, cut where the first no longer fits."""
    for cut in range(len(label), 0, -1):
        if draw.textlength(label[:cut], font=font) <= width:
            return label[:cut] + "\n" + label[cut:]
    return label
