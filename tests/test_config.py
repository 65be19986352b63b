import pytest

from sketchcolor.config import PRESET_DIR, Config, load_config
from sketchcolor.errors import SketchcolorError


def test_every_preset_loads_and_round_trips(tmp_path):
    presets = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
    assert {"paper", "pix2pix", "tiny"} <= set(presets)
    for name in presets:
        config = load_config(name)
        config.save(tmp_path / f"{name}.yaml")
        assert load_config(tmp_path / f"{name}.yaml") == config


def test_paper_preset_matches_the_paper():
    config = load_config("paper")
    assert (config.train.batch_size, config.train.lr, config.train.epochs) == (100, 2e-4, 300)
    assert config.generator.depth == 8 and config.generator.activation == "mish" and config.generator.residual
    assert config.loss.l1_power == 2 and config.loss.tv_power == 2 and config.loss.gp_weight > 0
    pix2pix = load_config("pix2pix")
    assert not pix2pix.generator.residual and pix2pix.loss.gp_weight == 0 and pix2pix.loss.l1_power == 1


def test_overrides_parse_yaml_scalars():
    config = load_config("tiny", ["train.lr=1e-3", "data.flip=true", "data.load_size=40", "train.max_steps=null"])
    assert config.train.lr == 1e-3 and config.data.flip is True and config.data.load_size == 40
    assert config.train.max_steps is None
    assert load_config("tiny", ["train.epochs=3"]).train.epochs == 3


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.nope=1", "unknown config key"),
        ("train.lr", "not of the form"),
        ("train.epochs=many", "train.epochs must be int"),
        ("data.flip=3", "data.flip must be bool"),
        ("data.sketch_side=top", "data.sketch_side must be one of auto, left, right"),
        ("generator.output=lines", "generator.output must be one of image, flat"),
        ("data.size=40", "data.size 40 must be a multiple of"),  # the U-Net could not halve it
        ("train.ema_decay=1", r"ema_decay must be in \[0, 1\)"),
    ],
)
def test_bad_overrides_are_named(override, message):
    with pytest.raises(SketchcolorError, match=message):
        load_config("tiny", [override])


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(SketchcolorError, match="presets: .*paper"):
        load_config("no-such-preset")


def test_unknown_yaml_key_is_rejected(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("generator:\n  widht: 3\n")
    with pytest.raises(SketchcolorError, match="widht"):
        load_config(path)
    assert Config.from_dict({}) == Config()


def test_only_the_paired_trainer_trains_a_generator_that_paints_under_the_lines():
    assert load_config("tiny", ["generator.output=flat"]).generator.output == "flat"
    with pytest.raises(SketchcolorError, match="needs train.trainer=paired"):
        load_config("cyclegan", ["generator.output=flat"])
