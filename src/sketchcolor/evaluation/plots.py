"""Training curves of a run folder: validation FID and SSIM over epochs (the paper's
figs. 19-20) and the loss terms over steps."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import SketchcolorError

PANELS = (  # (title, source file, x key, series)
    ("FID (validation)", "metrics.jsonl", "epoch", ("fid",)),
    ("SSIM (validation)", "metrics.jsonl", "epoch", ("ssim_mean", "ssim_luma_mean")),
    ("generator loss terms", "log.jsonl", "step", ("g/gan", "g/l1", "g/tv")),
    ("discriminator loss terms", "log.jsonl", "step", ("d/real", "d/fake", "d/gp")),
)


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw the run's curves into one PNG (default RUN/curves.png) and return its path."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    if not (run_dir / "log.jsonl").exists():
        raise SketchcolorError(f"{run_dir} is not a run folder (no log.jsonl)")
    figure, axes = plt.subplots(2, 2, figsize=(11, 7))
    for axis, (title, source, x_key, series) in zip(axes.flat, PANELS):
        records = read_jsonl(run_dir / source)
        for name in series:
            points = [(r[x_key], r[name]) for r in records if r.get(name) is not None]
            if points:
                axis.plot(*zip(*points), label=name, marker="o" if x_key == "epoch" else None, markersize=3)
        axis.set_title(title)
        axis.set_xlabel(x_key)
        if axis.lines:
            axis.legend()
        else:
            axis.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=axis.transAxes)
    figure.tight_layout()
    out = Path(out) if out else run_dir / "curves.png"
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out
