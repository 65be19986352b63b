"""Evaluation: colorize every pair of a split and score the result against the real colors.

The same function serves `sketchcolor evaluate`, the trainer's per-epoch validation and
`compare`: a model is judged the same way wherever it is judged.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from . import __version__
from .atomic import atomic_write_text
from .data import PairDataset
from .grids import comparison_grid
from .imageio import to_pil
from .inference import Colorizer
from .compose import SMOOTH_STEPS, keep_lines
from .metrics import ciede2000, colorfulness, mean_abs_error, psnr, ssim
from .metrics import fid as fid_lib
from .metrics.lines import line_scores

log = logging.getLogger("sketchcolor")
LOWER_IS_BETTER = {"fid", "l1_mean", "ciede2000_mean"}
# Per-image metrics: name -> function of (generated, real) in [0, 1].
PER_IMAGE = {
    "ssim": lambda gen, real: ssim(gen, real, channels="rgb"),
    "ssim_luma": lambda gen, real: ssim(gen, real, channels="luma"),
    "psnr": psnr,
    "l1": mean_abs_error,
    "ciede2000": ciede2000,
    "colorfulness_generated": lambda gen, real: colorfulness(gen),
    "colorfulness_real": lambda gen, real: colorfulness(real),
}
LINE_METRICS = ("line_precision", "line_recall", "line_f1")  # against the sketch: metrics/lines.py


@dataclass
class FIDSetup:
    """What FID needs: the feature extractor and where reference statistics are cached."""

    extractor: torch.nn.Module
    weights_name: str
    cache_dir: Path


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    grid: torch.Tensor
    per_image: dict[str, list[float]] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # the file of each per-image score, in order


def is_better(metric: str, value: float | None, best: float | None) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if best is None:
        return True
    return value < best if metric in LOWER_IS_BETTER else value > best


def load_fid(weights: str | Path | None, device: torch.device, cache_dir: Path) -> FIDSetup | None:
    """The FID extractor if its weights can be found, else None after one line saying where to put them."""
    path = fid_lib.find_fid_weights(weights)
    if path is None:
        log.warning("%s", fid_lib.missing_weights_message())
        return None
    extractor = fid_lib.InceptionFeatures(path).to(device).eval()
    stat = path.stat()  # identifies the weights in the statistics cache key without hashing 100 MB
    return FIDSetup(extractor, f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}", cache_dir)


@torch.no_grad()
def evaluate(
    colorizer: Colorizer,
    dataset: PairDataset,
    *,
    fid: FIDSetup | None = None,
    batch_size: int = 8,
    limit: int | None = None,
    grid_count: int = 8,
    progress: bool = True,
) -> Evaluation:
    """Colorize `dataset`'s sketches and score them; metrics are means over images (and stds for SSIM).

    The output scored is what the colorizer's `lines` mode gives a user: with "keep", the
    sketch's lines over the flattened colors; with "model", the network's own image.
    """
    count = len(dataset) if limit is None else min(limit, len(dataset))
    subset = torch.utils.data.Subset(dataset, range(count))
    loader = DataLoader(subset, batch_size=batch_size, shuffle=False)
    scores: dict[str, list[float]] = {name: [] for name in [*PER_IMAGE, *LINE_METRICS]}
    generated_features, real_features, grid_parts = [], [], []
    real_stats_key = fid and fid_lib.statistics_key(dataset.fingerprint(), str(count), fid.weights_name)
    need_real = fid is not None and not (fid.cache_dir / f"{real_stats_key}.npz").exists()
    for batch in tqdm(loader, desc="evaluating", leave=False, disable=not progress):
        colors = colorize_as_user(colorizer, batch["sketch"])
        generated = _quantize((colors + 1) / 2)  # what a saved PNG holds
        real = ((batch["color"] + 1) / 2).to(generated.device)
        for name, function in PER_IMAGE.items():
            scores[name] += function(generated, real).cpu().tolist()
        for name, values in line_scores(generated, ((batch["sketch"] + 1) / 2).to(generated.device)).items():
            scores[name] += values.cpu().tolist()
        if fid is not None:
            generated_features.append(fid.extractor(generated).cpu().numpy())
            if need_real:
                real_features.append(fid.extractor(real).cpu().numpy())
        if sum(len(part[0]) for part in grid_parts) < grid_count:
            grid_parts.append((batch["sketch"], batch["color"], colors.cpu()))
    metrics = summarize(scores)
    metrics["fid"] = _fid(fid, real_stats_key, generated_features, real_features) if fid else None
    metrics["n"] = count
    return Evaluation(metrics, _grid(grid_parts, grid_count), scores, dataset.names[:count])


def colorize_as_user(colorizer, sketches: torch.Tensor) -> torch.Tensor:
    """What a user of `colorize` gets for these sketches, at their size: with lines="keep",
    the sketch's lines over the flattened colors; else the method's own output."""
    colors = colorizer.colorize_tensors(sketches)
    if getattr(colorizer, "lines", "model") == "keep":
        colors = keep_lines(colors, sketches.to(colors.device), getattr(colorizer, "smooth", SMOOTH_STEPS))
    return colors


def summarize(scores: dict[str, list[float]]) -> dict[str, float | None]:
    """Means of every per-image score, plus the standard deviation of SSIM (Table 2)."""
    out: dict[str, float | None] = {}
    for name, values in scores.items():
        out[f"{name}_mean"] = float(np.mean(values)) if values else None
        if name in ("ssim", "ssim_luma"):
            out[f"{name}_std"] = float(np.std(values)) if values else None
    return out


def _fid(fid: FIDSetup, key: str, generated: list, real: list) -> float | None:
    features = np.concatenate(generated) if generated else np.zeros((0, 2048))
    if len(features) < 2:
        log.warning("FID needs at least 2 images; reported as null")
        return None
    real_stats = fid_lib.cached_statistics(
        fid.cache_dir, key, lambda: fid_lib.feature_statistics(np.concatenate(real))
    )
    return float(fid_lib.frechet_distance(*fid_lib.feature_statistics(features), *real_stats))


def _quantize(image: torch.Tensor) -> torch.Tensor:
    return (image.clamp(0, 1) * 255).round() / 255


def _grid(parts: list[tuple[torch.Tensor, ...]], count: int) -> torch.Tensor:
    columns = [torch.cat([part[i] for part in parts])[:count] for i in range(3)]
    return comparison_grid(columns)


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


def format_table(metrics: dict[str, Any]) -> str:
    """The numeric metrics as an aligned two-column table."""
    rows = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float)) or v is None]
    width = max(len(k) for k, _ in rows)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 10}"]
    for key, value in rows:
        shown = "null" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
        lines.append(f"{key:<{width}}  {shown}")
    return "\n".join(lines)
