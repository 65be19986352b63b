"""Color hints: the file formats and their errors, the one drawing function, simulated hints,
the zero-initialised hint inputs, and hints through the Colorizer, the CLI, the API and
evaluation."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from conftest import draw_pair, run_cli, write_pairs
from sketchcolor.checkpoint import save_model
from sketchcolor.config import HintConfig
from sketchcolor.data import load_pages
from sketchcolor.errors import SketchcolorError
from sketchcolor.evaluation import HintPlan, evaluate
from sketchcolor.hints import (Hints, Mark, draw_hints, fill_hints, hint_layer, hints_image, parse_hints, read_hints,
                               rotate_hue, simulate_hints)
from sketchcolor.inference import Colorizer, PageOptions
from sketchcolor.models import build_generator
from sketchcolor.page import Box, fit_box
from sketchcolor.serve import create_app
from sketchcolor.serve.settings import Settings
from sketchcolor.train.state import with_hint_inputs

RED = {"units": "relative", "points": [{"x": 0.5, "y": 0.25, "color": "#e02020", "radius": 0.05}]}


@pytest.fixture
def hint_config(tiny_config):
    return dataclasses.replace(tiny_config, generator=dataclasses.replace(tiny_config.generator, hints=True))


@pytest.fixture
def hint_model(tmp_path, tiny_config, hint_config):
    """A tiny hint-capable model made as the bundled one is: a hint-less generator widened with
    zero weights, then its hint inputs set to random values so hints change its output."""
    torch.manual_seed(0)
    plain, widened = build_generator(tiny_config.generator), build_generator(hint_config.generator)
    widened.load_state_dict(with_hint_inputs(plain.state_dict(), widened.state_dict()))
    first = next(w for w in widened.parameters() if w.dim() == 4)
    with torch.no_grad():
        first[:, 1:] = torch.randn_like(first[:, 1:])
    return save_model(tmp_path / "hint-model", widened, hint_config)


# --- formats ---------------------------------------------------------------------------
@pytest.mark.parametrize("text, problem", [
    ("{not json", "not valid JSON"),
    ('["a list"]', "must be a JSON object"),
    ('{"units": "inches"}', "units must be one of"),
    ('{"points": [{"x": 1, "y": 2, "color": "#zzzzzz"}]}', "points[0].color"),
    ('{"points": [{"x": 1, "y": 2, "color": [300, 0, 0]}]}', "points[0].color"),
    ('{"points": [{"x": "1", "y": 2, "color": "red"}]}', "points[0].x must be a number"),
    ('{"points": [{"x": 1, "y": 2, "color": "red", "radius": -1}]}', "radius must not be negative"),
    ('{"strokes": [{"points": [[1, 2]], "color": "red"}]}', "strokes[0] must be"),
    ('{"dots": []}', "unknown key"),
])
def test_bad_hint_files_name_their_problem(text, problem):
    with pytest.raises(SketchcolorError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_hints(text)


def test_out_of_page_points_and_wrong_layer_sizes_are_refused(tmp_path):
    with pytest.raises(SketchcolorError, match=r"\(120, 5\) is outside the 100x80 page"):
        parse_hints({"points": [{"x": 120, "y": 5, "color": "red"}]}).check((100, 80))
    with pytest.raises(SketchcolorError, match="outside 0-1 coordinates"):
        parse_hints({"units": "relative", "strokes": [{"points": [[0, 0], [1.5, 0]], "color": "red"}]}).check((9, 9))
    path = tmp_path / "layer.png"
    Image.new("RGBA", (50, 50)).save(path)
    with pytest.raises(SketchcolorError, match="hint layer is 50x50 but the page is 60x50"):
        read_hints(path, (60, 50))
    Image.new("RGB", (50, 50)).save(path)
    with pytest.raises(SketchcolorError, match="no transparency"):
        read_hints(path)


def test_a_json_file_round_trips_and_units_agree():
    pixels = parse_hints({"units": "pixels", "points": [{"x": 50, "y": 20, "color": [200, 10, 10], "radius": 4}],
                          "strokes": [{"points": [[10, 70], [90, 70]], "color": "#0000ff", "width": 6}]})
    assert parse_hints(json.dumps(pixels.to_json())) == pixels
    relative = parse_hints({"units": "relative", "points": [{"x": 0.5, "y": 0.2, "color": [200, 10, 10], "radius": 0.04}],
                            "strokes": [{"points": [[0.1, 0.7], [0.9, 0.7]], "color": "#0000ff", "width": 0.06}]})
    box = Box(0, 0, 100, 100)
    assert torch.equal(draw_hints(pixels, (100, 100), box, (100, 100)), draw_hints(relative, (100, 100), box, (100, 100)))


# --- the network's view ----------------------------------------------------------------
def test_draw_hints_puts_each_color_where_the_page_puts_it():
    hints = parse_hints({"points": [{"x": 150, "y": 50, "color": "#ff0000", "radius": 10}]})
    box = fit_box(200, 100, 64)  # a wide page, letterboxed: 64 x 32 in the middle of 64 x 64
    channels = draw_hints(hints, (200, 100), box, (64, 64))
    assert channels.shape == (4, 64, 64)
    ys, xs = torch.nonzero(channels[3], as_tuple=True)
    assert abs(xs.float().mean().item() - 47.5) < 1 and abs(ys.float().mean().item() - 31.5) < 1
    assert torch.equal(channels[:3, ys, xs], torch.tensor([[1.0], [-1.0], [-1.0]]).expand(3, len(xs)))
    assert channels[:3][:, channels[3] == 0].abs().max() == 0  # no color where there is no hint
    tiny = parse_hints({"points": [{"x": 10, "y": 10, "color": "red", "radius": 0.1}]})
    assert draw_hints(tiny, (2000, 2000), fit_box(2000, 2000, 64), (64, 64))[3].sum() == 1  # never lost to scale


def test_a_hints_color_spreads_through_the_paper_but_not_across_lines():
    sketch = torch.ones(1, 32, 32)
    sketch[:, :, 16] = -1  # a vertical line down the middle
    hints = parse_hints({"points": [{"x": 10.5, "y": 16.5, "color": "#00ff00", "radius": 0.5}]})
    channels = draw_hints(hints, (32, 32), Box(0, 0, 32, 32), (32, 32), sketch=sketch, reach=8)
    reached = channels[3] > 0
    assert channels[3, 16, 10] == 1 and channels[3, 16, 14] == 0.5  # the hint, and its spread
    assert reached[:, :16].sum() > 50 and not reached[:, 16:].any()  # the line holds
    assert torch.equal(channels[:3, reached], torch.tensor([[-1.0], [1.0], [-1.0]]).expand(3, int(reached.sum())))
    assert not (channels[3, 16, :] > 0)[:2].any()  # 8 steps from x=10 reach x=2, not further


def test_a_fill_closes_small_gaps_in_an_outline_and_still_reaches_the_lines():
    sketch = torch.ones(1, 48, 48)
    sketch[:, 8, 8:41] = sketch[:, 40, 8:41] = sketch[:, 8:41, 8] = sketch[:, 8:41, 40] = -1  # a square
    sketch[:, 40, 23:26] = 1  # with a 3-pixel gap at the bottom
    hints = parse_hints({"points": [{"x": 24.5, "y": 24.5, "color": "#ff0000", "radius": 1}]})
    drawn = draw_hints(hints, (48, 48), Box(0, 0, 48, 48), (48, 48))
    leaked = fill_hints(drawn, sketch, reach=40, gap=0)[3] > 0
    closed = fill_hints(drawn, sketch, reach=40, gap=2)[3] > 0
    assert leaked[45, 24]  # without closing, the color runs out through the gap
    assert not closed[44:, :].any() and not closed[:8].any()  # closed: it stays in the square
    assert closed[9:40, 9:40].all()  # up to the lines, the band the thickening took included
    assert closed[40:43, 23:26].any() and not closed[43:, :].any()  # a step into the gap, no further


def test_a_hint_claims_its_outline_before_a_neighbour_runs_in_through_a_gap():
    sketch = torch.ones(1, 48, 48)
    sketch[:, 8, 8:41] = sketch[:, 40, 8:41] = sketch[:, 8:41, 8] = sketch[:, 8:41, 40] = -1  # a square
    sketch[:, 23:26, 40] = 1  # with a 3-pixel gap on the right
    inside = {"x": 10.5, "y": 38.5, "color": "#ff0000", "radius": 1}  # far from the gap
    outside = {"x": 43.5, "y": 24.5, "color": "#0000ff", "radius": 1}  # just beyond it
    drawn = draw_hints(parse_hints({"points": [inside, outside]}), (48, 48), Box(0, 0, 48, 48), (48, 48))
    red, blue = torch.tensor([1.0, -1.0, -1.0]), torch.tensor([-1.0, -1.0, 1.0])
    plain = fill_hints(drawn, sketch, reach=60)
    claimed = fill_hints(drawn, sketch, reach=60, claim=2)
    assert torch.equal(plain[:3, 24, 36], blue)  # without a claim, the blue runs in through the gap
    assert torch.equal(claimed[:3, 24, 36], red) and torch.equal(claimed[:3, 24, 44], blue)
    assert (claimed[:3, 9:40, 9:40] == red[:, None, None]).all()  # the square is all the red's
    lone = draw_hints(parse_hints({"points": [inside]}), (48, 48), Box(0, 0, 48, 48), (48, 48))
    alone, alone_claimed = fill_hints(lone, sketch, reach=60), fill_hints(lone, sketch, reach=60, claim=2)
    assert torch.equal(alone[3] > 0, alone_claimed[3] > 0) and torch.equal(alone[:3], alone_claimed[:3])  # leaks as before
    assert alone[3, 24, 44] > 0


def test_a_written_hint_layer_reads_back_as_the_same_hints():
    hints = parse_hints({"points": [{"x": 30, "y": 30, "color": "#20a040", "radius": 6}],
                         "strokes": [{"points": [[5, 60], [70, 50]], "color": "#3050c0", "width": 5}]})
    layer = hints_image(hints, (80, 70))
    assert layer.mode == "RGBA" and layer.size == (80, 70)
    box = Box(0, 0, 70, 80)
    assert torch.equal(draw_hints(hint_layer(layer), (80, 70), box, (70, 80)), draw_hints(hints, (80, 70), box, (70, 80)))


def test_simulated_hints_take_the_true_colors_off_the_lines():
    sketch, color = draw_pair(3, size=96)
    gray, rgb = np.asarray(sketch), np.asarray(color)
    hints = simulate_hints(rgb, gray, 12, np.random.default_rng(0), dataclasses.replace(HintConfig(), jitter=0))
    assert len(hints.marks) == 12
    for mark in hints.marks:
        x, y = (int(v) for v in mark.points[0])
        assert gray[y, x] > 127  # started on paper, not ink
        assert np.abs(np.array(mark.color) - rgb[y, x]).max() < 60  # about the color under it
    assert not simulate_hints(rgb, gray, 0, np.random.default_rng(0))
    turned = rotate_hue(Hints((Mark(((1, 1),), (230, 60, 50), 2),)), np.random.default_rng(0))
    assert turned.marks[0].color != (230, 60, 50) and max(turned.marks[0].color) == 230  # value kept


# --- the model -------------------------------------------------------------------------
def test_zero_hint_inputs_keep_the_source_models_pages(tmp_path, model_dir, hint_config):
    plain = Colorizer.from_pretrained(model_dir, device="cpu", backend="torch", precision="fp32")
    widened = build_generator(hint_config.generator)
    widened.load_state_dict(with_hint_inputs(plain.generator.state_dict(), widened.state_dict()))
    hinted = Colorizer(widened, hint_config, device=torch.device("cpu"))
    sketch = draw_pair(5, size=80)[0]
    assert np.array_equal(np.asarray(plain(sketch)), np.asarray(hinted(sketch)))
    with pytest.raises(SketchcolorError, match="trained without color hints"):
        plain(sketch, hints=RED)


def test_hints_change_the_page_and_every_detail_mode_takes_them(hint_model):
    colorizer = Colorizer.from_pretrained(hint_model, device="cpu", backend="torch", precision="fp32")
    sketch = draw_pair(5, size=80)[0]
    without = np.asarray(colorizer(sketch), dtype=float)
    for detail in ("whole", "tiles"):
        hinted = np.asarray(colorizer(sketch, hints=RED, detail=detail), dtype=float)
        assert hinted.shape == without.shape and np.abs(hinted - without).max() > 0
    with pytest.raises(SketchcolorError, match="2 hint sets for 1 pages"):
        colorizer.layers([sketch], hints=[RED, RED])


def test_a_hint_fills_its_region_up_to_the_lines_as_far_as_hint_fill_says(hint_model):
    sketch = Image.new("L", (128, 128), 255)
    ImageDraw.Draw(sketch).rectangle([20, 20, 60, 100], outline=0, width=3)  # a closed box
    colorizer = Colorizer.from_pretrained(hint_model, device="cpu", backend="torch", precision="fp32")
    hint = {"points": [{"x": 40, "y": 60, "color": "#2040e0", "radius": 2}]}
    inside, outside = (slice(30, 90), slice(30, 50)), (slice(30, 90), slice(80, 120))
    filled = np.asarray(colorizer(sketch, hints=hint, hint_fill=1.0), dtype=float)
    plain = np.asarray(colorizer(sketch, hints=hint, hint_fill=0), dtype=float)
    assert np.abs(filled[inside] - (32, 64, 224)).max() < 12  # the whole box took the hint
    assert np.abs(filled[outside] - plain[outside]).max() < 12  # nothing beyond its lines did
    assert np.abs(plain[inside] - (32, 64, 224)).mean() > 30  # the random network alone does not
    with pytest.raises(SketchcolorError, match="hint_fill"):
        colorizer(sketch, hints=hint, hint_fill=-1)


def test_hint_gap_keeps_a_fill_inside_an_outline_with_a_gap(hint_model):
    sketch = Image.new("L", (128, 128), 255)
    draw = ImageDraw.Draw(sketch)
    draw.rectangle([20, 20, 60, 100], outline=0, width=3)
    draw.rectangle([38, 98, 41, 102], fill=255)  # a 4-pixel gap in the bottom line
    colorizer = Colorizer.from_pretrained(hint_model, device="cpu", backend="torch", precision="fp32", hint_fill=1.0)
    hint = {"points": [{"x": 40, "y": 60, "color": "#2040e0", "radius": 2}]}
    below, inside = (slice(110, 126), slice(20, 60)), (slice(30, 90), slice(30, 50))
    plain = np.asarray(colorizer(sketch, hints=hint, hint_fill=0), dtype=float)
    leaky = np.asarray(colorizer(sketch, hints=hint), dtype=float)
    closed = np.asarray(colorizer(sketch, hints=hint, hint_gap=0.05), dtype=float)
    assert np.abs(leaky[below] - (32, 64, 224)).max() < 12  # through the gap, the page below took it
    assert np.abs(closed[below] - plain[below]).max() < 12  # with the gap closed, it did not
    assert np.abs(closed[inside] - (32, 64, 224)).max() < 12  # and the box still did
    for option in ("hint_gap", "hint_claim"):
        with pytest.raises(SketchcolorError, match=option):
            colorizer(sketch, hints=hint, **{option: 0.5})


def test_a_faint_outline_holds_a_fill_once_the_page_is_cleaned(hint_model):
    sketch = Image.new("L", (128, 128), 255)
    ImageDraw.Draw(sketch).rectangle([20, 20, 60, 100], outline=170, width=3)  # light pencil: paler than ink
    colorizer = Colorizer.from_pretrained(hint_model, device="cpu", backend="torch", precision="fp32", hint_fill=1.0)
    hint = {"points": [{"x": 40, "y": 60, "color": "#2040e0", "radius": 2}]}
    outside, inside = (slice(30, 90), slice(70, 100)), (slice(30, 90), slice(30, 50))
    plain = np.asarray(colorizer(sketch, hints=hint, hint_fill=0), dtype=float)
    raw = np.asarray(colorizer(sketch, hints=hint, clean=False), dtype=float)
    cleaned = np.asarray(colorizer(sketch, hints=hint), dtype=float)  # cleaning is the default
    assert np.abs(raw[outside] - (32, 64, 224)).max() < 12  # the pale line stopped nothing
    assert np.abs(cleaned[outside] - plain[outside]).max() < 12  # made ink, it holds the fill in
    assert np.abs(cleaned[inside] - (32, 64, 224)).max() < 12


def test_training_samples_carry_hints_a_share_without(tmp_path, pair_root, hint_config):
    from sketchcolor.data import train_val_sets

    train_set, _ = train_val_sets(pair_root, hint_config.data, 0, HintConfig(none_share=0.5))
    samples = [train_set[(i % len(train_set), i)] for i in range(24)]
    assert all(s["hints"].shape == (4, *s["sketch"].shape[1:]) for s in samples)
    counts = [int(s["hints"][3].sum() > 0) for s in samples]
    assert 0 < sum(counts) < len(counts)  # some samples with hints, some without
    assert torch.equal(samples[3]["hints"], train_set[(3, 3)]["hints"])  # drawn from the sample's seed


# --- the CLI and the API ---------------------------------------------------------------
def test_colorize_a_folder_with_a_hints_folder_reports_bad_hint_files(tmp_path, hint_model):
    pages, hints, out = tmp_path / "pages", tmp_path / "hints", tmp_path / "out"
    pages.mkdir()
    hints.mkdir()
    for name in ("a", "b", "c", "d"):
        draw_pair(ord(name), size=64)[0].save(pages / f"{name}.png")
    (hints / "a.json").write_text(json.dumps(RED))
    (hints / "b.hints.json").write_text('{"points": [{"x": 999, "y": 1, "color": "red"}]}')
    (hints / "c.json").write_text("{broken")
    result = run_cli("colorize", pages, "-o", out, "--model", hint_model, "--hints", hints, "--layers",
                     "--device", "cpu")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "b.hints.json" in errors[0] and "outside" in errors[0] and "c.json" in errors[1]
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in out.glob("?.png")) == ["a.png", "d.png"]  # the rest still colorized
    assert (out / "a.hints.png").exists() and not (out / "d.hints.png").exists()


def test_api_takes_hints_as_json_or_layer_and_explains_bad_ones(hint_model, model_dir):
    sketch = io.BytesIO()
    draw_pair(1, size=64)[0].save(sketch, "PNG")
    file = {"file": ("s.png", sketch.getvalue(), "image/png")}
    client = TestClient(create_app(Settings(backend="torch", model=str(hint_model))))
    plain = client.post("/api/colorize", files=file)
    hinted = client.post("/api/colorize", files=file, data={"hints": json.dumps(RED)})
    assert plain.status_code == hinted.status_code == 200 and plain.content != hinted.content
    layer = io.BytesIO()
    hints_image(parse_hints(RED), (64, 64)).save(layer, "PNG")
    by_layer = client.post("/api/colorize", files={**file, "hint_layer": ("h.png", layer.getvalue(), "image/png")})
    assert by_layer.status_code == 200
    for fields, problem in (({"hints": "{oops"}, "not valid JSON"),
                            ({"hints": json.dumps({"points": [{"x": 90, "y": 1, "color": "red"}]})}, "outside"),
                            ({"hints": json.dumps({"points": [{"x": 9, "y": 1, "color": "rouge"}]})}, "color")):
        response = client.post("/api/colorize", files=file, data=fields)
        assert response.status_code == 422 and problem in response.json()["error"]
    closed = client.post("/api/colorize", files=file, data={"hints": json.dumps(RED), "hint_gap": "0.05"})
    assert closed.status_code == 200
    too_wide = client.post("/api/colorize", files=file, data={"hints": json.dumps(RED), "hint_gap": "0.5"})
    assert too_wide.status_code == 422 and "hint_gap" in too_wide.json()["error"]
    assert "hint_gap" in json.dumps(client.get("/openapi.json").json())
    raw = client.post("/api/colorize", files=file, data={"clean": "false"})
    assert raw.status_code == 200 and "clean" in json.dumps(client.get("/openapi.json").json())
    assert client.get("/api/models").json()["models"][0]["hints"] is True
    refusing = TestClient(create_app(Settings(backend="torch", model=str(model_dir))))
    response = refusing.post("/api/colorize", files=file, data={"hints": json.dumps(RED)})
    assert response.status_code == 422 and "without color hints" in response.json()["error"]


# --- measurement -----------------------------------------------------------------------
class PaintsTheHints:
    """A method that colors each hinted region with its hint and leaves the rest white: what
    a perfect hint follower does, to check that adherence and leakage measure it."""

    takes_hints = True

    def __call__(self, sketches, hints=None):
        from scipy import ndimage

        pages = []
        for sketch, page_hints in zip(sketches, hints or [Hints()] * len(sketches)):
            gray = np.asarray(sketch.convert("L"))
            labels, _ = ndimage.label(gray > 127)
            page = np.where(gray[..., None] > 127, 255, 0).astype(np.uint8).repeat(3, axis=2)
            for mark in page_hints.marks:
                x, y = (int(v) for v in mark.points[0])
                if labels[y, x]:
                    page[labels == labels[y, x]] = mark.color
            pages.append(Image.fromarray(page))
        return pages


def test_counterfactual_hints_are_scored_for_adherence_and_leakage(tmp_path):
    write_pairs(tmp_path / "pairs" / "test", 4, size=128)
    pairs = load_pages(tmp_path / "pairs", "test")
    result = evaluate(PaintsTheHints(), pairs, hints=HintPlan(4, counterfactual=True), progress=False)
    assert result.metrics["hints_scored"] > 4
    assert result.metrics["hint_adherence_median"] < 3  # it painted exactly the hinted colors
    assert abs(result.metrics["hint_leakage_mean"]) < 0.05
    with pytest.raises(SketchcolorError, match="takes no color hints"):
        evaluate(lambda sketches: sketches, pairs, hints=HintPlan(2), progress=False)


def test_evaluate_sweeps_hint_counts_into_a_table_and_a_plot(tmp_path, hint_model):
    write_pairs(tmp_path / "pairs" / "test", 3, size=96)
    out = tmp_path / "report"
    result = run_cli("evaluate", "--model", hint_model, "--data", tmp_path / "pairs", "--hints", "0,2", "--out", out,
                     "--device", "cpu")
    assert result.returncode == 0, result.stderr
    table = (out / "hints.md").read_text()
    assert "| 0 |" in table and "| 2 |" in table and (out / "hints.png").stat().st_size > 0
    recorded = json.loads((out / "hints-2" / "metrics.json").read_text())
    assert recorded["hints"] == 2 and recorded["hint_claim"] == PageOptions().hint_claim  # the fill it was scored with
    bad = run_cli("evaluate", "--model", hint_model, "--data", tmp_path / "pairs", "--hints", "two", "--out", out)
    assert bad.returncode == 2 and "--hints" in bad.stderr
