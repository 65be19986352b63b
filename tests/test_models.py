import pytest
import torch

from sketchcolor.config import load_config
from sketchcolor.errors import SketchcolorError
from sketchcolor.models import build_discriminator, build_generator
from sketchcolor.models.unet import ResUNet


@pytest.mark.parametrize("preset", ["tiny", "paper", "pix2pix"])
def test_generator_and_discriminator_shapes(preset):
    config = load_config(preset, ["generator.ngf=4", "discriminator.ndf=4"])
    size = 2 ** config.generator.depth  # the smallest input the U-Net accepts
    generator, discriminator = build_generator(config.generator), build_discriminator(config.discriminator)
    sketch = torch.randn(2, 1, size, size)
    fake = generator(sketch)
    assert fake.shape == (2, 3, size, size)
    assert fake.abs().max() <= 1.0  # tanh output
    logits = discriminator(sketch, fake)
    assert logits.shape[:2] == (2, 1) and logits.shape[2] >= 1


def test_paper_generator_has_8_convolutions_down_and_7_transposed_up_plus_output():
    net = ResUNet(ngf=4, depth=8, residual=False)
    strided = [m for m in net.down.modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    transposed = [m for m in net.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(strided) == 8
    assert len(transposed) == 8  # 7 up-sampling stages + the output layer


def test_residual_units_and_mish_are_where_configured():
    net = ResUNet(ngf=4, depth=6, residual=True, residual_from=3, activation="mish")
    units = [m for m in net.modules() if type(m).__name__ == "ResidualUnit"]
    assert len(units) == 2 + 2  # encoder and decoder levels 3 and 4 (not the 1x1 bottleneck, level 5)
    assert any(isinstance(m, torch.nn.Mish) for m in net.modules())
    assert not any(isinstance(m, torch.nn.ReLU) for m in net.modules())


@pytest.mark.parametrize("preset", ["tiny", "pix2pix"])
def test_every_parameter_gets_a_finite_gradient(preset):
    torch.manual_seed(0)
    config = load_config(preset, ["generator.ngf=4", "discriminator.ndf=4", "generator.depth=5"])
    generator, discriminator = build_generator(config.generator), build_discriminator(config.discriminator)
    sketch = torch.randn(2, 1, 32, 32)
    loss = discriminator(sketch, generator(sketch)).mean()
    loss.backward()
    for module in (generator, discriminator):
        for name, param in module.named_parameters():
            assert param.grad is not None, name
            assert torch.isfinite(param.grad).all(), name
    assert torch.isfinite(loss)


def test_unknown_names_are_clear_errors():
    config = load_config("tiny")
    config.generator.name = "nope"
    with pytest.raises(SketchcolorError, match="unknown generator 'nope'"):
        build_generator(config.generator)
    config = load_config("tiny", ["generator.activation=gelu"])
    with pytest.raises(SketchcolorError, match="unknown activation"):
        build_generator(config.generator)
