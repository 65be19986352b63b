"""Evaluation: colorize every pair of a split and score the result against the real colors.

The same function serves `sketchcolor evaluate`, the trainer's per-epoch validation and
`compare`: a model is judged the same way wherever it is judged, on what `colorize` writes
for each page, fitted to the scored size by page.py as the truth is.
"""

from __future__ import annotations

import logging
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..config import HintConfig
from ..data import PagePair, PagePairs
from ..errors import SketchcolorError
from ..hints import Hints, draw_hints, rotate_hue, simulate_hints
from ..imageio import to_gray, to_tensor
from ..metrics import ciede2000, colorfulness, mean_abs_error, psnr, ssim
from ..metrics import fid as fid_lib
from ..metrics import hints as hint_metrics
from ..metrics.lines import line_scores
from ..page import fit, fit_box, fit_pair
from .grids import comparison_grid

log = logging.getLogger("sketchcolor")
LOWER_IS_BETTER = {"fid", "kid", "l1_mean", "ciede2000_mean"}
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
# A method maps sketch pages to colored pages at their own size (a Colorizer, or a baseline).
Method = Callable[[list[Image.Image]], list[Image.Image]]
SCORED_SIZE = 256  # pages are scored fitted to 256 px: what the bundled model composes at (page.PAGE_SCALE)
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
    """The FID extractor if its weights can be found (explicit file, $SKETCHCOLOR_FID_WEIGHTS, the
    hub cache, the `fid` extra), else None after one line saying how to get them."""
    path = fid_lib.find_fid_weights(weights)
    if path is None and fid_lib.fid_turned_off(weights):
        log.info("FID and KID are off (SKETCHCOLOR_FID_WEIGHTS=off)")
        return None
    if path is None:
        log.warning("%s", fid_lib.missing_weights_message())
        return None
    extractor = fid_lib.fid_extractor(path).to(device).eval()
    stat = path.stat()  # identifies the weights in the statistics cache key without hashing 100 MB
    return FIDSetup(extractor, f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}", cache_dir)


@dataclass(frozen=True)
class HintPlan:
    """Hints given to every scored page: `count` marks drawn from its true colors (as training
    draws them, from a seed per page, so every method and run gets the same hints). Counterfactual
    hints are put where the true color has a hue, and that hue is turned 90-180 degrees."""

    count: int = 0
    counterfactual: bool = False
    seed: int = 0

    def for_pair(self, pair: PagePair) -> Hints:
        color = pair.color.convert("RGB").resize(pair.sketch.size) if pair.color.size != pair.sketch.size else pair.color
        rng = np.random.default_rng([self.seed, zlib.crc32(pair.name.encode())])
        hints = simulate_hints(np.asarray(color.convert("RGB")), np.asarray(to_gray(pair.sketch)), self.count, rng,
                               HintConfig(), chromatic=self.counterfactual)
        return rotate_hue(hints, rng) if self.counterfactual else hints


def takes_hints(method: Method) -> bool:
    return bool(getattr(method, "takes_hints", False))


@dataclass
class Scored:
    """A batch as it is scored, every image fitted to the scored size by page.fit: the sketch
    (B, 1, S, S), the real colors and the method's pages (B, 3, S, S), all in [-1, 1]."""

    names: list[str]
    sketch: torch.Tensor
    real: torch.Tensor
    generated: torch.Tensor
    hints: list[Hints] = field(default_factory=list)  # each page's hints (none given: empty)


def score_pages(method: Method, pairs: list[PagePair], size: int, plan: HintPlan = HintPlan()) -> Scored:
    """What `method` gives a user for these pairs' sketches (full-size pages, as `colorize`
    writes them), with the plan's hints, and their truth, fitted to `size` by the same code."""
    sketches = [pair.sketch for pair in pairs]
    hints = [plan.for_pair(pair) for pair in pairs] if plan.count else [Hints() for _ in pairs]
    outputs = method(sketches, hints=hints) if plan.count else method(sketches)
    fitted = [fit_pair(pair.sketch, pair.color, size) for pair in pairs]
    generated = [to_tensor(fit(page.convert("RGB"), size), 3) for page in outputs]
    return Scored([pair.name for pair in pairs], torch.stack([to_tensor(s, 1) for s, _ in fitted]),
                  torch.stack([to_tensor(c, 3) for _, c in fitted]), torch.stack(generated), hints)


def hint_scores(scored: Scored, plain: Scored, pairs: list[PagePair]) -> dict[str, list[float]]:
    """Adherence and leakage (metrics/hints.py) of every hint on every page, at the scored size."""
    size = scored.sketch.shape[-1]
    out: dict[str, list[float]] = {"hint_adherence": [], "hint_leakage": []}
    for i, pair in enumerate(pairs):
        box = fit_box(*pair.sketch.size, size)
        labels = hint_metrics.line_regions((scored.sketch[i] + 1) / 2)
        page = np.zeros((size, size), bool)
        page[box.top : box.top + box.height, box.left : box.left + box.width] = True
        generated, without = (scored.generated[i] + 1) / 2, (plain.generated[i] + 1) / 2
        for mark in scored.hints[i].marks:
            drawn = draw_hints(Hints((mark,), scored.hints[i].units), pair.sketch.size, box, (size, size))
            region = hint_metrics.hinted_region(labels, drawn[3].numpy() > 0)
            if region is None:
                continue
            out["hint_adherence"].append(hint_metrics.adherence(generated, region, mark.color))
            out["hint_leakage"].append(hint_metrics.leakage(generated, without, region, page, mark.color))
    return out


@torch.no_grad()
def evaluate(
    method: Method,
    pairs: PagePairs,
    *,
    size: int = SCORED_SIZE,
    fid: FIDSetup | None = None,
    batch_size: int = 8,
    limit: int | None = None,
    grid_count: int = 8,
    progress: bool = True,
    hints: HintPlan = HintPlan(),
) -> Evaluation:
    """Colorize `pairs`' sketches as a user would and score them at `size`; metrics are means
    over images (and stds for SSIM). `method` maps a list of pages to colored pages at their
    own size: a Colorizer, or a baseline (baselines/). With a hint plan, every page gets its
    hints; counterfactual ones are also scored for adherence and leakage (per hint, not per
    image: medians and means over all hints)."""
    if hints.count and not takes_hints(method):
        raise SketchcolorError("this method takes no color hints: score it with 0 hints")
    pairs = pairs.limited(limit)
    scores: dict[str, list[float]] = {name: [] for name in [*PER_IMAGE, *LINE_METRICS]}
    per_hint: dict[str, list[float]] = {"hint_adherence": [], "hint_leakage": []}
    generated_features, real_features, grid_parts, names = [], [], [], []
    real_key = fid and fid_lib.statistics_key(pairs.fingerprint(size), fid.weights_name, "features")
    need_real = fid is not None and not (fid.cache_dir / f"{real_key}.npz").exists()
    bar = tqdm(total=len(pairs), desc="evaluating", leave=False, disable=not progress)
    for batch in pairs.batches(batch_size):
        scored = score_pages(method, batch, size, hints)
        if hints.counterfactual and hints.count:
            for name, values in hint_scores(scored, score_pages(method, batch, size), batch).items():
                per_hint[name] += values
        generated, real = (scored.generated + 1) / 2, (scored.real + 1) / 2
        for name, function in PER_IMAGE.items():
            scores[name] += function(generated, real).tolist()
        for name, values in line_scores(generated, (scored.sketch + 1) / 2).items():
            scores[name] += values.tolist()
        if fid is not None:
            generated_features.append(_features(fid, generated))
            if need_real:
                real_features.append(_features(fid, real))
        if sum(len(part.names) for part in grid_parts) < grid_count:
            grid_parts.append(scored)
        names += scored.names
        bar.update(len(batch))
    bar.close()
    if not names:
        raise SketchcolorError(f"no usable pairs to score in {pairs.label or 'the data'}")
    metrics = summarize(scores)
    metrics.update(_fid(fid, real_key, generated_features, real_features))
    metrics["n"] = len(names)
    metrics["hints"] = hints.count
    if hints.counterfactual and hints.count:
        adherence, leaks = per_hint["hint_adherence"], per_hint["hint_leakage"]
        metrics.update(hint_adherence_median=float(np.median(adherence)) if adherence else None,
                       hint_leakage_mean=float(np.mean(leaks)) if leaks else None, hints_scored=len(adherence))
    return Evaluation(metrics, _grid(grid_parts, grid_count), scores, names)


def _features(fid: FIDSetup, images: torch.Tensor) -> np.ndarray:
    device = next(fid.extractor.parameters()).device
    return fid.extractor(images.to(device)).cpu().numpy()


def summarize(scores: dict[str, list[float]]) -> dict[str, float | None]:
    """Means of every per-image score, plus the standard deviation of SSIM (Table 2)."""
    out: dict[str, float | None] = {}
    for name, values in scores.items():
        out[f"{name}_mean"] = float(np.mean(values)) if values else None
        if name in ("ssim", "ssim_luma"):
            out[f"{name}_std"] = float(np.std(values)) if values else None
    return out


def _fid(fid: FIDSetup | None, key: str, generated: list, real: list) -> dict[str, Any]:
    """FID and KID of the generated pages against the real ones (whose features are cached), and
    how many images they rest on."""
    if fid is None:
        return {"fid": None, "kid": None, "fid_images": None}
    features = np.concatenate(generated) if generated else np.zeros((0, 2048))
    if len(features) < 2:
        log.warning("FID needs at least 2 images; reported as null")
        return {"fid": None, "kid": None, "fid_images": len(features)}
    reference = fid_lib.cached_features(fid.cache_dir, key, lambda: np.concatenate(real))
    statistics = fid_lib.feature_statistics(features), fid_lib.feature_statistics(reference)
    return {"fid": fid_lib.frechet_distance(*statistics[0], *statistics[1]),
            "kid": fid_lib.kernel_inception_distance(features, reference), "fid_images": len(features)}


def _grid(parts: list[Scored], count: int) -> torch.Tensor:
    columns = [torch.cat([getattr(part, column) for part in parts])[:count] for column in ("sketch", "real", "generated")]
    return comparison_grid(columns)
