"""`sketchcolor compare`: several methods scored on the same images, as the paper's Table 2,
and shown side by side (over epochs too), as its figs. 21-34.

A method is a run folder or model directory (any trained preset: paper, pix2pix, cyclegan,
ablations), or a named baseline: `sketch` (the sketch itself, the floor) or `nst` (Neural
Style Transfer, stylize.py). Every method goes through `evaluate.evaluate`, so the numbers
are the ones `sketchcolor evaluate` prints for it. Scored on the same pairs, two methods are
also compared image by image (`paired_differences`), to tell a real gap from chance.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .atomic import atomic_write_text
from .baselines import SketchCopy
from .checkpoint import model_label, resolve_model_dir, run_folder
from .data import PairDataset
from .errors import SketchcolorError
from .evaluate import FIDSetup, colorize_as_user, evaluate
from .grids import comparison_grid
from .imageio import to_pil
from .inference import Colorizer
from .metrics import Estimate, mean_ci, missing_weights_message, pairs_to_resolve

log = logging.getLogger("sketchcolor")
# Table columns: (header, metric key, decimals).
COLUMNS = (
    ("FID", "fid", 1),
    ("SSIM mean", "ssim_mean", 3),
    ("SSIM std", "ssim_std", 3),
    ("PSNR", "psnr_mean", 2),
    ("CIEDE2000", "ciede2000_mean", 2),
    ("colorfulness", "colorfulness_generated_mean", 1),
    ("line F1", "line_f1_mean", 3),
    ("images", "n", 0),
    ("s/image", "seconds_per_image", 3),
)
# Per-image scores compared pair by pair between methods: (name, label, higher is better).
PAIRED_METRICS = (("ssim", "SSIM", True), ("psnr", "PSNR", True), ("ciede2000", "CIEDE2000", False),
                  ("line_f1", "line F1", True))


@dataclass
class Method:
    """One row of the comparison: something that colorizes, or the reason it could not run."""

    label: str
    source: str
    colorizer: Any = None  # has colorize_tensors() and lines
    snapshots: dict[int, Path] = field(default_factory=dict)  # epoch -> kept generator
    missing: str | None = None  # why this method did not run


def resolve_method(spec: str, *, device: str, lines: str, batch_size: int,
                   baselines: dict[str, Callable[[], Any]]) -> Method:
    """A run folder / model directory, or a baseline name; a baseline that cannot be built
    (NST without its VGG19 weights) becomes a row marked not run, with the reason."""
    if spec in baselines:
        try:
            return Method(spec, f"baseline:{spec}", baselines[spec]())
        except SketchcolorError as err:
            log.warning("%s: not run: %s", spec, err)
            return Method(spec, f"baseline:{spec}", missing=str(err))
    model_dir = resolve_model_dir(spec)
    colorizer = Colorizer.from_pretrained(model_dir, device=device, batch_size=batch_size, lines=lines,
                                          backend="torch", precision="fp32")  # as `evaluate` scores
    run = run_folder(model_dir)
    snapshots = {int(p.name.split("_")[1]): p for p in sorted((run / "epochs").glob("epoch_*"))}
    return Method(model_label(model_dir), str(model_dir), colorizer, snapshots)


def distinct_labels(methods: list[Method]) -> None:
    """Methods that share a name (a run's best/ and latest/, or two runs named alike) are
    labelled by their source instead, so every row of the tables says which one it is."""
    counts = Counter(method.label for method in methods)
    for method in methods:
        if counts[method.label] > 1:
            method.label = method.source


def sketch_baseline() -> SketchCopy:
    return SketchCopy()


def compare(methods: list[Method], dataset: PairDataset, *, fid: FIDSetup | None, limit: int | None,
            batch_size: int, epochs: list[int], grid_count: int, lines: str, device: str) -> tuple[list[dict], Image.Image]:
    """Score every method on the same pairs; returns the table rows and the labelled grid."""
    rows = []
    for method in methods:
        if method.missing:
            rows.append({"method": method.label, "source": method.source, "missing": method.missing})
            continue
        started = time.perf_counter()
        result = evaluate(method.colorizer, dataset, fid=fid, batch_size=batch_size, limit=limit, progress=True)
        seconds = (time.perf_counter() - started) / max(1, result.metrics["n"])
        rows.append({"method": method.label, "source": method.source, **result.metrics, "seconds_per_image": seconds,
                     "evaluation": result})
        log.info("%s: ssim %.4f, %.3f s/image", method.label, result.metrics["ssim_mean"], seconds)
    return rows, comparison_figure(methods, dataset, epochs, grid_count, lines, device)


@dataclass(frozen=True)
class PairedDifference:
    """One method's score minus another's, image by image on the same pairs."""

    metric: str
    other: str
    difference: Estimate  # mean of the per-image differences, with its 95% t interval
    better_on: int  # images on which the first method scores better
    higher_is_better: bool

    @property
    def verdict(self) -> str:
        """"ahead" or "behind" when the interval excludes 0, else "not resolved"."""
        low, high = self.difference.low, self.difference.high
        if not self.higher_is_better:
            low, high = -high, -low
        return "ahead" if low > 0 else "behind" if high < 0 else "not resolved"

    @property
    def pairs_to_resolve(self) -> int | None:
        """Pairs a test set needs for a gap of this size and spread to be resolved 4 times in 5."""
        return pairs_to_resolve(self.difference)


def paired_differences(rows: list[dict], candidate: str) -> list[PairedDifference]:
    """The method labelled `candidate` against every other method that ran, per image: a gap
    between two means over a few dozen pages can be noise, and pairing removes the part of
    the spread that comes from some pages being harder than others for every method."""
    ran = {row["method"]: row["evaluation"].per_image for row in rows if "evaluation" in row}
    ours = ran[candidate]
    differences = []
    for other, theirs in ran.items():
        if other == candidate:
            continue
        for name, _, higher_is_better in PAIRED_METRICS:
            delta = np.asarray(ours[name]) - np.asarray(theirs[name])
            better = delta > 0 if higher_is_better else delta < 0
            differences.append(PairedDifference(name, other, mean_ci(delta.tolist()), int(better.sum()),
                                                higher_is_better))
    return differences


def comparison_figure(methods: list[Method], dataset: PairDataset, epochs: list[int], count: int,
                      lines: str, device: str) -> Image.Image:
    """Rows: the first `count` pairs. Columns: sketch, real, then each method (at each kept
    epoch asked for, then its final generator), with a label above each column."""
    count = min(count, len(dataset))
    pairs = [dataset[i] for i in range(count)]
    sketches = torch.stack([p["sketch"] for p in pairs])
    columns, labels = [sketches, torch.stack([p["color"] for p in pairs])], ["sketch", "real"]
    for method in methods:
        if method.missing:
            continue
        for epoch in epochs:
            if epoch in method.snapshots:
                snapshot = Colorizer.from_pretrained(method.snapshots[epoch], device=device, lines=lines,
                                                     backend="torch", precision="fp32")
                columns.append(colorize_as_user(snapshot, sketches).cpu())
                labels.append(f"{method.label} e{epoch}")
        columns.append(colorize_as_user(method.colorizer, sketches).cpu())
        labels.append(method.label)
    return label_columns(to_pil(comparison_grid(columns)), labels, sketches.shape[-1])


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


def write_tables(rows: list[dict], out_dir: Path, notes: list[str]) -> tuple[Path, Path]:
    """table.csv (every number, empty where missing) and table.md (rounded, n/a with footnotes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["method", *(key for _, key, _ in COLUMNS), "source", "missing"])
    for row in rows:
        writer.writerow([row["method"], *(_csv_value(row.get(key)) for _, key, _ in COLUMNS),
                         row["source"], row.get("missing") or ""])
    atomic_write_text(out_dir / "table.csv", buffer.getvalue())
    footnotes: list[str] = []
    lines = ["| method | " + " | ".join(header for header, _, _ in COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    for row in rows:
        cells = [_md_value(row, key, decimals, footnotes) for _, key, decimals in COLUMNS]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    if footnotes or notes:
        text += "\n" + "\n".join([*(f"[{i + 1}] {note}" for i, note in enumerate(footnotes)), *notes]) + "\n"
    atomic_write_text(out_dir / "table.md", text)
    return out_dir / "table.md", out_dir / "table.csv"


def write_paired(differences: list[PairedDifference], candidate: str, out_dir: Path) -> tuple[Path, Path]:
    """paired.csv (every number) and paired.md: `candidate` minus each other method."""
    labels = {name: label for name, label, _ in PAIRED_METRICS}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["method", "against", "metric", "mean_difference", "ci95_low", "ci95_high", "better_on", "n",
                     "verdict", "pairs_to_resolve"])
    lines = [f"| {candidate} against | metric | mean difference | 95% interval | better on | verdict "
             "| pairs to resolve |", "|---|---|---:|---:|---:|---|---:|"]
    for d in differences:
        e, needed = d.difference, d.pairs_to_resolve
        writer.writerow([candidate, d.other, d.metric, *(_csv_value(x) for x in (e.mean, e.low, e.high)),
                         d.better_on, e.n, d.verdict, _csv_value(needed)])
        interval = "–" if math.isnan(e.low) else f"[{e.low:+.4f}, {e.high:+.4f}]"
        lines.append(f"| {d.other} | {labels[d.metric]} | {e.mean:+.4f} | {interval} | {d.better_on} / {e.n} "
                     f"| {d.verdict} | {'–' if needed is None else needed} |")
    lines += ["", f"Per image, {candidate}'s score minus the other method's, on the same pairs: the mean with its "
              "95% Student's t interval. ahead / behind: the interval excludes 0 (for CIEDE2000, lower is "
              "better); not resolved: these pairs cannot tell the two apart. Pairs to resolve: how many pairs "
              "a test set needs for a gap of this mean and spread to come out ahead or behind 4 times in 5 "
              "(the t test's power at 95%)."]
    atomic_write_text(out_dir / "paired.csv", buffer.getvalue())
    atomic_write_text(out_dir / "paired.md", "\n".join(lines) + "\n")
    return out_dir / "paired.md", out_dir / "paired.csv"


def _csv_value(value: Any) -> str:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "" if missing else (f"{value:.6g}" if isinstance(value, float) else str(value))


def _md_value(row: dict, key: str, decimals: int, footnotes: list[str]) -> str:
    value = row.get(key)
    if value is not None:
        return f"{value:.{decimals}f}" if decimals else str(int(value))
    reason = row.get("missing") or (missing_weights_message() if key == "fid" else "not measured")
    if reason not in footnotes:
        footnotes.append(reason)
    return f"n/a [{footnotes.index(reason) + 1}]"
