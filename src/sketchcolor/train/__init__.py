"""Training: the GAN loop, its sample grids and logs."""

from .trainer import Trainer

__all__ = ["Trainer"]
