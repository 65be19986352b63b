"""Report files of an evaluation or a comparison: metrics.json, per_image.csv, grid.png,
table.md/csv (the paper's Table 2) and paired.md/csv (method against method, page by page)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from .. import __version__
from ..atomic import atomic_write_text
from ..errors import SketchcolorError
from ..imageio import to_pil
from ..metrics import missing_weights_message
from .compare import PAIRED_METRICS, PairedDifference
from .evaluate import LINE_METRICS, PER_IMAGE, Evaluation

# Table columns: (header, metric key, decimals).
COLUMNS = (
    ("FID", "fid", 1),
    ("KID", "kid", 4),
    ("SSIM mean", "ssim_mean", 3),
    ("SSIM std", "ssim_std", 3),
    ("PSNR", "psnr_mean", 2),
    ("CIEDE2000", "ciede2000_mean", 2),
    ("colorfulness", "colorfulness_generated_mean", 1),
    ("line F1", "line_f1_mean", 3),
    ("images", "n", 0),
    ("s/image", "seconds_per_image", 3),
)


def write_report(evaluation: Evaluation, out_dir: Path, info: dict[str, Any], label: str) -> Path:
    """Write metrics.json (one flat object), per_image.csv and grid.png (sketch | real | generated)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    flat = {**info, "version": __version__, **evaluation.metrics}
    atomic_write_text(out_dir / "metrics.json", json.dumps(flat, indent=2))
    write_per_image({label: evaluation}, out_dir)
    to_pil(evaluation.grid).save(out_dir / "grid.png")
    return out_dir / "metrics.json"


def write_per_image(evaluations: dict[str, Evaluation], out_dir: Path) -> Path:
    """per_image.csv: one row per method and image, with every per-image score, so the pages
    a method fails on can be found, and methods compared on them with any tool."""
    metrics = [*PER_IMAGE, *LINE_METRICS]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["method", "image", *metrics])
    for method, evaluation in evaluations.items():
        for i, name in enumerate(evaluation.names):
            writer.writerow([method, name, *(f"{evaluation.per_image[m][i]:.6g}" for m in metrics)])
    atomic_write_text(out_dir / "per_image.csv", buffer.getvalue())
    return out_dir / "per_image.csv"


def read_per_image(paths: list[Path]) -> dict[str, dict[str, list[float]]]:
    """Several per_image.csv files pooled: method -> metric -> scores, file after file. Every
    method must have scored the same images as the others in each file, so that the pooled
    scores still pair up image by image."""
    pooled: dict[str, dict[str, list[float]]] = {}
    for path in paths:
        try:
            with open(path, newline="") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as err:
            raise SketchcolorError(f"cannot read {path}: {err.strerror}") from None
        images: dict[str, list[str]] = {}
        for row in rows:
            images.setdefault(row["method"], []).append(row["image"])
        if not images or len({tuple(names) for names in images.values()}) != 1:
            raise SketchcolorError(f"{path}: the methods did not score the same images")
        if pooled and set(images) != set(pooled):
            raise SketchcolorError(f"{path}: methods {sorted(images)}, not the {sorted(pooled)} of the files before")
        for row in rows:
            scores = pooled.setdefault(row["method"], {})
            for metric in (*PER_IMAGE, *LINE_METRICS):
                scores.setdefault(metric, []).append(float(row[metric]))
    return pooled


def format_table(metrics: dict[str, Any]) -> str:
    """The numeric metrics as an aligned two-column table."""
    rows = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float)) or v is None]
    width = max(len(k) for k, _ in rows)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 10}"]
    for key, value in rows:
        shown = "null" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
        lines.append(f"{key:<{width}}  {shown}")
    return "\n".join(lines)


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


HINT_COLUMNS = (("SSIM", "ssim_mean", 4), ("PSNR", "psnr_mean", 2), ("L1", "l1_mean", 4),
                ("CIEDE2000", "ciede2000_mean", 2), ("colorfulness", "colorfulness_generated_mean", 1),
                ("line F1", "line_f1_mean", 3), ("FID", "fid", 1), ("KID", "kid", 4),
                ("adherence (median)", "hint_adherence_median", 2), ("leakage", "hint_leakage_mean", 4))


def write_hint_table(by_count: dict[int, dict[str, Any]], out_dir: Path, notes: list[str]) -> tuple[Path, Path]:
    """hints.csv and hints.md: every metric (rows) against the number of hints per page."""
    counts = sorted(by_count)
    columns = [c for c in HINT_COLUMNS if any(by_count[n].get(c[1]) is not None for n in counts)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["hints", *(key for _, key, _ in columns), "n"])
    for count in counts:
        writer.writerow([count, *(_csv_value(by_count[count].get(key)) for _, key, _ in columns), by_count[count]["n"]])
    atomic_write_text(out_dir / "hints.csv", buffer.getvalue())
    lines = ["| hints per page | " + " | ".join(header for header, _, _ in columns) + " |",
             "|---:|" + "---:|" * len(columns)]
    for count in counts:
        cells = ["–" if by_count[count].get(key) is None else f"{by_count[count][key]:.{decimals}f}"
                 for _, key, decimals in columns]
        lines.append(f"| {count} | " + " | ".join(cells) + " |")
    atomic_write_text(out_dir / "hints.md", "\n".join(lines + ["", *notes]) + "\n")
    return out_dir / "hints.md", out_dir / "hints.csv"


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
    reason = row.get("missing") or (missing_weights_message() if key in ("fid", "kid") else "not measured")
    if reason not in footnotes:
        footnotes.append(reason)
    return f"n/a [{footnotes.index(reason) + 1}]"
