"""Per-epoch validation: the evaluation command's metrics on the validation split, logged,
and a `best` generator kept by the configured metric."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..checkpoint import save_model
from ..config import Config
from ..data import PairDataset
from ..data.cache import default_cache_dir
from ..evaluate import evaluate, is_better, load_fid
from ..inference import Colorizer

LOGGED = ("ssim_mean", "ssim_std", "ssim_luma_mean", "psnr_mean", "l1_mean", "ciede2000_mean",
          "colorfulness_generated_mean", "fid")


class Validator:
    def __init__(self, config: Config, run_dir: Path, device: torch.device) -> None:
        self.config, self.run_dir, self.device = config, run_dir, device
        self.fid = load_fid(config.eval.fid_weights, device, default_cache_dir() / "fid")
        self.best: float | None = None

    def due(self, epoch: int) -> bool:
        return self.config.eval.every > 0 and epoch % self.config.eval.every == 0

    def __call__(self, generator: torch.nn.Module, val_set: PairDataset, epoch: int, step: int) -> dict:
        """Score `generator` on `val_set`; append to metrics.jsonl; save best/ when it improves."""
        colorizer = Colorizer(generator, self.config, device=self.device, lines="model")  # the network alone
        result = evaluate(colorizer, val_set, fid=self.fid, limit=self.config.eval.limit, progress=False)
        generator.train()
        metrics = {key: result.metrics.get(key) for key in LOGGED}
        with (self.run_dir / "metrics.jsonl").open("a") as out:
            out.write(json.dumps({"epoch": epoch, "step": step, **metrics}) + "\n")
        value = metrics.get(self.config.eval.metric)
        if is_better(self.config.eval.metric, value, self.best):
            self.best = value
            save_model(self.run_dir / "best", generator, self.config, epoch=epoch, step=step,
                       **{self.config.eval.metric: value})
        return metrics
