"""Per-epoch validation: `evaluate` on every validation set, scoring exactly what `colorize`
gives a user (lines kept and smoothed, the page composed at full size, fitted to the scored
size as `evaluate` fits it), logged per set, and a `best` generator kept by the mean over
the sets of the configured metric, so a recipe is not chosen on one domain only."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from ..checkpoint import save_model
from ..config import Config
from ..data import PagePairs
from ..evaluation import SCORED_SIZE, HintPlan, evaluate, is_better, load_fid, score_pages
from ..evaluation.grids import comparison_grid
from ..inference import Colorizer
from ..paths import default_cache_dir

LOGGED = ("ssim_mean", "ssim_std", "ssim_luma_mean", "psnr_mean", "l1_mean", "ciede2000_mean",
          "colorfulness_generated_mean", "line_f1_mean", "fid", "kid")


class Validator:
    def __init__(self, config: Config, run_dir: Path, device: torch.device) -> None:
        self.config, self.run_dir, self.device = config, run_dir, device
        self.size = config.eval.size or SCORED_SIZE
        self.fid = load_fid(config.eval.fid_weights, device, default_cache_dir() / "fid")
        self.best: float | None = None

    def due(self, epoch: int) -> bool:
        return self.config.eval.every > 0 and epoch % self.config.eval.every == 0

    def __call__(self, generator: torch.nn.Module, val_sets: list[PagePairs], epoch: int, step: int) -> dict:
        """Score `generator` on every set; append to metrics.jsonl; save best/ when the mean
        over sets of eval.metric improves. Returns the means, with each set's scores under "sets"."""
        colorizer = Colorizer(generator, self.config, device=self.device)  # a copy: the trainer's stays as it is
        # A hint-capable generator is chosen on pages with hints, as `evaluate --hints` draws them.
        plan = HintPlan(self.config.eval.hints if self.config.generator.hints else 0)
        per_set = {}
        for pairs in val_sets:
            result = evaluate(colorizer, pairs, size=self.size, fid=self.fid, limit=self.config.eval.limit,
                              progress=False, hints=plan)
            per_set[pairs.label] = {key: result.metrics.get(key) for key in LOGGED}
        metrics = {key: mean_over_sets(per_set, key) for key in LOGGED}
        with (self.run_dir / "metrics.jsonl").open("a") as out:
            out.write(json.dumps({"epoch": epoch, "step": step, **metrics, "sets": per_set}) + "\n")
        value = metrics.get(self.config.eval.metric)
        if is_better(self.config.eval.metric, value, self.best):
            self.best = value
            save_model(self.run_dir / "best", generator, self.config, epoch=epoch, step=step,
                       **{self.config.eval.metric: value})
        return {**metrics, "sets": per_set}


def mean_over_sets(per_set: dict[str, dict], key: str) -> float | None:
    """The unweighted mean of one score over the sets that have it: each domain counts the
    same, however many pages it has."""
    values = [scores[key] for scores in per_set.values()
              if scores.get(key) is not None and not math.isnan(scores[key])]
    return sum(values) / len(values) if values else None


def sample_grid(generator: torch.nn.Module, config: Config, device: torch.device, pairs: PagePairs,
                count: int, size: int) -> torch.Tensor:
    """A grid of sketch | real | generated for the first `count` readable validation pairs,
    each as `colorize` gives it, fitted to `size`."""
    shown = pairs.first(count)
    scored = score_pages(Colorizer(generator, config, device=device), shown, size)
    return comparison_grid([scored.sketch, scored.real, scored.generated])
