"""Sketches brought in other ways (data/restyle.py) and the levels that clean a captured page
(page.page_gray): what `evaluate --sketch-style` measures and what `colorize --clean` fixes."""

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from conftest import run_cli, write_pairs
from sketchcolor.data import load_pages
from sketchcolor.data.restyle import SKETCH_STYLES, halftone, restyle
from sketchcolor.data.sketchify import file_seed
from sketchcolor.imageio import INK_GRAY
from sketchcolor.page import page_gray


def outline(size: int = 256) -> Image.Image:
    """Black ink on white paper: a box and a diagonal, as a clean digital sketch."""
    sketch = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(sketch)
    draw.rectangle([size // 8, size // 8, size * 5 // 8, size * 7 // 8], outline=0, width=3)
    draw.line([(0, size - 1), (size - 1, 0)], fill=0, width=2)
    return sketch


def ink_share(image: Image.Image) -> float:
    return float((np.asarray(image) < INK_GRAY).mean())


def dark_left(size: int = 256) -> Image.Image:
    """True colors: a dark left half, a light right half."""
    color = Image.new("RGB", (size, size), (235, 220, 200))
    color.paste((40, 40, 90), (0, 0, size // 2, size))
    return color


def test_each_style_changes_the_sketch_as_its_capture_would_and_repeats_from_its_seed():
    sketch = outline()
    styled = {style: restyle(sketch, style, (0, 7), dark_left()) for style in SKETCH_STYLES}
    assert styled["given"].tobytes() == sketch.tobytes()
    for style, image in styled.items():
        assert image.size == sketch.size and image.mode == "L"
        # the same seed, the same page
        assert restyle(sketch, style, (0, 7), dark_left()).tobytes() == image.tobytes()
    assert restyle(sketch, "scan", (0, 8)).tobytes() != styled["scan"].tobytes()
    paper = {style: np.median(np.asarray(image)) for style, image in styled.items()}
    assert paper["scan"] < 235 and paper["photo"] < 235  # a gray sheet
    assert paper["faint"] == paper["thick"] == 255  # white paper
    assert ink_share(styled["faint"]) == 0 < ink_share(sketch)  # every line paler than ink
    assert ink_share(styled["thick"]) > 1.5 * ink_share(sketch)  # heavier lines
    toned = np.asarray(styled["tone"]) < np.asarray(sketch)  # dots laid where the paper was
    assert toned[:, :100].mean() > 0.05 and toned[:, 160:].mean() == 0  # where the true colors are dark
    with pytest.raises(ValueError, match="sketch style"):
        restyle(sketch, "watercolor", 0)
    with pytest.raises(ValueError, match="colors"):
        restyle(sketch, "tone", 0)  # screentone is placed by the page's colors


def test_cleaning_leaves_a_clean_page_alone_and_brings_captured_ones_to_paper_and_ink():
    sketch = outline()
    assert page_gray(sketch, clean=True).tobytes() == sketch.tobytes()
    assert page_gray(restyle(sketch, "thick", 0), clean=True).tobytes() == restyle(sketch, "thick", 0).tobytes()
    blank = Image.new("L", (64, 64), 200)
    assert (np.asarray(page_gray(blank, clean=True)) == 255).all()  # a blank gray sheet: white paper, no lines made
    lines = np.asarray(sketch) == 0
    for style in ("scan", "faint", "photo"):
        captured = restyle(sketch, style, 3)
        before, after = np.asarray(captured, dtype=float), np.asarray(page_gray(captured, clean=True), dtype=float)
        assert np.median(after) >= 245, style  # the sheet is paper again, however it was lit
        contrast = [np.median(page[~lines]) - np.mean(page[lines]) for page in (before, after)]
        assert contrast[1] > contrast[0] + 20, style  # lines stand out from the paper more than before
        assert page_gray(captured, clean=False).tobytes() == captured.tobytes()
    faint = np.asarray(page_gray(restyle(sketch, "faint", 3), clean=True))
    assert (faint[lines] < INK_GRAY).mean() > 0.9  # pale pencil made ink: it stops colors now


def toned_outline(cover: float = 0.25) -> Image.Image:
    """outline() with a tone of `cover` over its left half."""
    dots = np.where(np.asarray(dark_left()).mean(axis=2) < 128,
                    halftone((256, 256), pitch=5.0, cover=cover, angle=45.0), 1.0)
    return Image.fromarray((np.minimum(np.asarray(outline(), dtype=np.float32) / 255, dots) * 255).round()
                           .astype(np.uint8), mode="L")


def texture(image: np.ndarray, where: np.ndarray) -> float:
    """The mean gray change between neighbouring pixels inside `where`: dots make it large."""
    steps = np.abs(np.diff(image.astype(np.float32), axis=1))
    return float(steps[where[:, 1:] & where[:, :-1]].mean())


def test_cleaning_turns_screentone_into_its_shade_and_keeps_the_lines_and_lone_dots():
    page = toned_outline(cover=0.25)
    draw = ImageDraw.Draw(page)
    for x in (170, 200, 230):  # a few lone dots on the light half: pupils, not tone
        draw.ellipse([x, 60, x + 3, 63], fill=0)
    given, cleaned = np.asarray(page), np.asarray(page_gray(page, clean=True))
    lines = np.asarray(outline()) == 0
    tone_area = ~ndimage.binary_dilation(lines, iterations=4)
    tone_area[:, 120:] = False
    assert texture(given, tone_area) > 40  # dots: black and white side by side
    assert texture(cleaned, tone_area) < 3  # a flat shade now
    shade = cleaned[tone_area].mean()
    assert abs(shade - given[tone_area].mean()) < 8 and shade < 220  # the gray the tone printed, not paper
    assert (cleaned[lines] < INK_GRAY).mean() > 0.99  # the lines are all still ink
    assert (cleaned[60:64, 168:236] < 128).sum() >= 3 * 8  # the lone dots stay
    assert (cleaned[100:, 150:] == 255).mean() > 0.95  # untoned paper stays paper
    dashes = outline()
    ImageDraw.Draw(dashes).line([(20, 240), (236, 240)], fill=0, width=2)
    dashed = np.asarray(dashes).copy()
    dashed[236:244, ::6] = 255  # a dashed line: short, alike marks in a row, not a grid
    dashed[236:244, 1::6] = 255
    assert page_gray(Image.fromarray(dashed), clean=True).tobytes() == Image.fromarray(dashed).tobytes()


def test_a_gradient_tone_is_shaded_too():
    """Dots that grow across the area (a gradient tone, 10% to 45% of the paper) are alike
    enough, dot to neighbour, to be one grid; the shade darkens along it."""
    width = 400
    page = np.ones((120, width), dtype=np.float32)
    for step, cover in zip(range(0, width, 20), np.linspace(0.10, 0.45, width // 20)):
        page[:, step : step + 20] = halftone((width, 120), pitch=6.0, cover=float(cover), angle=0.0)[:, step : step + 20]
    given = (page * 255).round().astype(np.uint8)
    cleaned = np.asarray(page_gray(Image.fromarray(given), clean=True))
    inside = np.zeros(given.shape, dtype=bool)
    inside[12:-12, 12:-12] = True
    assert texture(given, inside) > 40 and texture(cleaned, inside) < 6
    assert cleaned[:, 20:60].mean() > cleaned[:, 340:380].mean() + 40


def test_evaluate_scores_restyled_sketches_and_says_how(tmp_path, model_dir):
    write_pairs(tmp_path / "data" / "test", 3)
    given = load_pages(tmp_path / "data", "test").first(1)[0]
    faint = load_pages(tmp_path / "data", "test", sketch_style="faint").first(1)[0]
    assert faint.color.tobytes() == given.color.tobytes()  # only the sketch changes
    assert faint.sketch.tobytes() == restyle(given.sketch, "faint", file_seed(given.name)).tobytes()
    result = run_cli("evaluate", "--model", model_dir, "--data", tmp_path / "data", "--sketch-style", "scan",
                     "--no-clean", "--out", tmp_path / "report", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    info = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert info["sketch_style"] == "scan" and info["clean"] is False
    bad = run_cli("evaluate", "--model", model_dir, "--data", tmp_path / "data", "--sketch-style", "oil")
    assert bad.returncode == 2 and "oil" in bad.stderr and "Traceback" not in bad.stderr


def test_the_command_line_offers_every_style_restyle_draws():
    from sketchcolor import cli

    assert cli.SKETCH_STYLES == SKETCH_STYLES
