"""Numbers in the docs come from the results files: benchmarks/README.md's tables are generated
from benchmarks/results/*.json and must match them, and the benchmark accepts every preset."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from sketchcolor import benchmark
from sketchcolor.cli import benchmark as benchmark_command
from sketchcolor.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "tables.py"


def load_tables():
    spec = importlib.util.spec_from_file_location("benchmark_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_match_the_results():
    # As CI runs it: a results file changed without regenerating the README fails here.
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_tables_follow_a_changed_result(tmp_path, capsys):
    tables = load_tables()
    readme, results = tmp_path / "README.md", tmp_path / "results"
    shutil.copy(ROOT / "benchmarks" / "README.md", readme)
    shutil.copytree(ROOT / "benchmarks" / "results", results)
    path = results / "cpu-avx512-bf16-pix2pix-256.json"
    result = json.loads(path.read_text())
    result["train_images_per_s_bs4_fp32"] = 2.5
    result["train_images_per_s_bs4"] = 99.0  # the old headline's meaning: the table must not read it
    path.write_text(json.dumps(result))
    args = ["--readme", str(readme), "--results", str(results)]

    assert tables.main(["--check", *args]) == 1
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "differ" in message
    assert tables.main(args) == 0
    text = readme.read_text()
    assert "| training, batch 4, fp32 (the default) | 2.50 img/s |" in text
    assert "99.0" not in text
    assert f"{result['train_images_per_s_bs4_bf16'] / 2.5:.2f}x" in text
    assert tables.main(["--check", *args]) == 0


def test_readme_speed_ratios_are_the_tables():
    # README.md quotes a few ratios by hand; each must be one the generated tables give.
    tables = load_tables()
    generated = "".join(tables.cpu_tables(ROOT / "benchmarks" / "results", kind) for kind in tables.KINDS)
    quoted = re.findall(r"\b\d+\.\d\dx", (ROOT / "README.md").read_text())
    assert quoted
    assert [ratio for ratio in quoted if f"| {ratio} |" not in generated] == []


def test_benchmark_accepts_every_preset():
    option = next(param for param in benchmark_command.params if param.name == "preset")
    assert sorted(option.type.choices) == sorted(path.stem for path in (ROOT / "configs").glob("*.yaml"))


def test_training_headline_is_fp32(monkeypatch):
    # Fake step times (bf16 twice as fast) so that no network is trained.
    def timer(config, run_dir, size, repeats):
        return lambda batch: 0.5 if config.train.amp_on_cpu else 1.0

    monkeypatch.setattr(benchmark, "_train_step_timer", timer)
    monkeypatch.setattr(benchmark, "bf16_skip_reason", lambda: None)  # as on a CPU with native bf16
    result = benchmark.train_results(load_config("tiny"), 32, 1, probe=False)
    assert result["train_images_per_s_bs4"] == result["train_images_per_s_bs4_fp32"] == benchmark.TRAIN_BATCH
    assert result["train_images_per_s_bs4_bf16"] == 2 * benchmark.TRAIN_BATCH
