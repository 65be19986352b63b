"""XDoG line extraction and folder sketchification on images drawn here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sketchcolor.data.sketchify import XDoGParams, extract_lines, sketchify_folder
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
    counts, skipped = sketchify_folder(tmp_path / "in", tmp_path / "out", XDoGParams(), size=64)
    assert counts == {"written": len(stems), "skipped": 2}
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
    counts, _ = sketchify_folder(tmp_path / "in", tmp_path / "out", XDoGParams())
    assert counts["written"] == 2
    assert Image.open(tmp_path / "out" / "a.png").size == (2 * 160, 120)
    with pytest.raises(SketchcolorError):
        sketchify_folder(tmp_path / "in", tmp_path / "in", XDoGParams())


def test_a_repeated_stem_is_skipped_not_overwritten(tmp_path):
    write_inputs(tmp_path / "in")
    drawing(seed=5)[0].save(tmp_path / "in" / "a.jpg")
    counts, skipped = sketchify_folder(tmp_path / "in", tmp_path / "out", XDoGParams())
    assert counts == {"written": 2, "skipped": 3} and "a.png" in skipped
