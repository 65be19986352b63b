"""Training: the GAN loop, its sample grids and logs."""

from .cyclegan import CycleGANTrainer, make_trainer
from .trainer import Trainer

__all__ = ["CycleGANTrainer", "Trainer", "make_trainer"]
