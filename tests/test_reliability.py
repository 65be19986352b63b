"""Every command that reads files meets the malformed-input corpus (corpus.py): one `error:` line
per bad item naming it, never a traceback, a non-zero exit, and the valid items still done.
Also the regressions found by trying the tool as a careless user and an attacker would."""

from __future__ import annotations

import errno
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli, write_pairs
from corpus import BAD_CONFIGS, BAD_OVERRIDES, config_corpus, hint_corpus, image_corpus, model_corpus, random_hint_model, sketch
from PIL import Image

from sketchcolor.checkpoint import save_model
from sketchcolor.config import load_config
from sketchcolor.errors import SketchcolorError
from sketchcolor.imageio import IMAGE_SUFFIXES
from sketchcolor.models import build_generator

ROOT = Path(__file__).resolve().parents[1]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_clean_failure(result, *names: str) -> None:
    """Exit 1, no traceback, and an error line naming each of `names`."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, (result.returncode, result.stderr)
    errors = error_lines(result.stderr)
    for name in names:
        assert any(name in line for line in errors), (name, errors)


@pytest.fixture
def hint_model(tmp_path: Path) -> Path:
    return random_hint_model(tmp_path)


def test_colorize_refuses_each_bad_page_by_name_and_colorizes_the_odd_valid_ones(tmp_path, model_dir):
    items = image_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    result = run_cli("colorize", *[item.path for item in items], "-o", out, "--model", model_dir, "--batch-size", 3)
    bad = [item for item in items if not item.valid]
    assert_clean_failure(result, *[item.path.name for item in bad])
    assert len(error_lines(result.stderr)) == len(bad)
    for item in items:
        assert (out / f"{item.path.stem}.png").is_file() == item.valid, item.name
    assert f"colorized {len(items) - len(bad)} of {len(items)}" in result.stdout
    # Pages in unusual modes keep their drawing: a 0-1 float TIFF is not black, 16-bit not white.
    for name in ("float", "sixteen-bit", "cmyk"):
        gray = np.asarray(Image.open(out / f"{name}.png").convert("L"), dtype=np.float32)
        assert 60 < gray.mean() < 250 and gray.min() < 100, (name, gray.mean(), gray.min())
    # A 1x1 and a 2000x7 page come back at their own size.
    assert Image.open(out / "one-pixel.png").size == (1, 1)
    assert Image.open(out / "strip.png").size == (2000, 7)


def test_colorize_refuses_each_bad_hint_file_by_name_and_keeps_the_rest(tmp_path, hint_model):
    hints = hint_corpus(tmp_path / "hints")
    pages = tmp_path / "pages"
    pages.mkdir()
    for item in hints:  # one page per hint file, matched by name as a hints folder is
        stem = item.path.name.split(".")[0]
        sketch().save(pages / f"{stem}.png")
    out = tmp_path / "out"
    result = run_cli("colorize", pages, "-o", out, "--model", hint_model, "--hints", tmp_path / "hints")
    bad = [item for item in hints if not item.valid]
    assert_clean_failure(result, *[item.path.name for item in bad])
    assert len(error_lines(result.stderr)) == len(bad)
    assert sorted(p.name for p in out.iterdir()) == ["hints-empty.png"]


def test_every_broken_model_directory_is_refused_by_name(tmp_path, model_dir):
    from sketchcolor.checkpoint import load_model

    items = model_corpus(tmp_path / "models", model_dir)
    for item in items:  # what every command loads a model with
        with pytest.raises(SketchcolorError, match=str(item.path)):
            load_model(item.path)
    page = tmp_path / "page.png"
    sketch().save(page)
    result = run_cli("export", "model", "--model", items[0].path, "--out", tmp_path / "exported")
    assert_clean_failure(result, str(items[0].path))
    assert not (tmp_path / "exported").exists()
    other = tmp_path / "models" / "config-other-architecture"
    result = run_cli("colorize", page, "-o", tmp_path / "out", "--model", other, "--backend", "onnx")
    assert_clean_failure(result, "does not fit the generator")


@pytest.mark.parametrize("name", BAD_CONFIGS)
def test_every_bad_config_file_is_refused_by_name(tmp_path, name):
    item = next(item for item in config_corpus(tmp_path) if item.name == name)
    with pytest.raises(SketchcolorError, match=item.path.name):
        load_config(item.path)


@pytest.mark.parametrize("override", BAD_OVERRIDES)
def test_every_bad_set_value_is_refused(override):
    with pytest.raises(SketchcolorError, match=override.partition("=")[0].split(".")[-1]):
        load_config("tiny", [override])


def test_train_refuses_bad_settings_and_unusable_folders_in_one_line(tmp_path, pair_root):
    # Each train process takes seconds to start: two cases here, the rest of the configs and
    # values in-process above (the command line turns every SketchcolorError into one line).
    cases = {"batch_size": ["--config", "tiny", "--data", pair_root, "--set", "train.batch_size=0"]}
    all_bad = tmp_path / "all-bad"
    (all_bad / "train").mkdir(parents=True)
    for item in image_corpus(tmp_path / "corpus"):
        if item.uploadable and not item.valid:
            shutil.copy(item.path, all_bad / "train" / item.path.name)
    cases["no usable image pairs"] = ["--config", "tiny", "--data", all_bad]
    for expected, args in cases.items():
        result = run_cli("train", *args, "--out", tmp_path / "run", "--set", "train.max_steps=1")
        assert_clean_failure(result, str(expected))
        assert not (tmp_path / "run" / "state").exists()


def test_training_skips_bad_files_by_name_and_trains_on_the_rest(tmp_path):
    data = tmp_path / "data"
    write_pairs(data / "train", 8)
    write_pairs(data / "val", 2, start=50)
    corpus = image_corpus(tmp_path / "corpus")
    for item in corpus:
        if item.uploadable:
            shutil.copy(item.path, data / "train" / item.path.name)
    result = run_cli("train", "--config", "tiny", "--data", data, "--out", tmp_path / "run", "--set", "train.max_steps=2",
                     "--set", f"data.cache_dir={tmp_path / 'cache'}")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "RuntimeWarning" not in result.stderr  # a 1x1 pair is refused before it is split
    assert "one-pixel.png" in result.stderr and "zero-byte.png" in result.stderr
    assert json.loads((tmp_path / "run" / "state" / "state.json").read_text())["counters"]["step"] == 2


def test_evaluate_and_compare_score_the_readable_pairs_and_name_the_rest(tmp_path, model_dir):
    data = tmp_path / "data"
    write_pairs(data / "test", 3)
    bad = [item for item in image_corpus(tmp_path / "corpus")
           if not item.valid and item.uploadable and item.path.suffix in IMAGE_SUFFIXES]  # a folder lists images
    for item in bad:
        shutil.copy(item.path, data / "test" / item.path.name)
    result = run_cli("evaluate", "--model", model_dir, "--data", data, "--out", tmp_path / "report")
    assert_clean_failure(result, *[item.path.name for item in bad])
    report = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert (report["n"], report["skipped"]) == (3, len(bad))
    result = run_cli("compare", "sketch", str(model_dir), "--data", data, "--out", tmp_path / "compared")
    assert_clean_failure(result, *[item.path.name for item in bad])
    assert (tmp_path / "compared" / "table.md").is_file()


def test_sketchify_draws_the_readable_images_and_names_the_rest(tmp_path):
    colors = tmp_path / "colors"
    write_pairs(colors, 2)
    items = [item for item in image_corpus(tmp_path / "corpus") if item.uploadable]
    for item in items:
        shutil.copy(item.path, colors / item.path.name)
    result = run_cli("data", "sketchify", colors, "--out", tmp_path / "pairs")
    assert "Traceback" not in result.stderr and result.returncode == 1, result.stderr
    unreadable = [item for item in items if not item.valid and item.path.suffix in (".png", ".jpg")]
    for item in unreadable:
        assert item.path.name in result.stderr, item.name
    assert len(list((tmp_path / "pairs").rglob("*.png"))) >= 2


def test_data_split_and_study_create_pass_over_bad_files_by_name(tmp_path):
    folder = tmp_path / "in"
    write_pairs(folder, 2)
    bad = [item for item in image_corpus(tmp_path / "corpus")
           if item.name in ("zero-byte", "truncated-png", "1x1", "bomb-header")]
    for item in bad:
        shutil.copy(item.path, folder / item.path.name)
    result = run_cli("data", "split", folder, "--out", tmp_path / "split")
    assert_clean_failure(result, *[item.path.name for item in bad])
    assert sorted(p.name for p in (tmp_path / "split" / "color").iterdir()) == ["pair_000.png", "pair_001.png"]
    db = tmp_path / "study.sqlite"
    result = run_cli("study", "create", "--sketches", folder, "--method", "a=bundled", "--db", db, "--n", 10,
                     "--device", "cpu")
    assert "Traceback" not in result.stderr and result.returncode == 1, result.stderr
    assert "3 sketches" in result.stdout and db.is_file()  # the two pairs and the 1x1 image: a valid page


def test_same_output_names_are_refused_not_overwritten(tmp_path, model_dir):
    for folder, color in (("ch1", 0), ("ch2", 80)):
        (tmp_path / folder).mkdir()
        Image.new("L", (32, 32), color).save(tmp_path / folder / "001.png")
    sketch().save(tmp_path / "page.png")
    sketch().convert("RGB").save(tmp_path / "page.jpg")
    out = tmp_path / "out"
    result = run_cli("colorize", tmp_path / "ch1", tmp_path / "ch2", tmp_path / "page.png", tmp_path / "page.jpg",
                     "-o", out, "--model", model_dir)
    assert_clean_failure(result, str(tmp_path / "ch2" / "001.png"), str(tmp_path / "page.jpg"))
    assert sorted(p.name for p in out.iterdir()) == ["001.png", "page.png"]
    assert "colorized 2 of 4" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--batch-size", "0"], "--batch-size"), (["--batch-size", "-1"], "--batch-size"),
    (["--device", "bogus"], "bogus"), (["-o", "{file}"], "is a file"),
])
def test_bad_colorize_options_are_refused_before_any_work(tmp_path, model_dir, args, message):
    existing = tmp_path / "existing.png"
    sketch().save(existing)
    args = [a.replace("{file}", str(existing)) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "out")]
    result = run_cli("colorize", existing, "--model", model_dir, *args)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_full_disk_loses_only_the_page_being_written(tmp_path, model_dir, monkeypatch):
    from sketchcolor.colorize_files import colorize_paths
    from sketchcolor.inference import Colorizer

    pages = []
    for index in range(3):
        pages.append(tmp_path / f"p{index}.png")
        sketch().save(pages[-1])
    real_save = Image.Image.save

    def save_until_full(image, target, *args, **kwargs):
        if "p1.png" in Path(target).name:  # its temporary sibling, .p1.png.tmpPID
            Path(target).write_bytes(b"\x89PNG half")  # what a full disk leaves mid-write
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        return real_save(image, target, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save_until_full)
    out = tmp_path / "out"
    written, failed = colorize_paths(Colorizer.from_pretrained(model_dir, batch_size=2), pages, out)
    assert (written, failed) == (2, [pages[1]])
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p2.png"]  # no half-written p1.png


def test_a_full_disk_while_saving_keeps_the_previous_checkpoint(tmp_path, tiny_config, monkeypatch):
    from sketchcolor import checkpoint

    generator = build_generator(tiny_config.generator)
    model = save_model(tmp_path / "model", generator, tiny_config, epoch=1)
    before = {p.name: p.read_bytes() for p in model.iterdir()}

    def full_disk(tensors, filename, *args, **kwargs):
        Path(filename).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", full_disk)
    with pytest.raises(SketchcolorError, match="No space left on device.*previous one is kept"):
        save_model(model, generator, tiny_config, epoch=2)
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before
    assert sorted(p.name for p in model.parent.iterdir()) == ["model"]  # no temporary folder left


def test_weights_are_written_readable_like_every_other_output(tmp_path, tiny_config):
    model = save_model(tmp_path / "model", build_generator(tiny_config.generator), tiny_config)
    modes = {p.name: p.stat().st_mode & 0o777 for p in model.iterdir()}
    assert modes["generator.safetensors"] == modes["config.json"], modes


def test_resume_refuses_an_empty_or_mismatched_state(tmp_path, pair_root, tiny_config):
    from sketchcolor.train import Trainer

    run = tmp_path / "run"
    Trainer(tiny_config.with_overrides(["train.max_steps=1"]), run, pair_root).fit()
    with pytest.raises(SketchcolorError, match="the saved generator does not fit this run's config"):
        Trainer(tiny_config.with_overrides(["generator.ngf=16"]), run, pair_root).resume()
    (run / "state" / "state.json").write_text("{}")
    with pytest.raises(SketchcolorError, match="the training state lacks"):
        Trainer(tiny_config, run, pair_root).resume()


def test_resume_drops_a_torn_log_line_and_steps_a_killed_run_never_saved(tmp_path, pair_root, tiny_config):
    from sketchcolor.train import Trainer

    run = tmp_path / "run"
    Trainer(tiny_config.with_overrides(["train.max_steps=2"]), run, pair_root).fit()
    with (run / "log.jsonl").open("a") as log:  # a kill mid-line, after steps past the checkpoint
        log.write(json.dumps({"step": 3, "g/total": 1.0}) + "\n" + '{"step": 4, "g/to')
    (run / "metrics.jsonl").open("a").write('{"step": 9, "ep')
    resumed = Trainer(tiny_config.with_overrides(["train.max_steps=3"]), run, pair_root)
    assert resumed.resume()
    resumed.fit()
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert [s for s in steps if s > 2] == [3], steps  # the step retrained once, the torn line gone
    assert "ep" not in (run / "metrics.jsonl").read_text()
    # A run killed before its first checkpoint starts over without its old lines.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "log.jsonl").write_text(json.dumps({"step": 1, "g/total": 9.0}) + "\n")
    again = Trainer(tiny_config.with_overrides(["train.max_steps=1"]), fresh, pair_root)
    assert not again.resume()
    again.fit()
    (line,) = (fresh / "log.jsonl").read_text().splitlines()
    assert json.loads(line)["g/total"] != 9.0


def test_a_training_run_survives_kills_with_identical_final_weights(tmp_path):
    """A short kill-and-resume soak (benchmarks/kill_resume.py): SIGKILLs at a random step and in
    the middle of a checkpoint write, each resumed; the end state equals an uninterrupted run's."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from kill_resume import draw_data, soak

    result = soak(draw_data(tmp_path / "data", 16), tmp_path, kills=2, steps=12, save_every=4)
    assert result["kills_done"] == 2, result
    assert result["resumes_ok"] and result["final_equal"] and result["log_steps_once"], result
    assert result["max_steps_lost"] <= 4, result
