"""`sketchcolor compare`: kept epochs, the table with its footnotes, and the labelled grid."""

import csv
import shutil

import numpy as np
import pytest
from conftest import run_cli
from scipy.stats import t as scipy_t
from PIL import Image

from sketchcolor.evaluation.compare import paired_differences
from sketchcolor.evaluation import Evaluation
from sketchcolor.metrics import Estimate, mean_ci, pairs_to_resolve

from sketchcolor.config import load_config
from sketchcolor.train import Trainer


def test_kept_epochs_and_compare_table_and_grid(tmp_path, pair_root, tiny_config):
    config = tiny_config.with_overrides(["train.epochs=2", "train.keep_epochs=[0, 2]", "eval.every=0"])
    run = tmp_path / "run"
    Trainer(config, run, pair_root).fit()
    assert sorted(p.name for p in (run / "epochs").iterdir()) == ["epoch_0000", "epoch_0002"]

    out = tmp_path / "report"
    result = run_cli("compare", "sketch", run, tmp_path / "missing-run", "--data", pair_root, "--split", "val",
                     "--size", 32, "--epochs", "0,1,2", "--out", out)
    assert result.returncode == 1 and "missing-run" in result.stderr  # a wrong method is an error up front

    result = run_cli("compare", "sketch", run, "--data", pair_root, "--split", "val", "--size", 32,
                     "--epochs", "0,1,2", "--out", out, "--grid-count", 3)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((out / "table.csv").open()))
    assert [r["method"] for r in rows] == ["sketch", "run"] and all(r["n"] == "4" for r in rows)
    assert rows[0]["fid"] == "" and float(rows[0]["line_f1_mean"]) == 1.0
    assert float(rows[1]["seconds_per_image"]) > 0
    per_image = list(csv.DictReader((out / "per_image.csv").open()))  # each method's score on each image
    assert [(r["method"], r["image"]) for r in per_image] == [
        (method, path.name) for method in ("sketch", "run") for path in sorted((pair_root / "val").iterdir())]
    run_ssim = [float(r["ssim"]) for r in per_image if r["method"] == "run"]
    assert np.mean(run_ssim) == pytest.approx(float(rows[1]["ssim_mean"]), abs=1e-5)
    differences = np.subtract(run_ssim, [float(r["ssim"]) for r in per_image if r["method"] == "sketch"])
    paired = list(csv.DictReader((out / "paired.csv").open()))  # the last method against each other one
    assert [(r["method"], r["against"], r["metric"]) for r in paired] == [
        ("run", "sketch", metric) for metric in ("ssim", "psnr", "ciede2000", "line_f1")]
    assert float(paired[0]["mean_difference"]) == pytest.approx(differences.mean(), abs=1e-5)
    needed = pairs_to_resolve(mean_ci(differences.tolist()))
    assert paired[0]["pairs_to_resolve"] == ("" if needed is None else str(needed))
    line_f1 = paired[-1]  # the sketch's own lines score 1, so the run can only tie or trail
    assert float(line_f1["mean_difference"]) <= 0 and line_f1["better_on"] == "0" and line_f1["n"] == "4"
    assert "| sketch | SSIM |" in (out / "paired.md").read_text()
    table = (out / "table.md").read_text()
    assert "| sketch | n/a [1] |" in table and "[1] FID needs pt_inception" in table
    # two runs of one name are told apart by their folders; the same one twice is refused
    shutil.copytree(run, tmp_path / "copy" / "run")
    result = run_cli("compare", run, tmp_path / "copy" / "run", "--data", pair_root, "--split", "val", "--size", 32,
                     "--out", tmp_path / "twins")
    assert result.returncode == 0, result.stderr
    labels = [r["method"] for r in csv.DictReader((tmp_path / "twins" / "table.csv").open())]
    assert labels == [str(run / "latest"), str(tmp_path / "copy" / "run" / "latest")]
    twins = list(csv.DictReader((tmp_path / "twins" / "paired.csv").open()))
    assert len(twins) == 4 and all(r["against"] == labels[0] and r["verdict"] == "not resolved" for r in twins)
    result = run_cli("compare", "sketch", "sketch", "--data", pair_root, "--split", "val")
    assert result.returncode != 0 and "sketch given more than once" in result.stderr
    # columns: sketch, real, sketch, run e0, run e2 (epoch 1 was not kept), run; rows: 3 pairs + labels
    grid = Image.open(out / "grid.png")
    assert grid.width == 6 * 32 + 7 * 2 and grid.height > 3 * 32 + 4 * 2


def test_candidate_must_be_one_of_the_methods(tmp_path, pair_root):
    result = run_cli("compare", "sketch", "--data", pair_root, "--split", "val", "--candidate", "nst",
                     "--out", tmp_path / "report")
    assert result.returncode != 0 and "'nst' is not one of the METHODS given" in result.stderr
    assert not (tmp_path / "report").exists()  # refused before anything ran


def test_grid_count_zero_writes_the_tables_without_a_grid(tmp_path, pair_root):
    out = tmp_path / "report"
    result = run_cli("compare", "sketch", "--data", pair_root, "--split", "val", "--size", 32, "--grid-count", 0,
                     "--out", out)
    assert result.returncode == 0, result.stderr
    assert (out / "table.csv").exists() and (out / "per_image.csv").exists() and not (out / "grid.png").exists()
    result = run_cli("compare", "sketch", "--data", pair_root, "--split", "val", "--grid-count", -1,
                     "--out", tmp_path / "negative")
    assert result.returncode == 2 and "Traceback" not in result.stderr and "--grid-count" in result.stderr


def test_paired_differences_tell_a_real_gap_from_noise():
    rng = np.random.default_rng(0)
    pages = rng.uniform(0.3, 0.9, 40)  # some pages are harder than others for every method
    noise = rng.normal(0, 0.01, 40)
    floor = {"ssim": pages, "psnr": 10 + 10 * pages, "ciede2000": 30 - 20 * pages, "line_f1": np.ones(40)}
    model = {"ssim": pages + 0.02 + noise,  # a small gap, far below the spread between pages
             "psnr": 10 + 10 * pages + noise,  # no gap at all
             "ciede2000": 30 - 20 * pages - 0.5 + noise,  # lower is better: ahead
             "line_f1": np.full(40, 0.9)}
    rows = [{"method": "floor", "evaluation": Evaluation({}, None, floor)},
            {"method": "model", "evaluation": Evaluation({}, None, model)},
            {"method": "nst", "missing": "no VGG19 weights"}]
    verdicts = {d.metric: d for d in paired_differences(rows, "model")}
    assert all(d.other == "floor" for d in verdicts.values())
    assert verdicts["ssim"].verdict == "ahead" and verdicts["ssim"].difference.mean == pytest.approx(0.02 + noise.mean())
    assert verdicts["psnr"].verdict == "not resolved"
    assert verdicts["ciede2000"].verdict == "ahead" and verdicts["ciede2000"].better_on == 40
    assert verdicts["line_f1"].verdict == "behind" and verdicts["line_f1"].better_on == 0
    # unpaired, the same SSIM gap is lost in the spread between pages
    assert abs(model["ssim"].mean() - pages.mean()) < np.std(pages) / np.sqrt(40)
    assert [d.verdict for d in paired_differences(rows, "floor")][:3] == ["behind", "not resolved", "behind"]
    # the resolved gap needed fewer pages than it had; the noise-sized one would need more
    assert verdicts["ssim"].pairs_to_resolve <= 40 < verdicts["psnr"].pairs_to_resolve


def test_pairs_to_resolve_gives_the_power_it_promises():
    # Cohen's tables for the one-sample t test at 95%, power 0.8: d = 0.8, 0.5, 0.2
    assert [pairs_to_resolve(Estimate(10, d, 0, 0, 1.0)) for d in (0.8, 0.5, -0.2)] == [15, 34, 199]
    assert pairs_to_resolve(Estimate(10, 5.0, 0, 0, 1.0)) == 3  # a gap 5 spreads wide: 2 pairs are not enough
    assert pairs_to_resolve(Estimate(10, 0.001, 0, 0, 1.0)) == 7848880  # ((1.96 + 0.84) / 0.001)^2, at once
    # simulated: at the size it names, about 4 test sets in 5 resolve the gap; at half that size, far fewer
    rng = np.random.default_rng(0)
    n = pairs_to_resolve(Estimate(10, 0.3, 0, 0, 1.0))

    def resolved_share(pairs: int) -> float:
        draws = rng.normal(0.3, 1.0, (20000, pairs))
        half = scipy_t.ppf(0.975, pairs - 1) * draws.std(axis=1, ddof=1) / np.sqrt(pairs)
        return float(np.mean(np.abs(draws.mean(axis=1)) > half))

    assert 0.78 < resolved_share(n) < 0.83 and resolved_share(n // 2) < 0.6
    assert pairs_to_resolve(mean_ci([1.0, 1.0, 1.0])) == 2  # no spread: the gap shows at once
    assert pairs_to_resolve(mean_ci([1.0, -1.0])) is None and pairs_to_resolve(mean_ci([4.0])) is None


def test_list_config_values_are_checked():
    from sketchcolor.errors import SketchcolorError

    assert load_config("tiny", ["train.keep_epochs=[1, 5]"]).train.keep_epochs == [1, 5]
    with pytest.raises(SketchcolorError, match=r"train.keep_epochs\[1\] must be int"):
        load_config("tiny", ["train.keep_epochs=[1, late]"])


def write_per_image_csv(path, scores: dict[str, dict[str, np.ndarray]], start: int) -> None:
    """A compare report's per_image.csv for the given methods' scores on pages start, start + 1, ..."""
    from sketchcolor.evaluation.evaluate import LINE_METRICS, PER_IMAGE

    path.parent.mkdir(parents=True, exist_ok=True)
    metrics = [*PER_IMAGE, *LINE_METRICS]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "image", *metrics])
        for method, values in scores.items():
            for i in range(len(values["ciede2000"])):
                writer.writerow([method, f"page{start + i}.png", *(values[m][i] if m in values else 1.0
                                                                  for m in metrics)])


def test_pool_pairs_pages_across_reports_and_settles_what_each_alone_cannot(tmp_path):
    rng = np.random.default_rng(1)
    for index, (start, count) in enumerate([(0, 12), (100, 30)]):
        pages = rng.uniform(10, 30, count)
        floor = {"ciede2000": pages, "ssim": rng.uniform(0.5, 0.9, count), "psnr": np.full(count, 12.0)}
        model = {"ciede2000": pages - 0.3 + rng.normal(0, 0.6, count), "ssim": floor["ssim"], "psnr": floor["psnr"]}
        write_per_image_csv(tmp_path / f"set{index}" / "per_image.csv", {"floor": floor, "model": model}, start)
    result = run_cli("pool", tmp_path / "set0", tmp_path / "set1", "--out", tmp_path / "pooled")
    assert result.returncode == 0, result.stderr
    rows = {row["metric"]: row for row in csv.DictReader(open(tmp_path / "pooled" / "paired.csv"))}
    assert rows["ciede2000"]["n"] == "42" and rows["ciede2000"]["against"] == "floor"
    assert rows["ciede2000"]["verdict"] == "ahead" and rows["ssim"]["verdict"] == "not resolved"
    from sketchcolor.evaluation.compare import differences_between
    from sketchcolor.evaluation.reports import read_per_image

    alone = differences_between(read_per_image([tmp_path / "set0" / "per_image.csv"]), "model")
    assert next(d for d in alone if d.metric == "ciede2000").verdict == "not resolved"  # 12 pages: too few
    # files whose methods scored different pages cannot be paired
    with open(tmp_path / "set1" / "per_image.csv", "a") as handle:
        handle.write("model,extra.png" + ",1" * 10 + "\n")
    bad = run_cli("pool", tmp_path / "set0", tmp_path / "set1", "--out", tmp_path / "pooled2")
    assert bad.returncode == 1 and "did not score the same images" in bad.stderr
