"""Shared fixtures: small synthetic pair datasets drawn by our own code, the tiny config, a
saved tiny model, and the command line run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from sketchcolor.checkpoint import save_model
from sketchcolor.config import load_config
from sketchcolor.imageio import join_pair
from sketchcolor.models import build_generator

PALETTE = [(230, 60, 50), (40, 140, 220), (250, 200, 40), (60, 180, 90), (170, 80, 200)]


def draw_pair(seed: int, size: int = 64) -> tuple[Image.Image, Image.Image]:
    """A (sketch, color) pair: filled shapes with black outlines, and the outlines alone."""
    rng = np.random.default_rng(seed)
    color = Image.new("RGB", (size, size), "white")
    sketch = Image.new("L", (size, size), 255)
    for _ in range(3):
        corner = rng.integers(0, size // 2, 2)
        extent = rng.integers(size // 4, size // 2, 2)
        box = [int(corner[0]), int(corner[1]), int(corner[0] + extent[0]), int(corner[1] + extent[1])]
        fill = PALETTE[int(rng.integers(len(PALETTE)))]
        kind = "ellipse" if rng.random() < 0.5 else "rectangle"
        getattr(ImageDraw.Draw(color), kind)(box, fill=fill, outline=(0, 0, 0), width=2)
        getattr(ImageDraw.Draw(sketch), kind)(box, outline=0, width=2)
    return sketch, color


def write_pairs(folder: Path, count: int, start: int = 0, size: int = 64) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(start, start + count):
        path = folder / f"pair_{index:03d}.png"
        join_pair(*draw_pair(index, size)).save(path)
        paths.append(path)
    return paths


@pytest.fixture(autouse=True)
def no_fid_by_default(monkeypatch):
    """FID and KID off unless a test turns them on: the `fid` extra is installed for the tests,
    and an Inception pass per validation image would only slow every training test."""
    monkeypatch.setenv("SKETCHCOLOR_FID_WEIGHTS", "off")


@pytest.fixture
def pair_root(tmp_path: Path) -> Path:
    """A dataset folder with train/ (16 pairs) and val/ (4 pairs)."""
    root = tmp_path / "pairs"
    write_pairs(root / "train", 16)
    write_pairs(root / "val", 4, start=100)
    return root


@pytest.fixture
def tiny_config(tmp_path: Path):
    return load_config("tiny", [f"data.cache_dir={tmp_path / 'cache'}"])


@pytest.fixture
def model_dir(tmp_path: Path, tiny_config) -> Path:
    """A saved, untrained tiny-preset model directory (seeded, so the same every run)."""
    torch.manual_seed(0)
    return save_model(tmp_path / "model", build_generator(tiny_config.generator), tiny_config)


def run_cli(*args, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m sketchcolor ARGS` in a fresh process (arguments str()-ed), output captured."""
    return subprocess.run([sys.executable, "-m", "sketchcolor", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """The suite's own ~/.cache/sketchcolor: `--backend auto` measurements, ONNX exports and the
    rest never touch (or come from) the user's."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    patch.undo()
