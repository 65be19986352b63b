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

    `start_step` is the step the run starts from (0, or where a resume picks up): anything
    logged after it (by steps retrained after a kill, or by a run killed before its first
    checkpoint) is dropped, so the curves show each step once.
    """

    def __init__(self, run_dir: Path, start_step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter  # slow import: only when training

        self.writer = SummaryWriter(str(run_dir / "tb"), purge_step=start_step)
        for name in ("log.jsonl", "metrics.jsonl"):
            drop_after(run_dir / name, start_step)
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
    """Remove JSON lines whose "step" is past `step` (kept lines stay in order), and a torn line
    (a kill in the middle of writing it), which is never a whole record."""
    if not path.exists():
        return
    kept = [line for line in path.read_text(errors="replace").splitlines() if _step_of(line) <= step]
    atomic_write_text(path, "".join(f"{line}\n" for line in kept))


def _step_of(line: str) -> float:
    """The step a JSON line logs; infinity (never kept) for a line that is not a whole record."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return float("inf")
    step = record.get("step", 0) if isinstance(record, dict) else None
    return step if isinstance(step, (int, float)) else float("inf")
