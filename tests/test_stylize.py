"""Neural Style Transfer: local weights only, the VGG19 feature shapes, the optimisation, the style rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import draw_pair, run_cli
from PIL import Image

from sketchcolor.data import find_pairs
from sketchcolor.data.sources import colored_fraction, load_pair
from sketchcolor.errors import SketchcolorError
from sketchcolor.imageio import to_tensor
from sketchcolor.baselines.style_transfer import (
    CONTENT_LAYER,
    STYLE_LAYERS,
    VGG_WEIGHTS_ENV,
    VGG_WEIGHTS_NAME,
    StyleTransfer,
    StyleTransferConfig,
    VGGFeatures,
    find_vgg_weights,
    load_vgg_features,
    missing_vgg_message,
    style_content_loss,
    style_pool_from_pairs,
    stylize,
)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random VGG19 in the real file's format, classifier keys included (they must be ignored)."""
    state = VGGFeatures.random_state_dict()
    state["classifier.6.weight"] = torch.zeros(10, 4)
    path = tmp_path_factory.mktemp("vgg") / "random_vgg19.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def features(weights_file: Path) -> VGGFeatures:
    return load_vgg_features(weights_file)


def sketch_and_style(seed: int = 0, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """A (1, 1, size, size) sketch and another drawing's colors as its (1, 3, size, size) style."""
    sketch, _ = draw_pair(seed, size)
    _, color = draw_pair(seed + 1, size)
    return to_tensor(sketch, 1)[None], to_tensor(color, 3)[None]


def test_missing_weights_is_one_line_naming_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(VGG_WEIGHTS_ENV, raising=False)
    assert find_vgg_weights() is None
    with pytest.raises(SketchcolorError) as error:
        load_vgg_features()
    message = str(error.value)
    assert message == missing_vgg_message() and "\n" not in message
    for part in (VGG_WEIGHTS_NAME, str(tmp_path / "hub" / "checkpoints"), "--vgg-weights", VGG_WEIGHTS_ENV):
        assert part in message


def test_find_vgg_weights_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(VGG_WEIGHTS_ENV, raising=False)
    hub = tmp_path / "torch" / "hub" / "checkpoints" / VGG_WEIGHTS_NAME
    hub.parent.mkdir(parents=True)
    hub.write_bytes(b"hub")
    assert find_vgg_weights() == hub
    from_env, explicit = tmp_path / "env.pth", tmp_path / "explicit.pth"
    from_env.write_bytes(b"env")
    explicit.write_bytes(b"explicit")
    monkeypatch.setenv(VGG_WEIGHTS_ENV, str(from_env))
    assert find_vgg_weights() == from_env
    assert find_vgg_weights(explicit) == explicit
    with pytest.raises(SketchcolorError, match="absent.pth"):
        find_vgg_weights(tmp_path / "absent.pth")
    monkeypatch.setenv(VGG_WEIGHTS_ENV, str(tmp_path / "gone.pth"))  # a typo is an error, not the hub file
    with pytest.raises(SketchcolorError, match=f"gone.pth.*{VGG_WEIGHTS_ENV}"):
        find_vgg_weights()


def test_features_from_a_weights_file(features: VGGFeatures, weights_file: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    features.train()  # must stay frozen and in eval
    assert not any(module.training for module in features.modules())
    assert not any(p.requires_grad for p in features.parameters())
    with torch.no_grad():
        maps = features(torch.zeros(2, 3, 32, 48))
    channels = {"conv1_1": 64, "conv2_1": 128, "conv3_1": 256, "conv4_1": 512, "conv5_1": 512, "conv4_2": 512}
    assert set(maps) == set(STYLE_LAYERS) | {CONTENT_LAYER} == set(channels)
    for name, count in channels.items():
        assert maps[name].shape[:2] == (2, count)
        assert torch.isfinite(maps[name]).all() and (maps[name] >= 0).all()  # ReLU outputs
    assert maps["conv1_1"].shape[2:] == (32, 48) and maps["conv5_1"].shape[2:] == (2, 3)
    monkeypatch.setenv(VGG_WEIGHTS_ENV, str(weights_file))  # the variable is honoured by the public loader
    reloaded = load_vgg_features()
    assert all(torch.equal(a, b) for a, b in zip(reloaded.state_dict().values(), features.state_dict().values()))


def test_features_reject_other_files(tmp_path: Path) -> None:
    wrong = tmp_path / "linear.pth"
    torch.save(torch.nn.Linear(4, 2).state_dict(), wrong)
    with pytest.raises(SketchcolorError, match="does not fit torchvision's VGG19") as error:
        VGGFeatures(wrong)
    assert "\n" not in str(error.value) and VGG_WEIGHTS_NAME in str(error.value)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(SketchcolorError, match="not a readable"):
        VGGFeatures(garbage)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_stylize_reduces_the_loss(features: VGGFeatures, optimizer: str) -> None:
    sketch, style = sketch_and_style()
    config = StyleTransferConfig(steps=15, optimizer=optimizer, lr=0.05, tv_weight=1e-3)
    start = style_content_loss(sketch.expand(-1, 3, -1, -1), sketch, style, features, config)
    out = stylize(sketch, style, features, config)
    end = style_content_loss(out, sketch, style, features, config)
    assert out.shape == (1, 3, 32, 32)
    assert out.min() >= -1 and out.max() <= 1
    assert end < 0.8 * start, (float(start), float(end))
    assert torch.equal(out, stylize(sketch, style, features, config))  # deterministic on CPU


def test_stylize_batches_images_independently(features: VGGFeatures) -> None:
    """Each image's result is the one it gets alone: L-BFGS is never shared across a batch."""
    first, second = sketch_and_style(0), sketch_and_style(5)
    config = StyleTransferConfig(steps=3)
    together = stylize(torch.cat([first[0], second[0]]), torch.cat([first[1], second[1]]), features, config)
    assert torch.allclose(together[1:], stylize(*second, features, config), atol=1e-5)


def test_initialisations(features: VGGFeatures) -> None:
    sketch, style = sketch_and_style()
    assert torch.equal(stylize(sketch, style, features, StyleTransferConfig(steps=0)), sketch.expand(-1, 3, -1, -1))
    noise = [stylize(sketch, style, features, StyleTransferConfig(steps=0, init="noise", seed=s)) for s in (0, 0, 1)]
    assert torch.equal(noise[0], noise[1]) and not torch.equal(noise[0], noise[2])
    with pytest.raises(SketchcolorError, match="optimizer"):
        StyleTransferConfig(optimizer="sgd")  # type: ignore[arg-type]


def style_pool(count: int) -> list[Image.Image]:
    return [Image.new("RGB", (20, 30), (25 * i, 255 - 25 * i, 100)) for i in range(count)]


def test_colorize_tensors_keeps_the_input_size(features: VGGFeatures) -> None:
    colorizer = StyleTransfer(features, StyleTransferConfig(steps=2, optimizer="adam", size=32), style_pool(3))
    assert colorizer.device == torch.device("cpu")
    sketches = torch.cat([to_tensor(draw_pair(i, 40)[0].resize((24, 40)), 1)[None] for i in range(2)])
    with torch.no_grad():  # as evaluate() calls it: the optimisation must still get gradients
        colors = colorizer.colorize_tensors(sketches)
    assert colors.shape == (2, 3, 40, 24)
    assert colors.min() >= -1 and colors.max() <= 1
    assert (colors - sketches).abs().max() > 0.01  # optimised, not the sketch copied through


def test_style_choice_follows_the_seeded_rule(features: VGGFeatures) -> None:
    pool, config = style_pool(10), StyleTransferConfig(steps=0, size=32)
    rng = np.random.default_rng(7)
    expected = [int(rng.integers(10)) for _ in range(3)]
    sketches = sketch_and_style()[0].expand(3, -1, -1, -1)
    at_once, in_parts = StyleTransfer(features, config, pool, seed=7), StyleTransfer(features, config, pool, seed=7)
    at_once.colorize_tensors(sketches)
    in_parts.colorize_tensors(sketches[:1])
    in_parts.colorize_tensors(sketches[1:])  # the count runs on across calls
    assert at_once.style_indices == in_parts.style_indices == expected
    same, other = StyleTransfer(features, config, pool, seed=7), StyleTransfer(features, config, pool, seed=8)
    draws = [[chooser.next_style_index() for _ in range(20)] for chooser in (same, other)]
    assert draws[0][:3] == expected and draws[0] != draws[1]
    with pytest.raises(SketchcolorError, match="at least one style image"):
        StyleTransfer(features, config, [])


def test_style_pool_from_the_train_split(pair_root: Path) -> None:
    pool = style_pool_from_pairs(pair_root, limit=5, max_side=None)
    train = find_pairs(pair_root / "train")
    assert len(pool) == 5
    for image, pair in zip(pool, train):
        assert image.mode == "RGB" and colored_fraction(image) > 0.05  # the color half, not the sketch
        assert np.array_equal(np.asarray(image), np.asarray(load_pair(pair)[1]))
    small = style_pool_from_pairs(pair_root, max_side=16)
    assert len(small) == 16 and max(small[0].size) == 16


def test_stylize_cli_writes_each_sketch_or_says_which_file_is_missing(tmp_path: Path, weights_file: Path) -> None:
    import os

    sketch, color = draw_pair(3, 40)
    sketch.resize((40, 24)).save(tmp_path / "sketch.png")
    color.save(tmp_path / "style.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "empty-hub")}
    env.pop(VGG_WEIGHTS_ENV, None)
    missing = run_cli("stylize", tmp_path / "sketch.png", "--style", tmp_path / "style.png", "-o", tmp_path / "out",
                      env=env)
    lines = missing.stderr.strip().splitlines()
    assert missing.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: ") and VGG_WEIGHTS_NAME in lines[0]
    done = run_cli("stylize", tmp_path / "sketch.png", tmp_path / "broken.png", "--style", tmp_path / "style.png",
                   "-o", tmp_path / "out", "--steps", 2, "--size", 32, "--vgg-weights", weights_file, env=env)
    assert done.returncode == 1 and "broken.png" in done.stderr and "stylized 1 of 2" in done.stdout
    assert Image.open(tmp_path / "out" / "sketch.png").size == (40, 24)


def test_compare_marks_nst_not_run_without_weights(tmp_path: Path, pair_root: Path) -> None:
    import os

    env = {**os.environ, "TORCH_HOME": str(tmp_path / "empty-hub")}
    env.pop(VGG_WEIGHTS_ENV, None)
    result = run_cli("compare", "sketch", "nst", "--data", pair_root, "--split", "val", "--size", 32,
                     "--out", tmp_path / "report", env=env)
    assert result.returncode == 0, result.stderr
    table = (tmp_path / "report" / "table.md").read_text()
    assert "| nst | n/a" in table and VGG_WEIGHTS_NAME in table and "| sketch |" in table
