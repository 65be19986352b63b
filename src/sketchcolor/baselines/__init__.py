"""Methods that are not trained generators but are scored the same way, as floors and
references: anything with `colorize_tensors` and a `lines` mode can be evaluated."""

from __future__ import annotations

import torch


class SketchCopy:
    """The sketch itself, as a gray RGB image: the floor a colorizer has to beat."""

    lines = "model"  # the output is already the sketch; nothing to lay over it
    device = torch.device("cpu")

    def colorize_tensors(self, sketches: torch.Tensor) -> torch.Tensor:
        return sketches.expand(-1, 3, -1, -1).clone()


BASELINES = {"sketch": SketchCopy}
