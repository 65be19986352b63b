"""Training: the state a run saves and resumes, the GAN loop that advances it, grids and logs."""

from .cyclegan import CycleGANState, CycleGANTrainer, make_trainer
from .state import TrainState
from .trainer import Trainer

__all__ = ["CycleGANState", "CycleGANTrainer", "TrainState", "Trainer", "make_trainer"]
