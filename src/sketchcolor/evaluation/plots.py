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


HINT_PANELS = (("CIEDE2000 (lower is better)", "ciede2000_mean"), ("PSNR (dB)", "psnr_mean"), ("SSIM", "ssim_mean"))


def plot_hint_counts(by_count: dict[int, dict], out: str | Path, title: str = "") -> Path:
    """Each metric against the number of hints per page (as ideepcolor plots PSNR against hints)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = sorted(by_count)
    figure, axes = plt.subplots(1, len(HINT_PANELS), figsize=(12, 3.6))
    for axis, (label, key) in zip(axes, HINT_PANELS):
        points = [(count, by_count[count][key]) for count in counts if by_count[count].get(key) is not None]
        axis.plot(*zip(*points), marker="o")
        axis.set_xscale("symlog", linthresh=1)  # 0, 1, 2, 4 ... 32 evenly spaced, 0 included
        axis.set_xticks(counts, [str(c) for c in counts])
        axis.set_xlabel("hints per page")
        axis.set_title(label)
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return Path(out)
