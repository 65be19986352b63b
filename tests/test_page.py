"""The one way a page goes through the system (page.py): fitting, and the promise that what
`evaluate` scores is what `colorize` writes."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from conftest import run_cli
from sketchcolor import Colorizer
from sketchcolor.data import PagePairs, PairSource
from sketchcolor.evaluation import evaluate, score_pages
from sketchcolor.imageio import join_pair, read_image, to_tensor
from sketchcolor.metrics import psnr
from sketchcolor.page import fit, fit_box, fit_pair, fit_region, shrink


def test_fit_letterboxes_on_white_paper_keeping_the_aspect_ratio():
    page = Image.new("L", (300, 100), 0)
    fitted = np.asarray(fit(page, 30))
    assert fitted.shape == (30, 30)
    assert (fitted[10:20] == 0).all()  # the page, black as drawn, never stretched
    assert (fitted[:10] == 255).all() and (fitted[20:] == 255).all()  # paper above and below
    assert fit_box(100, 300, 30) == fit_box(100, 300, 30) and fit_box(100, 300, 30).width == 10
    region = fit_region(page, 30)
    assert region.sketch.shape == (1, 30, 30) and (region.crop(region.sketch) == -1).all()


def test_a_pair_is_fitted_by_one_box_so_its_halves_stay_aligned():
    sketch = Image.new("L", (80, 40), 255)
    color = Image.new("RGB", (160, 80), (200, 30, 30))  # another size: brought to the sketch's first
    ImageDraw.Draw(sketch).rectangle([10, 10, 30, 30], fill=0)
    ImageDraw.Draw(color).rectangle([20, 20, 60, 60], fill=(0, 0, 255))
    fitted_sketch, fitted_color = fit_pair(sketch, color, 64)
    assert fitted_sketch.mode == "L" and fitted_color.mode == "RGB"
    ink = np.asarray(fitted_sketch) < 128
    rgb = np.asarray(fitted_color).astype(int)
    blue = (rgb[:, :, 2] > 200) & (rgb[:, :, 0] < 100)
    assert ink.sum() > 50 and (ink == blue).mean() > 0.99
    assert (np.asarray(fitted_color)[:10] == 255).all()  # white paper above a wide page


def test_shrink_only_shrinks():
    assert shrink(Image.new("L", (50, 20)), 40).size == (40, 16)
    assert shrink(Image.new("L", (50, 20)), 80).size == (50, 20)


def test_the_colorizer_leaves_the_callers_module_as_it_was(model_dir):
    trained = Colorizer.from_pretrained(model_dir, device="cpu", backend="torch").generator.train()
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    colorizer = Colorizer(trained, Colorizer.from_pretrained(model_dir, device="cpu").config, device=torch.device("cpu"))
    colorizer(Image.new("L", (40, 30), 255))
    assert trained.training and colorizer.generator is not trained and not colorizer.generator.training
    assert all(torch.equal(before[k], v) for k, v in trained.state_dict().items())


def test_per_call_options_leave_the_defaults_alone(model_dir):
    colorizer = Colorizer.from_pretrained(model_dir, device="cpu", smooth=0)
    page = Image.new("L", (40, 30), 255)
    ImageDraw.Draw(page).ellipse([5, 5, 35, 25], outline=0, width=2)
    default = np.asarray(colorizer(page))
    other = np.asarray(colorizer(page, size=64, smooth=8))
    assert other.shape == default.shape and not np.array_equal(other, default)
    assert np.array_equal(np.asarray(colorizer(page)), default) and colorizer.options.smooth == 0
    with pytest.raises(Exception, match="multiple of"):
        colorizer(page, size=33)


def _non_square_pair(folder):
    color = Image.new("RGB", (96, 40), "white")
    draw = ImageDraw.Draw(color)
    draw.ellipse([6, 4, 50, 36], fill=(220, 60, 40), outline=(0, 0, 0), width=2)
    draw.rectangle([58, 6, 90, 34], fill=(40, 120, 220), outline=(0, 0, 0), width=2)
    sketch = Image.new("L", (96, 40), 255)
    ImageDraw.Draw(sketch).ellipse([6, 4, 50, 36], outline=0, width=2)
    ImageDraw.Draw(sketch).rectangle([58, 6, 90, 34], outline=0, width=2)
    folder.mkdir(parents=True)
    join_pair(sketch, color).save(folder / "wide.png")
    sketch.save(folder.parent / "wide-sketch.png")
    return folder / "wide.png", color


def test_evaluate_scores_exactly_what_colorize_writes_for_a_non_square_page(tmp_path, model_dir):
    pair_path, color = _non_square_pair(tmp_path / "pairs")
    result = run_cli("colorize", tmp_path / "wide-sketch.png", "-o", tmp_path / "out", "--model", model_dir,
                     "--backend", "torch", "--precision", "fp32")
    assert result.returncode == 0, result.stderr
    written = read_image(tmp_path / "out" / "wide-sketch.png")
    assert written.size == (96, 40)

    colorizer = Colorizer.from_pretrained(model_dir, device="cpu", backend="torch", precision="fp32")
    pairs = PagePairs([PairSource(pair_path)])
    scored = score_pages(colorizer, next(pairs.batches(1)), 64)
    assert torch.equal(scored.generated[0], to_tensor(fit(written, 64), 3))  # pixel-identical
    evaluation = evaluate(colorizer, pairs, size=64, progress=False)
    expected = psnr((to_tensor(fit(written, 64), 3)[None] + 1) / 2, (to_tensor(fit(color, 64), 3)[None] + 1) / 2)
    assert evaluation.per_image["psnr"][0] == pytest.approx(float(expected[0]), abs=1e-6)
