"""CycleGAN baseline: unpaired batches, the history pool, resume, and colorize like any model."""

import json

import torch

from sketchcolor import Colorizer
from sketchcolor.config import load_config
from sketchcolor.data import UnpairedPairs, load_split
from sketchcolor.train import CycleGANTrainer, make_trainer
from sketchcolor.train.cyclegan import ImagePool

SMALL = ["data.size=32", "data.load_size=36", "generator.ngf=8", "generator.blocks=2", "discriminator.ndf=8",
         "train.batch_size=2", "train.epochs=2", "train.lr_decay_epochs=1", "train.image_pool=3",
         "data.num_workers=0", "eval.every=1", "data.val_count=4", "data.grid_count=2"]


def small_cyclegan(tmp_path):
    return load_config("cyclegan", SMALL + [f"data.cache_dir={tmp_path / 'cache'}"])


def test_unpaired_batches_break_the_pairing_reproducibly(pair_root, tiny_config):
    paired = load_split(pair_root, "train", tiny_config.data, augment=True)
    unpaired = UnpairedPairs(paired)
    items = [(i, 1000 + i) for i in range(len(paired))]
    mismatched = sum(not torch.equal(unpaired[it]["color"], paired[it]["color"]) for it in items)
    assert mismatched >= len(items) // 2
    assert all(torch.equal(unpaired[it]["sketch"], paired[it]["sketch"]) for it in items)
    assert all(torch.equal(unpaired[it]["color"], unpaired[it]["color"]) for it in items[:4])


def test_image_pool_fills_then_mixes_history():
    torch.manual_seed(0)
    pool = ImagePool(3, 1, 2)
    first = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    assert torch.equal(pool.query(first), first) and int(pool.count) == 3  # filling: returned as given
    later = torch.full((8, 1, 2, 2), 9.0)
    out = pool.query(later)
    old = (out[:, 0, 0, 0] < 9).sum().item()
    assert 0 < old < 8  # some from history, some new
    assert (pool.images[:, 0, 0, 0] == 9).sum().item() == old  # each taken one was replaced


def test_cyclegan_trains_resumes_exactly_and_colorizes(tmp_path, pair_root):
    config = small_cyclegan(tmp_path)
    straight = make_trainer(config, tmp_path / "straight", pair_root)
    assert isinstance(straight, CycleGANTrainer)
    straight.fit()
    interrupted = make_trainer(config.with_overrides(["train.max_steps=5"]), tmp_path / "resumed", pair_root)
    interrupted.fit()
    resumed = make_trainer(config, tmp_path / "resumed", pair_root)
    assert resumed.resume() and resumed.step == 5
    resumed.fit()
    for name, tensor in straight.state.color_to_sketch.state_dict().items():
        assert torch.equal(tensor, resumed.state.color_to_sketch.state_dict()[name]), name
    for name, tensor in straight.state.generator.state_dict().items():
        assert torch.equal(tensor, resumed.state.generator.state_dict()[name]), name
    assert straight.state.g_opt.param_groups[0]["lr"] == config.train.lr / 2  # last epoch of a 1-epoch decay
    records = [json.loads(line) for line in (tmp_path / "straight" / "log.jsonl").read_text().splitlines()]
    assert any("g/cycle" in r and "g/identity" in r and "d/sketch" in r for r in records)
    colorizer = Colorizer.from_pretrained(tmp_path / "straight", device="cpu", backend="torch")
    assert colorizer.generator.__class__.__name__ == "ResnetGenerator"
    from PIL import Image

    assert colorizer(Image.new("L", (45, 30), 255)).size == (45, 30)
