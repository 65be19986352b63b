"""The OpenMoji builder on a 12-emoji slice of the real package (tests/fixtures/openmoji)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sketchcolor.data import openmoji
from sketchcolor.data.openmoji import SPLITS, build_openmoji, outline_groups, split_of
from sketchcolor.errors import SketchcolorError
from sketchcolor.imageio import mean_saturation, split_pair

FIXTURE = Path(__file__).parent / "fixtures" / "openmoji" / "openmoji-fixture.tgz"
SIZE = 64
THUMBS_UP = ("1F44D", "1F44D-1F3FB", "1F44D-1F3FF")  # one outline, three skin tones
HEARTS = ("2764", "1F9E1")  # different emoji, byte-identical outline file
FLAG, COLORLESS, MISALIGNED = "1F1E9-1F1EA", "1F95B", "1F170"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("openmoji")
    return out, build_openmoji(out, size=SIZE, package=FIXTURE, workers=1)


def written(out: Path) -> dict[str, str]:
    """hexcode -> split of every pair on disk."""
    return {png.stem: split for split in SPLITS for png in (out / split).glob("*.png")}


def fixture_rows() -> list[dict]:
    with tarfile.open(FIXTURE) as tar:
        return json.load(tar.extractfile("package/data/openmoji.json"))


def test_counts_cover_every_emoji_and_match_the_files(built):
    out, counts = built
    assert sum(counts.values()) == len(fixture_rows())
    on_disk = written(out)
    for split in SPLITS:
        assert counts[split] == sum(s == split for s in on_disk.values())
    assert counts["train"] > 0


def test_pairs_are_color_left_and_clean_sketch_right(built):
    out, _ = built
    for path in sorted(out.glob("*/*.png")):
        pair = Image.open(path)
        assert pair.mode == "RGB" and pair.size == (2 * SIZE, SIZE)
        sketch, color = split_pair(pair, sketch_side="right")
        assert mean_saturation(color) > mean_saturation(sketch) + 0.05, path.name
        rgb = np.asarray(sketch, dtype=np.int16)
        assert (rgb.max(axis=2) - rgb.min(axis=2)).max() <= 2, f"{path.name}: sketch is not gray"
        gray = rgb.mean(axis=2)
        assert (gray > 240).mean() > 0.5, f"{path.name}: sketch paper is not white"
        assert (gray < 80).mean() > 0.01, f"{path.name}: sketch has no dark lines"


def test_lines_are_aligned_between_halves(built):
    out, _ = built
    sketch, color = split_pair(Image.open(out / written(out)["1F600"] / "1F600.png"), sketch_side="right")
    ink = np.asarray(sketch.convert("L")) < 128
    assert (np.asarray(color.convert("L"))[ink] < 160).mean() > 0.9


def test_degenerate_emoji_are_skipped_and_counted(built):
    out, counts = built
    on_disk = written(out)
    for hexcode, reason in ((FLAG, "flag"), (COLORLESS, "colorless"), (MISALIGNED, "misaligned")):
        assert hexcode not in on_disk
        assert counts[f"skipped_{reason}"] >= 1


def test_shared_outlines_land_in_one_split(built):
    out, _ = built
    on_disk = written(out)
    for family in (THUMBS_UP, HEARTS):
        assert all(hexcode in on_disk for hexcode in family)
        assert len({on_disk[hexcode] for hexcode in family}) == 1


def test_build_is_deterministic_with_a_process_pool(built, tmp_path):
    out, counts = built
    again = build_openmoji(tmp_path, size=SIZE, package=FIXTURE, workers=2)
    assert again == counts
    assert written(tmp_path) == written(out)
    for path in out.glob("*/*.png"):
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(tmp_path / path.parent.name / path.name)))


def test_attribution_is_written(built):
    text = (built[0] / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for needle in ("OpenMoji", "CC BY-SA 4.0", "https://openmoji.org", "creativecommons.org/licenses/by-sa/4.0", "17.0.0"):
        assert needle in text


def test_bad_svgs_are_skipped_not_fatal(tmp_path):
    rows = [row for row in fixture_rows() if row["hexcode"] in ("1F600", "2B50")]
    rows += [dict(rows[0], hexcode="BAD1"), dict(rows[0], hexcode="BAD2")]
    with tarfile.open(FIXTURE) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    files["package/data/openmoji.json"] = json.dumps(rows).encode()
    files["package/black/svg/BAD1.svg"] = files["package/color/svg/BAD1.svg"] = b"<svg><not closed"
    files["package/black/svg/BAD2.svg"] = files["package/black/svg/1F600.svg"]  # no color/svg at all
    package = tmp_path / "broken.tgz"
    with tarfile.open(package, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    counts = build_openmoji(tmp_path / "out", size=32, package=package, workers=1)
    assert counts["skipped_unreadable"] == 2
    assert sum(counts[split] for split in SPLITS) == 2


def test_refuses_to_mix_with_an_earlier_build(built):
    with pytest.raises(SketchcolorError, match="not empty"):
        build_openmoji(built[0], size=SIZE, package=FIXTURE, workers=1)


def test_missing_npm_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(openmoji.shutil, "which", lambda name: None)
    with pytest.raises(SketchcolorError, match="npm.*--package"):
        build_openmoji(tmp_path, size=SIZE)


def test_not_a_tarball_is_one_clear_error(tmp_path):
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(SketchcolorError, match="not an OpenMoji npm tarball"):
        build_openmoji(tmp_path / "out", package=junk)


def test_groups_join_skin_tones_and_identical_outlines_only():
    emojis, _ = openmoji._read_package(FIXTURE)
    groups = outline_groups(emojis)
    assert len({groups[h] for h in THUMBS_UP}) == 1 and len({groups[h] for h in HEARTS}) == 1
    assert len(set(groups.values())) == len(groups) - (len(THUMBS_UP) - 1) - (len(HEARTS) - 1)
    assert groups == outline_groups(emojis[::-1])  # the key does not depend on table order


def test_split_hash_is_about_80_10_10():
    splits = [split_of(f"group-{i}") for i in range(5000)]
    shares = {split: splits.count(split) / len(splits) for split in SPLITS}
    assert abs(shares["train"] - 0.8) < 0.03
    assert abs(shares["val"] - 0.1) < 0.02 and abs(shares["test"] - 0.1) < 0.02
