"""Standard third-party weights (FID's Inception, style transfer's VGG19) are never
downloaded: each is looked up as a local file, and when absent the user gets one line
saying which file to put where. One mechanism for every such file: finding it, and
loading it into its network with every misfit reported in one line."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .errors import SketchcolorError


@dataclass(frozen=True)
class LocalWeights:
    """A well-known weights file: its name (as the torch hub cache stores it), where it can
    be downloaded by hand, the variable that may point at it, the option that takes it and
    the network it must fit."""

    name: str
    url: str
    env: str
    option: str  # the command-line option, e.g. --fid-weights
    label: str  # names the file in errors, e.g. "FID weights"
    needed_by: str  # starts the missing-file line, e.g. "FID needs"
    network: str  # what the file must fit, e.g. "the FID Inception v3"

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

    def load_into(self, net: nn.Module, weights: str | Path | Mapping[str, torch.Tensor], prefix: str = "") -> None:
        """Load `weights` (a file, or the state dict itself for tests) into `net`.

        Only keys starting with `prefix` are used, with it removed, so a file may hold more
        than `net` needs (VGG19's classifier). Every failure is one SketchcolorError line.
        """
        state = weights if isinstance(weights, Mapping) else _read_state(weights)
        wanted = {key.removeprefix(prefix): value for key, value in state.items() if key.startswith(prefix)}
        try:
            net.load_state_dict(wanted)
        except RuntimeError:
            source = "the given state dict" if isinstance(weights, Mapping) else str(weights)
            raise SketchcolorError(f"{source} does not fit {self.network} ({_misfit(net, wanted)}); "
                                   f"use {self.name}") from None


def _read_state(path: str | Path) -> Mapping[str, torch.Tensor]:
    """The state dict in a local file, read without unpickling any code."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # weights_only: never run pickled code
    except Exception as err:  # noqa: BLE001 - torch.load raises many types (pickle, zip, OS) for a bad file
        raise SketchcolorError(f"{path}: not a readable PyTorch state dict ({type(err).__name__})") from None
    if not isinstance(state, Mapping):
        raise SketchcolorError(f"{path}: holds a {type(state).__name__}, not a state dict")
    return state


def _misfit(net: nn.Module, state: Mapping[str, torch.Tensor]) -> str:
    """A short account of how `state` differs from `net`'s own state dict."""
    own = net.state_dict()
    missing, unexpected = sorted(own.keys() - state.keys()), sorted(state.keys() - own.keys())
    shapes = sorted(k for k in own.keys() & state.keys() if getattr(state[k], "shape", None) != own[k].shape)
    example = (missing or unexpected or shapes or ["?"])[0]
    return f"{len(missing)} missing, {len(unexpected)} unexpected, {len(shapes)} mis-shaped keys, e.g. {example}"
