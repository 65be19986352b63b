"""End to end through the console script, as a user runs it."""

import numpy as np
from conftest import run_cli
from PIL import Image


def test_train_then_colorize_a_folder(pair_root, tmp_path):
    run = tmp_path / "run"
    from conftest import write_pairs

    write_pairs(tmp_path / "extra" / "train", 3, start=50)  # a second, small set mixed in
    trained = run_cli("train", "--config", "tiny", "--data", pair_root, "--data", f"{tmp_path / 'extra'}@2",
                      "--out", run, "--set", "train.max_steps=2", "--set", f"data.cache_dir={tmp_path / 'cache'}")
    assert trained.returncode == 0, trained.stderr
    assert "step 2" in trained.stdout and (run / "latest" / "generator.safetensors").is_file()

    resumed = run_cli("train", "--data", pair_root, "--out", run, "--resume",
                      "--set", "train.max_steps=3")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stderr and "step 3" in resumed.stdout

    sketches = tmp_path / "sketches"
    sketches.mkdir()
    Image.new("L", (40, 70), 255).save(sketches / "a.png")
    Image.new("RGBA", (90, 30)).save(sketches / "b.webp")
    (sketches / "broken.png").write_bytes(b"no image here")
    out = tmp_path / "out"
    result = run_cli("colorize", sketches, tmp_path / "missing.png", "-o", out, "--model", run)
    assert result.returncode == 1
    assert "broken.png" in result.stderr and "missing.png" in result.stderr
    assert "Traceback" not in result.stderr
    assert Image.open(out / "a.png").size == (40, 70) and Image.open(out / "b.png").size == (90, 30)
    assert Image.open(out / "a.png").mode == "RGB"
    assert not (out / "broken.png").exists()

    layered = run_cli("colorize", sketches / "a.png", "-o", tmp_path / "layers", "--model", run,
                      "--layers", "--detail", "tiles")
    assert layered.returncode == 0, layered.stderr
    names = sorted(p.name for p in (tmp_path / "layers").iterdir())
    assert names == ["a.flat.png", "a.lines-alpha.png", "a.lines.png", "a.png"]
    assert Image.open(tmp_path / "layers" / "a.lines-alpha.png").mode == "LA"
    refused = run_cli("colorize", sketches / "a.png", "-o", tmp_path / "x", "--layers", "--lines", "model")
    assert refused.returncode != 0 and "--layers needs --lines keep" in refused.stderr

    exported = run_cli("export", "model", "--model", run, "--out", tmp_path / "export", "--half")
    assert exported.returncode == 0, exported.stderr
    from sketchcolor.checkpoint import load_model

    generator, config, info = load_model(tmp_path / "export")
    assert config.generator.ngf == 8 and info["step"] >= 2


def test_expected_failures_are_one_line(tmp_path):
    cases = [
        ("train", "--config", "tiny", "--data", tmp_path / "nowhere", "--out", tmp_path / "r"),
        ("train", "--config", "tiny", "--data", tmp_path, "--out", tmp_path / "r", "--set", "train.lr=fast"),
        ("colorize", tmp_path, "-o", tmp_path / "o", "--model", tmp_path / "no-model"),
        ("train", "--config", "tiny", "--data", f"{tmp_path / 'nowhere'}@0", "--out", tmp_path / "r"),
    ]
    for args in cases:
        result = run_cli(*args)
        assert result.returncode == 1, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


def test_bundled_model_colorizes_the_example(tmp_path):
    from sketchcolor.checkpoint import DEFAULT_MODEL

    example = DEFAULT_MODEL.parent.parent / "examples" / "sketch.png"
    result = run_cli("colorize", example, "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    colored = np.asarray(Image.open(tmp_path / "sketch.png"), dtype=np.float32)
    assert colored.shape[:2] == Image.open(example).size[::-1]
    saturation = colored.max(axis=2) - colored.min(axis=2)
    assert saturation.mean() > 10  # a trained model adds color; a gray copy would be ~0
    as_painted = run_cli("colorize", example, "-o", tmp_path / "raw", "--smooth", "0")
    assert as_painted.returncode == 0, as_painted.stderr
    raw = np.asarray(Image.open(tmp_path / "raw" / "sketch.png"), dtype=np.float32)
    assert np.abs(raw - colored).mean() > 0.5  # --smooth reaches the colors
    refused = run_cli("colorize", example, "-o", tmp_path / "no", "--smooth", "-1")
    assert refused.returncode != 0 and "--smooth" in refused.stderr and "Traceback" not in refused.stderr


def test_sketchify_writes_pairs_and_reports_bad_files(tmp_path):
    from conftest import draw_pair

    source = tmp_path / "art"
    source.mkdir()
    for index in range(2):
        draw_pair(index)[1].save(source / f"art{index}.png")
    (source / "bad.png").write_bytes(b"nope")
    result = run_cli("data", "sketchify", source, "--out", tmp_path / "pairs")
    assert result.returncode == 1 and "bad.png" in result.stderr and "Traceback" not in result.stderr
    pairs = sorted((tmp_path / "pairs").iterdir())
    assert [p.name for p in pairs] == ["art0.png", "art1.png"]
    assert Image.open(pairs[0]).size == (128, 64)


def test_data_split_writes_sketch_and_color_halves(pair_root, tmp_path):
    (pair_root / "train" / "broken.png").write_bytes(b"nope")
    result = run_cli("data", "split", pair_root / "train", "--out", tmp_path / "halves")
    assert result.returncode == 1 and "broken.png" in result.stderr and "split 16 of 17" in result.stdout
    sketch = Image.open(tmp_path / "halves" / "sketch" / "pair_000.png")
    color = Image.open(tmp_path / "halves" / "color" / "pair_000.png")
    assert sketch.mode == "L" and color.mode == "RGB" and sketch.size == color.size == (64, 64)
    assert np.asarray(color.convert("HSV"))[:, :, 1].mean() > np.asarray(sketch.convert("RGB").convert("HSV"))[:, :, 1].mean()
