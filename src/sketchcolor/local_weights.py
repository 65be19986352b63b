"""Standard third-party weights (FID's Inception, style transfer's VGG19) are never
downloaded: each is looked up as a local file, and when absent the user gets one line
saying which file to put where. One mechanism for every such file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import SketchcolorError


@dataclass(frozen=True)
class LocalWeights:
    """A well-known weights file: its name (as the torch hub cache stores it), where it can
    be downloaded by hand, the variable that may point at it and the option that takes it."""

    name: str
    url: str
    env: str
    option: str  # the command-line option, e.g. --fid-weights
    label: str  # names the file in errors, e.g. "FID weights"
    needed_by: str  # starts the missing-file line, e.g. "FID needs"

    def hub_path(self) -> Path:
        """Where torchvision, pytorch-fid and torch-fidelity cache it: the hub checkpoints folder."""
        return Path(torch.hub.get_dir()) / "checkpoints" / self.name

    def find(self, explicit: str | Path | None = None) -> Path | None:
        """`explicit`, else $env, else the hub cache, else None.

        A path that is given (argument or variable) but missing is an error rather than a
        silent fall-through, so a typo never makes the method use some other file.
        """
        if explicit is not None:
            path = Path(explicit).expanduser()
            if not path.is_file():
                raise SketchcolorError(f"{self.label} file not found: {path}")
            return path
        if os.environ.get(self.env):
            path = Path(os.environ[self.env]).expanduser()
            if not path.is_file():
                raise SketchcolorError(f"{self.label} file not found: {path} (from ${self.env})")
            return path
        hub = self.hub_path()
        return hub if hub.is_file() else None

    def missing_message(self) -> str:
        """One line telling the user which file to put where."""
        return (f"{self.needed_by} {self.name} ({self.url}): put it in {self.hub_path().parent}/, "
                f"or pass {self.option} FILE, or set {self.env}=FILE")
