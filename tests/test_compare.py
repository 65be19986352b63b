"""`sketchcolor compare`: kept epochs, the table with its footnotes, and the labelled grid."""

import csv
import subprocess
import sys

from PIL import Image

from sketchcolor.config import load_config
from sketchcolor.train import Trainer


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "sketchcolor", *map(str, args)], capture_output=True, text=True)


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
    table = (out / "table.md").read_text()
    assert "| sketch | n/a [1] |" in table and "[1] FID needs pt_inception" in table
    # columns: sketch, real, sketch, run e0, run e2 (epoch 1 was not kept), run; rows: 3 pairs + labels
    grid = Image.open(out / "grid.png")
    assert grid.width == 6 * 32 + 7 * 2 and grid.height > 3 * 32 + 4 * 2


def test_list_config_values_are_checked():
    import pytest

    from sketchcolor.errors import SketchcolorError

    assert load_config("tiny", ["train.keep_epochs=[1, 5]"]).train.keep_epochs == [1, 5]
    with pytest.raises(SketchcolorError, match=r"train.keep_epochs\[1\] must be int"):
        load_config("tiny", ["train.keep_epochs=[1, late]"])
