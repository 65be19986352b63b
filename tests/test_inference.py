import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from sketchcolor import Colorizer
from sketchcolor.checkpoint import save_model
from sketchcolor.errors import SketchcolorError
from sketchcolor.models import build_generator
from sketchcolor.page import tile_region
from sketchcolor.tiling import colorize_tiled


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
    # clean=False: noise has no paper, and this is about the network's path, not the page's levels
    colorizer = Colorizer.from_pretrained(model_dir, device="cpu", lines="model", clean=False)
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


def test_tiles_cover_the_page_and_blend_without_seams():
    colorize_calls = []

    def constant(tiles):  # every tile is painted the same color: blending must not change it
        colorize_calls.append(len(tiles))
        return torch.full((len(tiles), 3, 16, 16), 0.25)

    region = tile_region(Image.new("L", (100, 40), 255), 16)  # longer side -> 2 x 16
    assert region.sketch.shape == (1, 16, 32) and tuple(vars(region.box).values()) == (1, 0, 13, 32)
    colors = colorize_tiled(constant, region.sketch, 16, batch_size=2)
    assert colors.shape == (3, 16, 32) and torch.allclose(colors, torch.tensor(0.25))
    assert sum(colorize_calls) == 3 and max(colorize_calls) <= 2  # offsets 0, 8, 16; batched by 2


def test_tiled_detail_gives_full_size_pages_with_lines_kept(model_dir):
    page = Image.new("L", (260, 90), 255)
    ImageDraw.Draw(page).line([(5, 45), (255, 45)], fill=0, width=1)
    colorizer = Colorizer.from_pretrained(model_dir, device="cpu", detail="tiles")
    kept = np.asarray(colorizer(page), dtype=np.int32)
    assert kept.shape == (90, 260, 3) and (kept[45, 5:255] == 0).all() and (kept[44] > 0).any()
    with pytest.raises(SketchcolorError, match="detail must be"):
        Colorizer.from_pretrained(model_dir, device="cpu", detail="fine")


def test_layers_recompose_into_the_composite(model_dir):
    page = Image.new("L", (70, 50), 255)
    ImageDraw.Draw(page).ellipse([10, 10, 60, 40], outline=40, width=2)
    layers = Colorizer.from_pretrained(model_dir, device="cpu").layers([page])[0]
    assert layers.flat.size == layers.lines.size == layers.composite.size == page.size
    flat = np.asarray(layers.flat, dtype=np.int32)
    gray = np.asarray(page, dtype=np.int32)[:, :, None]
    assert np.array_equal(np.asarray(layers.composite), (flat * gray // 255).astype(np.uint8))  # Pillow multiply
    ink = layers.line_art()
    assert ink.mode == "LA" and ink.getpixel((0, 0)) == (0, 0) and ink.getpixel((35, 10))[1] >= 200
    raw = Colorizer.from_pretrained(model_dir, device="cpu", lines="model").layers([page])[0]
    assert raw.flat is None and raw.composite.size == page.size


def test_a_model_that_paints_under_the_lines_shows_its_layer_with_them(tmp_path, tiny_config):
    config = tiny_config.with_overrides(["generator.output=flat"])
    torch.manual_seed(0)
    model = save_model(tmp_path / "flat", build_generator(config.generator), config)
    sketch = np.full((32, 32), 255, dtype=np.uint8)
    sketch[16, :] = 0
    page = Image.fromarray(sketch)
    raw = Colorizer.from_pretrained(model, device="cpu", lines="model")
    painted = raw.generator(torch.from_numpy(sketch).float()[None, None] / 127.5 - 1)[0]
    shown = torch.from_numpy(np.asarray(raw(page))).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.allclose(shown[:, 16], torch.full_like(shown[:, 16], -1.0))  # the line over the layer
    assert torch.allclose(shown[:, :16], painted[:, :16], atol=1 / 127.5 + 1e-6)  # paper shows the layer
    kept = np.asarray(Colorizer.from_pretrained(model, device="cpu")(page.resize((96, 96))))
    assert (kept[48:50] < 40).all() and kept.shape == (96, 96, 3)  # lines kept at the page's size


def test_smoothing_evens_out_the_flat_layer_inside_a_shape_and_can_be_turned_off(model_dir):
    page = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(page).rectangle([8, 8, 56, 56], outline=0, width=2)
    inside = (slice(14, 51), slice(14, 51))

    def flat_spread(smooth):
        colorizer = Colorizer.from_pretrained(model_dir, device="cpu", smooth=smooth)
        flat = np.asarray(colorizer.layers([page])[0].flat, dtype=np.float64)
        return flat[inside].std(axis=(0, 1)).mean()

    assert flat_spread(256) < flat_spread(0) / 3  # a random network's noise, evened out
    with pytest.raises(SketchcolorError, match="smooth must be"):
        Colorizer.from_pretrained(model_dir, device="cpu", smooth=-1)


def test_a_pipelined_folder_gives_the_pages_one_at_a_time_would_and_reports_each_failure(model_dir, tmp_path):
    # Three batches of two: pages are read ahead, composed on threads and written behind the
    # network. A broken page (first and last batch) and a page whose output cannot be written
    # are reported by name; every other page is exactly what colorizing it alone gives.
    from sketchcolor.colorize_files import colorize_paths

    pages = tmp_path / "pages"
    pages.mkdir()
    for index in range(6):
        page = Image.new("L", (40 + 8 * index, 48), 255)
        ImageDraw.Draw(page).ellipse([4, 4, 30 + 4 * index, 40], outline=20, width=2)
        page.save(pages / f"p{index}.png")
    for broken in ("p0.png", "p5.png"):
        (pages / broken).write_bytes(b"not an image")
    out = tmp_path / "out"
    (out / "p3.png").mkdir(parents=True)  # a folder where p3's output should go: that write fails
    colorizer = Colorizer.from_pretrained(model_dir, device="cpu", backend="torch", batch_size=2)
    paths = sorted(pages.iterdir())
    threads = torch.get_num_threads()
    written, failed = colorize_paths(colorizer, paths, out, progress=False)
    assert torch.get_num_threads() == threads  # one thread per op in the pipeline, given back after
    assert written == 3 and sorted(path.name for path in failed) == ["p0.png", "p3.png", "p5.png"]
    for name in ("p1.png", "p2.png", "p4.png"):
        alone = colorizer(Image.open(pages / name))
        assert np.array_equal(np.asarray(Image.open(out / name)), np.asarray(alone)), name
