import logging

import numpy as np
import pytest
import torch

from conftest import draw_pair, write_pairs
from sketchcolor.data import EpochSampler, find_pairs, load_split, train_val_sets
from sketchcolor.data import cache as cache_module
from sketchcolor.errors import SketchcolorError


def test_side_by_side_pairs_become_aligned_tensors(pair_root, tiny_config):
    dataset = load_split(pair_root, "train", tiny_config.data, augment=False)
    assert len(dataset) == 16
    sample = dataset[0]
    assert sample["sketch"].shape == (1, 32, 32) and sample["color"].shape == (3, 32, 32)
    assert sample["sketch"].min() >= -1 and sample["color"].max() <= 1
    # The color half is the saturated one: its channels differ, the sketch is gray.
    color = sample["color"]
    assert (color[0] - color[1]).abs().max() > 0.3
    # Lines line up: the sketch's dark pixels are dark (outlined) in the color too.
    dark = sample["sketch"][0] < -0.5
    assert dark.any() and color.mean(0)[dark].mean() < 0.0


def test_paired_folders_are_matched_by_stem(tmp_path, tiny_config):
    for index in range(3):
        sketch, color = draw_pair(index)
        (tmp_path / "sketch").mkdir(exist_ok=True)
        (tmp_path / "color").mkdir(exist_ok=True)
        sketch.save(tmp_path / "sketch" / f"p{index}.png")
        color.save(tmp_path / "color" / f"p{index}.jpg")
    sketch.save(tmp_path / "sketch" / "orphan.png")
    pairs = find_pairs(tmp_path)
    assert [p.path.stem for p in pairs] == ["p0", "p1", "p2"]
    dataset = load_split(tmp_path, "train", tiny_config.data, augment=False)
    assert len(dataset) == 3


def test_bad_files_are_skipped_with_one_warning(pair_root, tiny_config, caplog):
    train = pair_root / "train"
    (train / "zero.png").write_bytes(b"")
    (train / "junk.png").write_bytes(b"garbage")
    data = (train / "pair_000.png").read_bytes()
    (train / "truncated.png").write_bytes(data[: len(data) // 3])
    from PIL import Image

    Image.new("RGB", (10, 200), "red").save(train / "tall.png")  # not a side-by-side pair
    Image.new("RGB", (64, 32), "gray").save(train / "gray.png")  # no color half
    with caplog.at_level(logging.WARNING, logger="sketchcolor"):
        dataset = load_split(pair_root, "train", tiny_config.data, augment=False)
    assert len(dataset) == 16
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "skipped 5 of 21" in message
    for name in ("zero.png", "junk.png", "truncated.png", "tall.png", "gray.png"):
        assert name in message


def test_missing_or_empty_folders_name_the_path(tmp_path, tiny_config):
    with pytest.raises(SketchcolorError, match="does not exist"):
        load_split(tmp_path / "nowhere", "train", tiny_config.data, augment=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SketchcolorError, match="no image pairs found in .*empty"):
        load_split(tmp_path / "empty", "train", tiny_config.data, augment=True)


def test_decoded_pairs_are_cached_and_reused(pair_root, tiny_config, monkeypatch):
    first = load_split(pair_root, "train", tiny_config.data, augment=False)
    calls = []
    monkeypatch.setattr(cache_module, "try_decode", lambda *a: calls.append(a))
    second = load_split(pair_root, "train", tiny_config.data, augment=False)
    assert calls == []
    assert np.array_equal(np.asarray(first.decoded.array), np.asarray(second.decoded.array))
    write_pairs(pair_root / "train", 1, start=50)  # a changed folder is a new cache key
    monkeypatch.undo()
    assert len(load_split(pair_root, "train", tiny_config.data, augment=False)) == 17


def test_held_out_validation_when_there_is_no_val_folder(pair_root, tiny_config):
    import shutil

    shutil.rmtree(pair_root / "val")
    train, (val,) = train_val_sets(pair_root, tiny_config.data, seed=0)
    # val_count pairs, but never more than a fifth of the train set, held out by file
    assert len(val) == min(tiny_config.data.val_count, 16 // 5) and len(train) == 16 - len(val)
    assert not set(train.names) & {source.name for source in val.sources}


def test_a_non_square_pair_is_letterboxed_for_training_not_stretched(tmp_path):
    from PIL import Image, ImageDraw

    from sketchcolor.data.sources import PairSource, decode_pair
    from sketchcolor.imageio import join_pair

    color = Image.new("RGB", (60, 20), (200, 40, 40))
    sketch = Image.new("L", (60, 20), 255)
    ImageDraw.Draw(sketch).line([(0, 10), (59, 10)], fill=0, width=2)
    join_pair(sketch, color).save(tmp_path / "wide.png")
    pixels = decode_pair(PairSource(tmp_path / "wide.png"), 30)
    assert pixels.shape == (30, 30, 4)
    assert (pixels[:10] == 255).all() and (pixels[20:] == 255).all()  # paper above and below, both halves
    assert (pixels[10:20, :, 1] == 200).mean() > 0.9 and (pixels[14:16, :, 0].min(axis=0) < 100).all()  # drawn where fitted


def test_sampler_is_seeded_per_epoch_and_resumes_part_way():
    sampler = EpochSampler(10, seed=3)
    sampler.set_epoch(0)
    epoch0 = list(sampler)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert sorted(i for i, _ in epoch0) == list(range(10))
    assert epoch0 != epoch1
    sampler.set_epoch(1, start=4)
    assert list(sampler) == epoch1[4:] and len(sampler) == 6
    shards = [EpochSampler(10, seed=3, rank=r, world_size=2) for r in range(2)]
    for shard in shards:
        shard.set_epoch(1)
    indices = [i for shard in shards for i, _ in shard]
    assert sorted(indices) == sorted(i for i, _ in epoch1)


def test_augmentation_is_a_function_of_the_seed(pair_root, tiny_config):
    config = tiny_config.data
    config.load_size, config.flip = 40, True
    dataset = load_split(pair_root, "train", config, augment=True)
    a, b = dataset[(0, 123)], dataset[(0, 123)]
    assert torch.equal(a["color"], b["color"]) and a["color"].shape == (3, 32, 32)
    crops = {dataset[(0, seed)]["color"].sum().item() for seed in range(8)}
    assert len(crops) > 1


def write_colors(folder, count: int) -> None:
    """Color-only images: the color halves of drawn pairs, as JPEG like the anime faces."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        draw_pair(index)[1].save(folder / f"face_{index:03d}.jpg", quality=95)


def test_color_only_images_train_on_fresh_sketches_each_epoch(tmp_path, tiny_config):
    from sketchcolor.data import DataSource
    from sketchcolor.imageio import INK_LEVEL

    write_colors(tmp_path / "faces", 20)
    config = tiny_config.data
    config.color_val_count = 4
    train, (val,) = train_val_sets([DataSource(tmp_path / "faces", colors=True)], config, seed=0)
    assert len(val) == 4 and len(train) == 16 and not set(train.names) & {s.name for s in val.sources}
    first, again, other = train[(0, 11)], train[(0, 11)], train[(0, 12)]
    assert torch.equal(first["sketch"], again["sketch"])  # resumable: a function of the seed
    assert not torch.equal(first["sketch"], other["sketch"])  # another epoch, other lines
    ink = (first["sketch"] + 1) / 2 < INK_LEVEL
    assert 0.005 < ink.float().mean() < 0.5  # outlines drawn, not a blank or black page
    # validation pages keep one sketch per file, the one `data sketchify --seed 0` writes
    page = next(val.batches(1))[0]
    assert page.sketch.mode == "L" and np.asarray(page.sketch).min() < 128
    assert np.array_equal(np.asarray(page.sketch), np.asarray(next(val.batches(1))[0].sketch))


def test_a_share_of_pairs_gets_sketches_drawn_from_their_colors(pair_root, tiny_config):
    config = tiny_config.data
    real = load_split(pair_root, "train", config, augment=True)
    config.redraw_pairs = 0.5
    mixed = load_split(pair_root, "train", config, augment=True)
    redrawn = [not torch.equal(real[(0, seed)]["sketch"], mixed[(0, seed)]["sketch"]) for seed in range(40)]
    assert 8 < sum(redrawn) < 32  # about half: the rest keep the pair's own sketch
    for seed in range(40):  # the colors, crop and flip never change, and a seed always draws the same
        assert torch.equal(real[(0, seed)]["color"], mixed[(0, seed)]["color"])
        assert torch.equal(mixed[(0, seed)]["sketch"], mixed[(0, seed)]["sketch"])


def test_colors_mix_with_pairs_and_keep_their_own_cache_entry(tmp_path, tiny_config):
    from sketchcolor.data import DataSource

    write_pairs(tmp_path / "pairs" / "train", 8)
    write_colors(tmp_path / "faces", 10)
    config = tiny_config.data
    config.color_val_count = 2
    sources = [DataSource(tmp_path / "pairs", repeat=2), DataSource(tmp_path / "faces", colors=True)]
    train, val_sets = train_val_sets(sources, config, seed=0)
    assert [len(v) for v in val_sets] == [1, 2]  # pairs hold out 8 // 5, colors color_val_count
    assert len(train) == 7 * 2 + 8
    # the same files read as pairs would be another decode: the cache keys must differ
    from sketchcolor.data.cache import cache_key
    from sketchcolor.data.sources import find_colors, find_pairs

    folder = tmp_path / "pairs" / "train"
    assert cache_key(find_pairs(folder), 32, "auto") != cache_key(find_colors(folder), 32, "auto")


def test_train_cli_takes_color_only_folders(tmp_path):
    from conftest import run_cli

    write_pairs(tmp_path / "pairs" / "train", 6)
    write_colors(tmp_path / "faces", 10)
    result = run_cli("train", "--config", "tiny", "--data", tmp_path / "pairs", "--colors", f"{tmp_path / 'faces'}@2",
                     "--out", tmp_path / "run", "--set", "data.color_val_count=2",
                     "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "train.epochs=1")
    assert result.returncode == 0, result.stderr
    assert "faces held out" in (tmp_path / "run" / "metrics.jsonl").read_text()  # validated on its held-out images
    bad = run_cli("train", "--config", "tiny", "--data", tmp_path / "pairs", "--colors", f"{tmp_path / 'nope'}@x",
                  "--out", tmp_path / "run2")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith("error: --colors")


def test_evaluate_scores_a_color_only_folder_on_drawn_sketches(tmp_path):
    import json

    from conftest import run_cli

    write_colors(tmp_path / "faces", 3)
    result = run_cli("evaluate", "--baseline", "sketch", "--data", tmp_path / "faces", "--colors", "--size", "64",
                     "--out", tmp_path / "report")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report" / "metrics.json").read_text())
    # the floor is the drawn sketch itself: gray, so far from the colors it was drawn from
    assert report["colors_only"] and report["n"] == 3
    assert report["colorfulness_generated_mean"] < 1 < report["ciede2000_mean"]
