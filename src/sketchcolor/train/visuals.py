"""Saving sample grids (the paper's figs. 7-18, drawn by validation.sample_grid) and scalar logging."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..atomic import atomic_write_text
from ..imageio import to_pil


def save_grid(grid: torch.Tensor, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    to_pil(grid).save(path)


class ScalarLog:
    """TensorBoard scalars plus a JSON-lines copy (easy to plot or diff without TensorBoard).

    A resumed run passes `resume_step`: anything logged after it (by steps that were
    retrained after a kill) is dropped, so the curves show each step once.
    """

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter  # slow import: only when training

        self.writer = SummaryWriter(str(run_dir / "tb"), purge_step=resume_step)
        if resume_step is not None:
            for name in ("log.jsonl", "metrics.jsonl"):
                drop_after(run_dir / name, resume_step)
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


def drop_after(path: Path, step: int) -> None:
    """Remove JSON lines whose "step" is past `step` (kept lines stay in order)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines() if line and json.loads(line).get("step", 0) <= step]
    atomic_write_text(path, "".join(f"{line}\n" for line in kept))
