"""Line extraction (fixed XDoG, random styles) and folder sketchification on images drawn here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sketchcolor.data.sketchify import (LineStyle, PencilParams, PencilRanges, XDoGParams, XDoGRanges,
                                        extract_lines, random_sketch, sketchify_folder)
from sketchcolor.errors import SketchcolorError
from sketchcolor.imageio import mean_saturation, split_pair

OUTLINE = 3  # px width of the black outlines drawn below


def drawing(width: int = 160, height: int = 120, seed: int = 0) -> tuple[Image.Image, np.ndarray]:
    """Colored shapes with black outlines on white, and the mask of the outline pixels."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (width, height), "white")
    mask = Image.new("L", (width, height), 0)
    paint, trace = ImageDraw.Draw(image), ImageDraw.Draw(mask)
    shapes = [("rectangle", (15, 15, 70, 70)), ("ellipse", (80, 30, 145, 100)), ("rectangle", (30, 75, 90, 110))]
    for kind, box in shapes:
        fill = tuple(int(c) for c in rng.integers(60, 230, size=3))
        getattr(paint, kind)(box, fill=fill, outline="black", width=OUTLINE)
        getattr(trace, kind)(box, outline=255, width=OUTLINE)
    return image, np.asarray(mask) > 0


def test_extract_lines_draws_dark_outlines_on_white():
    image, outline = drawing()
    lines = extract_lines(image, XDoGParams())
    assert lines.mode == "L" and lines.size == image.size
    gray = np.asarray(lines)
    assert (gray > 200).mean() > 0.8
    assert (gray[outline] < 128).mean() > 0.7
    # flat color fills away from any edge stay paper-white
    assert gray[40:46, 110:116].min() > 200


def test_extract_lines_on_blank_paper_is_blank():
    assert np.asarray(extract_lines(Image.new("RGB", (40, 30), "white"))).min() == 255


def test_larger_epsilon_fills_dark_areas():
    dark = Image.new("RGB", (64, 64), (40, 40, 40))
    edges_only = np.asarray(extract_lines(dark, XDoGParams(epsilon=-0.1)))
    filled = np.asarray(extract_lines(dark, XDoGParams(epsilon=0.5)))
    assert edges_only.mean() > 250 and filled.mean() < 100


def test_bad_params_are_refused():
    with pytest.raises(SketchcolorError):
        XDoGParams(k=1.0)
    with pytest.raises(SketchcolorError):
        XDoGParams(sigma=0)


def write_inputs(folder: Path) -> list[str]:
    folder.mkdir()
    for seed, name in enumerate(("a.png", "b.jpg")):
        drawing(seed=seed)[0].save(folder / name)
    (folder / "x.png").write_bytes(b"not an image")
    (folder / "empty.png").write_bytes(b"")
    return ["a", "b"]


def test_sketchify_folder_writes_pairs_and_skips_broken_files(tmp_path):
    stems = write_inputs(tmp_path / "in")
    counts, skipped = sketchify_folder(tmp_path / "in", tmp_path / "out", LineStyle.fixed(), size=64)
    assert counts == {"images": len(stems), "pairs": len(stems), "skipped": 2}
    assert sorted(skipped) == ["empty.png", "x.png"]
    assert sorted(p.stem for p in (tmp_path / "out").iterdir()) == stems
    for stem in stems:
        pair = Image.open(tmp_path / "out" / f"{stem}.png")
        assert pair.mode == "RGB" and pair.size == (2 * 64, 48)  # 160x120 scaled to a 64 px longer side
        sketch, color = split_pair(pair, sketch_side="right")
        assert mean_saturation(color) > mean_saturation(sketch) + 0.1
        assert (np.asarray(sketch.convert("L")) > 200).mean() > 0.7


def test_sketchify_folder_keeps_size_and_refuses_writing_over_its_input(tmp_path):
    write_inputs(tmp_path / "in")
    counts, _ = sketchify_folder(tmp_path / "in", tmp_path / "out")
    assert counts["images"] == 2
    assert Image.open(tmp_path / "out" / "a.png").size == (2 * 160, 120)
    with pytest.raises(SketchcolorError):
        sketchify_folder(tmp_path / "in", tmp_path / "in")


def test_a_repeated_stem_is_skipped_not_overwritten(tmp_path):
    write_inputs(tmp_path / "in")
    drawing(seed=5)[0].save(tmp_path / "in" / "a.jpg")
    counts, skipped = sketchify_folder(tmp_path / "in", tmp_path / "out")
    assert counts == {"images": 2, "pairs": 2, "skipped": 3} and "a.png" in skipped


PENCIL, XDOG = LineStyle(pencil_share=1.0), LineStyle(pencil_share=0.0)


def test_random_sketch_is_deterministic_for_a_seed():
    image, _ = drawing()
    for seed in (0, 7, (3, 41)):  # (epoch, index) seeds work too
        first, again = random_sketch(image, seed), random_sketch(image, seed)
        assert first.mode == "L" and first.size == image.size
        assert np.array_equal(np.asarray(first), np.asarray(again))


def test_different_seeds_draw_different_sketches():
    image, _ = drawing()
    sketches = {np.asarray(random_sketch(image, (1, seed))).tobytes() for seed in range(8)}
    assert len(sketches) == 8


@pytest.mark.parametrize("style", [PENCIL, XDOG], ids=["pencil", "xdog"])
def test_every_family_draws_dark_outlines_on_white_paper(style):
    image, outline = drawing()
    for seed in range(6):
        gray = np.asarray(random_sketch(image, seed, style))
        assert (gray > 200).mean() > 0.8
        assert (gray[outline] < 128).mean() > 0.6  # pencil traces a 3 px line's two sides
        assert gray[40:46, 110:116].min() > 200


def test_pencil_lines_are_gray_strokes_that_leave_dark_fills_as_paper():
    dark = Image.new("RGB", (64, 64), (30, 30, 30))
    ImageDraw.Draw(dark).rectangle((20, 20, 44, 44), fill="white")
    gray = np.asarray(extract_lines(dark, PencilParams(lead=0.3)))
    assert gray[5:15, 5:15].min() == 255 and gray[25:40, 25:40].min() == 255  # flat areas, dark or light
    assert 0.3 * 255 - 1 <= gray.min() < 128  # the edge is ink, but no darker than the lead


def test_fixed_style_is_the_xdog_extractor_whatever_the_seed():
    image, _ = drawing()
    for seed in range(3):
        fixed = random_sketch(image, seed, LineStyle.fixed())
        assert np.array_equal(np.asarray(fixed), np.asarray(extract_lines(image)))


@pytest.mark.parametrize("make", [
    lambda: XDoGRanges(sigma=(0.7, 0.3)),  # low above high
    lambda: XDoGRanges(sigma=(0.0, 0.5)),  # an end XDoGParams refuses
    lambda: XDoGRanges(k=(1.0, 2.0)),
    lambda: XDoGRanges(p=(20.0,)),
    lambda: XDoGRanges(phi=(float("nan"), 10.0)),
    lambda: PencilRanges(radius=(0, 2)),
    lambda: PencilRanges(radius=(1.5, 2)),
    lambda: PencilRanges(lead=(0.1, 0.6)),  # strokes lighter than the ink level
    lambda: LineStyle(pencil_share=1.5),
    lambda: LineStyle(paper=(0.3, 1.0)),
], ids=["order", "sigma", "k", "length", "nan", "radius", "radius-int", "lead", "share", "paper"])
def test_bad_ranges_are_refused(make):
    with pytest.raises(SketchcolorError):
        make()


def test_several_sketches_per_image_differ_and_repeat_for_a_seed(tmp_path):
    write_inputs(tmp_path / "in")
    counts, _ = sketchify_folder(tmp_path / "in", tmp_path / "out", sketches=3, seed=5)
    assert counts == {"images": 2, "pairs": 6, "skipped": 2}
    sketchify_folder(tmp_path / "in", tmp_path / "again", sketches=3, seed=5)
    sketches = []
    for j in range(3):
        pair = tmp_path / "out" / f"a-s{j}.png"
        assert pair.read_bytes() == (tmp_path / "again" / pair.name).read_bytes()
        sketches.append(np.asarray(split_pair(Image.open(pair), sketch_side="right")[0]).tobytes())
    assert len(set(sketches)) == 3


def test_cli_writes_k_pairs_per_image_and_reports_a_bad_file(tmp_path):
    from conftest import run_cli

    write_inputs(tmp_path / "in")
    result = run_cli("data", "sketchify", tmp_path / "in", "--out", tmp_path / "out", "--sketches", "2",
                     "--seed", "3", "--size", "64")
    assert result.returncode == 1 and "x.png" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a-s0.png", "a-s1.png", "b-s0.png", "b-s1.png"]
    assert Image.open(tmp_path / "out" / "a-s1.png").size == (2 * 64, 48)
    refused = run_cli("data", "sketchify", tmp_path / "in", "--out", tmp_path / "o2", "--style", "xdog-fixed",
                      "--sketches", "2")
    assert refused.returncode == 1 and "error:" in refused.stderr and not (tmp_path / "o2").exists()
