"""Sketch-style augmentation and mixing several datasets into one training set."""

from pathlib import Path

import numpy as np
import pytest
import torch

from sketchcolor.data import DataSource, MixedPairs, load_split, train_val_sets
from sketchcolor.data.augment import Jitter, augment, line_weight, paper
from sketchcolor.errors import SketchcolorError

from conftest import write_pairs


def _line_sketch() -> torch.Tensor:
    sketch = torch.ones(1, 16, 16)
    sketch[:, 8, :] = 0  # one 1 px horizontal line
    return sketch


def test_line_weight_thickens_and_thins_dark_lines():
    sketch = _line_sketch()
    thick, thin = line_weight(sketch, 1.0), line_weight(sketch, -0.5)
    assert (thick < 0.5).sum() == 3 * (sketch < 0.5).sum()  # one pixel more on each side
    assert thin[0, 8].mean() == pytest.approx(0.5)  # half-way to gone, not erased
    assert torch.equal(thin[0, :7], sketch[0, :7])


def test_paper_darkens_the_sheet_and_lightens_the_lines():
    sketch = _line_sketch()
    pages = [paper(sketch, np.random.default_rng(seed)) for seed in range(8)]
    assert all(page.shape == sketch.shape and 0 <= page.min() and page.max() <= 1 for page in pages)
    sheets = torch.stack([page[0, :4].mean() for page in pages])
    lines = torch.stack([page[0, 8].mean() for page in pages])
    assert sheets.mean() < 0.95 and lines.mean() > 0.05 and (sheets > lines + 0.2).all()


def test_sketch_jitter_leaves_the_color_target_alone():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(24, 24, 4), dtype=np.uint8)
    plain = augment(pixels, Jitter(24), np.random.default_rng(5))
    styled = augment(pixels, Jitter(24, line=1.0, paper=1.0), np.random.default_rng(5))
    assert torch.equal(plain[1:], styled[1:]) and not torch.equal(plain[:1], styled[:1])


def test_scale_jitter_crops_different_sides_then_resizes():
    pixels = np.zeros((40, 40, 4), dtype=np.uint8)
    pixels[:, 20:] = 255  # left half black, right half white
    jitter = Jitter(20, scale=True)
    fractions = {round(float(augment(pixels, jitter, np.random.default_rng(s))[0].mean()), 3) for s in range(16)}
    assert all(augment(pixels, jitter, np.random.default_rng(s)).shape == (4, 20, 20) for s in range(4))
    assert len(fractions) > 4  # a fixed-size crop of this image can only give 21 values; scaled ones others


def test_data_source_parses_repeats_but_keeps_existing_paths(tmp_path):
    assert DataSource.parse("sets/anime@15") == DataSource(Path("sets/anime"), 15)
    odd = tmp_path / "odd@2"
    odd.mkdir()
    assert DataSource.parse(str(odd)) == DataSource(odd, 1)
    with pytest.raises(SketchcolorError, match="whole number"):
        DataSource.parse("sets/anime@0")


def test_mixed_sources_repeat_the_small_set_and_validate_on_each_val_split(pair_root, tiny_config, tmp_path):
    write_pairs(tmp_path / "small" / "train", 3, start=100)
    write_pairs(tmp_path / "other" / "train", 2, start=200)
    write_pairs(tmp_path / "other" / "val", 2, start=300)
    sources = [DataSource(pair_root), DataSource(tmp_path / "small", repeat=4), DataSource(tmp_path / "other")]
    train, vals = train_val_sets(sources, tiny_config.data, seed=0)
    first_only, first_vals = train_val_sets(pair_root, tiny_config.data, seed=0)
    assert isinstance(train, MixedPairs) and len(train) == len(first_only) + 3 * 4 + 2
    # a validation set per source with a val/ split: the first's and the third's, not the small one's
    assert [v.label for v in vals] == ["pairs/val", "other/val"] and len(vals[1]) == 2
    assert vals[0].fingerprint(64) == first_vals[0].fingerprint(64)
    small = load_split(tmp_path / "small", "train", tiny_config.data, augment=True)
    tail = [train[(len(first_only) + k, 7)]["color"] for k in range(12)]
    assert all(torch.equal(tail[k], small[(k % 3, 7)]["color"]) for k in range(12))
