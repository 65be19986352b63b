import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from sketchcolor import Colorizer
from sketchcolor.checkpoint import save_model
from sketchcolor.errors import SketchcolorError
from sketchcolor.models import build_generator


@pytest.fixture
def model_dir(tmp_path, tiny_config):
    torch.manual_seed(0)
    return save_model(tmp_path / "model", build_generator(tiny_config.generator), tiny_config)


def test_colorizer_returns_rgb_at_the_input_size(model_dir):
    colorizer = Colorizer.from_pretrained(model_dir, device="cpu")
    images = [Image.new("L", (50, 20), 255), Image.new("RGBA", (17, 33)), Image.new("P", (64, 64))]
    results = colorizer(images)
    assert [r.size for r in results] == [i.size for i in images]
    assert all(r.mode == "RGB" for r in results)
    single = colorizer(images[0])
    assert isinstance(single, Image.Image)
    assert np.array_equal(np.asarray(single), np.asarray(results[0]))  # batching changes nothing


def test_colorizer_matches_the_generator(model_dir, tiny_config):
    colorizer = Colorizer.from_pretrained(model_dir, device="cpu", lines="model")
    sketch = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8))
    expected = colorizer.generator(torch.from_numpy(np.array(sketch)).float()[None, None] / 127.5 - 1)
    got = torch.from_numpy(np.asarray(colorizer(sketch))).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.allclose(got, expected[0], atol=1 / 127.5 + 1e-6)


def test_a_run_folder_loads_its_latest_generator(tmp_path, model_dir):
    run = tmp_path / "run"
    model_dir.rename(run / "latest") if run.mkdir() is None else None
    assert Colorizer.from_pretrained(run, device="cpu").size == 32


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(SketchcolorError, match="does not exist"):
        Colorizer.from_pretrained(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SketchcolorError, match="not a model directory"):
        Colorizer.from_pretrained(tmp_path / "empty")


def test_kept_lines_are_exactly_the_sketch_lines_at_full_size(model_dir):
    page = Image.new("L", (300, 200), 255)
    ImageDraw.Draw(page).line([(10, 100), (290, 100)], fill=0, width=1)
    ImageDraw.Draw(page).line([(150, 10), (150, 190)], fill=90, width=1)
    kept = np.asarray(Colorizer.from_pretrained(model_dir, device="cpu")(page), dtype=np.int32)
    raw = np.asarray(Colorizer.from_pretrained(model_dir, device="cpu", lines="model")(page), dtype=np.int32)
    assert kept.shape == raw.shape == (200, 300, 3)
    assert (kept[100, 10:140] == 0).all()  # black ink stays black, one pixel wide
    assert (kept[10:95, 150] <= 90).all()  # gray ink darkens whatever is under it
    assert (kept[99] > 0).any() and (kept[101] > 0).any()  # ... and the line does not spread
    with pytest.raises(SketchcolorError, match="lines must be"):
        Colorizer.from_pretrained(model_dir, device="cpu", lines="thick")
