"""Judging methods: `evaluate` scores one on a split as users get it, `compare` sets several
side by side and page by page, `reports` writes the files, `grids` and `plots` the figures."""

from .evaluate import (SCORED_SIZE, Evaluation, FIDSetup, HintPlan, Method, evaluate, is_better, load_fid,
                       score_pages)

__all__ = ["SCORED_SIZE", "Evaluation", "FIDSetup", "HintPlan", "Method", "evaluate", "is_better", "load_fid",
           "score_pages"]
