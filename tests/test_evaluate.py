"""The evaluation harness end to end: CLI, report files, FID with a (random) weights file."""

import csv
import json
import os

import numpy as np
import pytest
import torch
from conftest import run_cli
from PIL import Image

from sketchcolor.baselines import SketchCopy
from sketchcolor.compose import lay_lines_over
from sketchcolor.data import load_pages
from sketchcolor.evaluation.evaluate import evaluate, is_better, load_fid, summarize
from sketchcolor.inference import Colorizer
from sketchcolor.errors import SketchcolorError
from sketchcolor.metrics import fid as fid_lib
from sketchcolor.metrics.lines import line_scores


def test_summary_is_mean_and_std_over_images():
    metrics = summarize({"ssim": [0.5, 0.7], "ssim_luma": [1.0, 1.0], "psnr": [10.0, 20.0]})
    assert metrics["ssim_mean"] == pytest.approx(0.6) and metrics["ssim_std"] == pytest.approx(0.1)
    assert metrics["psnr_mean"] == pytest.approx(15.0) and metrics["ssim_luma_std"] == 0.0


def test_better_depends_on_the_metric_direction():
    assert is_better("ssim_mean", 0.7, 0.6) and not is_better("ssim_mean", 0.5, 0.6)
    assert is_better("fid", 10.0, 20.0) and not is_better("fid", 30.0, 20.0)
    assert is_better("fid", 5.0, None) and not is_better("fid", None, 3.0)


def test_a_perfect_colorizer_scores_perfectly(pair_root, tiny_config):
    """A 'model' that returns the real colors must get SSIM 1, L1 0, CIEDE2000 0."""
    pages = load_pages(pair_root, "val")
    reals = {pair.sketch.tobytes(): pair.color for batch in pages.batches(8) for pair in batch}

    def oracle(sketches):
        return [reals[sketch.tobytes()] for sketch in sketches]

    result = evaluate(oracle, pages, size=32, progress=False)
    assert result.metrics["n"] == 4 and result.metrics["fid"] is None
    assert result.metrics["ssim_mean"] == pytest.approx(1.0, abs=1e-4)
    assert result.metrics["l1_mean"] < 2e-3 and result.metrics["ciede2000_mean"] < 0.5
    assert result.metrics["colorfulness_generated_mean"] == pytest.approx(result.metrics["colorfulness_real_mean"], rel=0.02)


def test_evaluate_cli_with_fid_turned_off(tmp_path, pair_root, model_dir):
    out = tmp_path / "report"
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch-home"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env["SKETCHCOLOR_FID_WEIGHTS"] = "off"  # the fid extra is installed for the tests: turn it off
    (pair_root / "test").mkdir()
    for path in sorted((pair_root / "val").iterdir())[:3]:
        (pair_root / "test" / path.name).write_bytes(path.read_bytes())
    (pair_root / "test" / "broken.png").write_bytes(b"broken")
    result = run_cli("evaluate", "--model", model_dir, "--data", pair_root, "--out", out, "--size", 32, env=env)
    assert result.returncode == 1 and "broken.png: not an image" in result.stderr, result.stderr  # the report is written
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["fid"] is None and metrics["n"] == 3 and metrics["skipped"] == 1 and metrics["split"] == "test"
    assert 0 < metrics["ssim_mean"] <= 1 and metrics["ssim_std"] >= 0
    assert "ssim_mean" in result.stdout and "FID and KID are off" in result.stderr
    per_image = list(csv.DictReader((out / "per_image.csv").open()))  # the broken file is not among them
    assert [r["image"] for r in per_image] == sorted(p.name for p in (pair_root / "val").iterdir())[:3]
    assert np.mean([float(r["ssim"]) for r in per_image]) == pytest.approx(metrics["ssim_mean"], abs=1e-5)
    assert Image.open(out / "grid.png").size[1] > 3 * 32


def test_fid_path_runs_with_a_weights_file(tmp_path, pair_root, tiny_config, model_dir):
    torch.manual_seed(0)
    weights = tmp_path / fid_lib.FID_WEIGHTS_NAME
    torch.save(fid_lib.InceptionFeatures.random_state_dict(), weights)
    setup = load_fid(weights, torch.device("cpu"), tmp_path / "fid")
    pages = load_pages(pair_root, "val")
    colorizer = Colorizer.from_pretrained(model_dir, device="cpu")
    first = evaluate(colorizer, pages, size=32, fid=setup, limit=2, progress=False).metrics["fid"]
    assert first is not None and np.isfinite(first) and first >= 0
    assert len(list((tmp_path / "fid").glob("*.npz"))) == 1  # real statistics cached ...
    again = evaluate(colorizer, pages, size=32, fid=setup, limit=2, progress=False).metrics["fid"]
    assert again == pytest.approx(first, rel=1e-4)  # ... and reused to the same result


def test_training_validates_keeps_best_and_plots(tmp_path, pair_root, tiny_config):
    from sketchcolor.evaluation.plots import plot_run
    from sketchcolor.train import Trainer

    run = tmp_path / "run"
    trainer = Trainer(tiny_config, run, pair_root)
    trainer.fit()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    best_value = max(r["ssim_mean"] for r in records)
    best = json.loads((run / "best" / "config.json").read_text())["info"]
    assert best["ssim_mean"] == pytest.approx(best_value) and trainer.best == pytest.approx(best_value)
    png = plot_run(run)
    assert png.exists() and Image.open(png).size[0] > 500


def test_line_scores_count_kept_lost_and_invented_lines():
    sketch = torch.ones(1, 1, 20, 20)
    sketch[..., 10, 2:18] = 0  # one line of 16 pixels
    kept = sketch.expand(-1, 3, -1, -1).clone()
    scores = line_scores(kept, sketch)
    assert scores["line_recall"].item() == 1 and scores["line_precision"].item() == 1
    shifted = torch.roll(kept, 1, dims=2)  # a one-pixel shift is forgiven
    assert line_scores(shifted, sketch)["line_f1"].item() == 1
    lost = torch.ones_like(kept)
    lost[..., 10, 2:10] = 0  # half the line kept: 8 pixels, and the 9th is within the tolerance
    assert line_scores(lost, sketch)["line_recall"].item() == pytest.approx(9 / 16)
    smudged = kept.clone()
    smudged[..., 0:2, :] = 0  # a stroke of 40 dark pixels far from any ink
    assert line_scores(smudged, sketch)["line_precision"].item() == pytest.approx(16 / 56)


def test_line_precision_counts_dark_strokes_but_not_dark_areas():
    sketch = torch.ones(1, 1, 64, 64)
    sketch[..., 40, 4:60] = 0  # one line of 56 pixels
    painted = sketch.expand(-1, 3, -1, -1).clone()
    painted[..., 4:24, 4:24] = 0.3  # a dark color 20 px wide (black hair), away from the ink
    assert line_scores(painted, sketch)["line_precision"].item() == 1
    stroked = painted.clone()
    stroked[..., 30, 4:60] = 0.3  # a stroke one pixel wide that the sketch does not have: invented
    assert line_scores(stroked, sketch)["line_precision"].item() == pytest.approx(56 / 112)
    sketch[..., 30, 4:60] = 0.6  # the same stroke as a faint pencil line of the sketch: not invented
    assert line_scores(stroked, sketch)["line_precision"].item() == 1


def test_sketch_floor_and_kept_lines_score_perfect_line_recall(pair_root, tiny_config):
    pages = load_pages(pair_root, "val")
    floor = evaluate(SketchCopy(), pages, size=32, progress=False).metrics
    assert floor["line_f1_mean"] == 1 and floor["colorfulness_generated_mean"] == 0

    def blank(sketches):  # paints white paper everywhere: no lines of its own
        return [Image.new("RGB", sketch.size, "white") for sketch in sketches]

    def blank_with_lines(sketches):  # the sketch's lines laid over the blank colors
        return [lay_lines_over(page, sketch) for page, sketch in zip(blank(sketches), sketches)]

    assert evaluate(blank, pages, size=32, progress=False).metrics["line_recall_mean"] == 0
    assert evaluate(blank_with_lines, pages, size=32, progress=False).metrics["line_recall_mean"] == 1


def test_aligned_only_reads_the_manifest_above_the_split(pair_root, tiny_config):
    names = sorted(p.name for p in (pair_root / "val").iterdir())
    entries = [{"file": f"val/{name}", "aligned": i % 2 == 0} for i, name in enumerate(names)]
    (pair_root / "manifest.json").write_text(json.dumps(entries))
    pages = load_pages(pair_root, "val", aligned=True)
    assert [source.name for source in pages.sources] == names[::2]
    (pair_root / "manifest.json").write_text(json.dumps({"file": 3}))
    with pytest.raises(SketchcolorError, match="not a list"):
        load_pages(pair_root, "val", aligned=True)


def test_evaluate_cli_scores_the_sketch_floor(tmp_path, pair_root):
    out = tmp_path / "floor"
    result = run_cli("evaluate", "--baseline", "sketch", "--data", pair_root, "--split", "val", "--out", out,
                     "--size", 32)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "baseline:sketch" and metrics["line_f1_mean"] == 1 and metrics["n"] == 4
    both = run_cli("evaluate", "--baseline", "sketch", "--model", "x", "--data", pair_root)
    assert both.returncode != 0 and "not both" in both.stderr
