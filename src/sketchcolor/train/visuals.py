"""Sample grids (the paper's figs. 7-18: sketch | real | generated) and scalar logging."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..grids import comparison_grid
from ..imageio import to_pil


@torch.no_grad()
def sample_grid(generator: torch.nn.Module, sketches: torch.Tensor, colors: torch.Tensor) -> torch.Tensor:
    """One row per pair: sketch (as RGB) | real color | generated color; returns (3, H, W) in [-1, 1]."""
    was_training = generator.training
    generator.eval()
    generated = generator(sketches).float()
    generator.train(was_training)
    return comparison_grid([sketches, colors, generated])


def save_grid(grid: torch.Tensor, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    to_pil(grid).save(path)


class ScalarLog:
    """TensorBoard scalars plus a JSON-lines copy (easy to plot or diff without TensorBoard)."""

    def __init__(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter  # slow import: only when training

        self.writer = SummaryWriter(str(run_dir / "tb"))
        self.jsonl = (run_dir / "log.jsonl").open("a")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.writer.add_scalar(name, value, step)
        self.jsonl.write(json.dumps({"step": step, **values}) + "\n")
        self.jsonl.flush()

    def image(self, tag: str, grid: torch.Tensor, step: int) -> None:
        self.writer.add_image(tag, (grid + 1) / 2, step)

    def close(self) -> None:
        self.writer.close()
        self.jsonl.close()
