"""`sketchcolor compare`: several methods scored on the same images, as the paper's Table 2,
and shown side by side (over epochs too), as its figs. 21-34.

A method is a run folder or model directory (any trained preset: paper, pix2pix, cyclegan,
ablations), or a named baseline: `sketch` (the sketch itself, the floor) or `nst` (Neural
Style Transfer, baselines/style_transfer.py). Every method goes through `evaluate`, so the numbers
are the ones `sketchcolor evaluate` prints for it. Scored on the same pairs, two methods are
also compared image by image (`paired_differences`), to tell a real gap from chance.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..baselines import BASELINES
from ..checkpoint import model_label, resolve_model_dir, run_folder
from ..data import PagePairs
from ..errors import SketchcolorError
from ..imageio import to_pil
from ..inference import Colorizer
from ..metrics import Estimate, mean_ci, pairs_to_resolve
from .evaluate import FIDSetup, HintPlan, evaluate, score_pages, takes_hints
from .grids import comparison_grid, label_columns

log = logging.getLogger("sketchcolor")
# Per-image scores compared pair by pair between methods: (name, label, higher is better).
PAIRED_METRICS = (("ssim", "SSIM", True), ("psnr", "PSNR", True), ("ciede2000", "CIEDE2000", False),
                  ("line_f1", "line F1", True))


@dataclass
class Method:
    """One row of the comparison: something that colorizes, or the reason it could not run."""

    label: str
    source: str
    colorizer: Any = None  # maps sketch pages to colored pages (evaluate.Method)
    snapshots: dict[int, Path] = field(default_factory=dict)  # epoch -> kept generator
    missing: str | None = None  # why this method did not run


def resolve_method(spec: str, *, device: str, lines: str, batch_size: int, **baseline_options: Any) -> Method:
    """A run folder / model directory, or a baseline name (baselines.BASELINES, built with
    `baseline_options`); a baseline that cannot be built (NST without its VGG19 weights)
    becomes a row marked not run, with the reason."""
    if spec in BASELINES:
        try:
            return Method(spec, f"baseline:{spec}", BASELINES[spec](device=device, **baseline_options))
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


def compare(methods: list[Method], pairs: PagePairs, *, size: int, fid: FIDSetup | None, limit: int | None,
            batch_size: int, epochs: list[int], grid_count: int, lines: str, device: str,
            hints: HintPlan = HintPlan()) -> tuple[list[dict], Image.Image | None]:
    """Score every method on the same pairs; returns the table rows and the labelled grid (None
    when `grid_count` is 0). With a hint plan, the methods that take hints get them (the same
    hints for each) and the others are scored without: how far hints take a model beyond one
    that cannot have them."""
    rows = []
    for method in methods:
        if method.missing:
            rows.append({"method": method.label, "source": method.source, "missing": method.missing})
            continue
        started = time.perf_counter()
        plan = hints if takes_hints(method.colorizer) else HintPlan()
        result = evaluate(method.colorizer, pairs, size=size, fid=fid, batch_size=batch_size, limit=limit,
                          hints=plan)
        seconds = (time.perf_counter() - started) / max(1, result.metrics["n"])
        rows.append({"method": method.label, "source": method.source, **result.metrics, "seconds_per_image": seconds,
                     "evaluation": result})
        log.info("%s: ssim %.4f, %.3f s/image", method.label, result.metrics["ssim_mean"], seconds)
    grid = comparison_figure(methods, pairs, size, epochs, grid_count, lines, device) if grid_count else None
    return rows, grid


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
    return differences_between({row["method"]: row["evaluation"].per_image for row in rows if "evaluation" in row},
                               candidate)


def differences_between(ran: dict[str, dict[str, list[float]]], candidate: str) -> list[PairedDifference]:
    """`paired_differences` on per-image scores (method -> metric -> scores, the same images
    in the same order for every method), e.g. several reports' per_image.csv pooled."""
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


def comparison_figure(methods: list[Method], pairs: PagePairs, size: int, epochs: list[int], count: int,
                      lines: str, device: str) -> Image.Image:
    """Rows: the first `count` readable pairs. Columns: sketch, real, then each method (at
    each kept epoch asked for, then its final generator), with a label above each column."""
    shown = pairs.first(count)
    first = score_pages(lambda pages: pages, shown, size)  # the sketch and truth, fitted as scored
    columns, labels = [first.sketch, first.real], ["sketch", "real"]
    for method in methods:
        if method.missing:
            continue
        for epoch in epochs:
            if epoch in method.snapshots:
                snapshot = Colorizer.from_pretrained(method.snapshots[epoch], device=device, lines=lines,
                                                     backend="torch", precision="fp32")
                columns.append(score_pages(snapshot, shown, size).generated)
                labels.append(f"{method.label} e{epoch}")
        columns.append(score_pages(method.colorizer, shown, size).generated)
        labels.append(method.label)
    return label_columns(to_pil(comparison_grid(columns)), labels, size)
