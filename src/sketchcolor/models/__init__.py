"""Networks, built by name: `build_generator(config.generator)`, `build_discriminator(...)`."""

from . import discriminator, resnet_generator, unet  # noqa: F401  (importing registers the architectures)
from .registry import build_discriminator, build_generator, generator_inputs

__all__ = ["build_generator", "build_discriminator", "generator_inputs"]
