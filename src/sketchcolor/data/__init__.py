"""Datasets of sketch/color pairs and the builders that make them."""

from .dataset import EpochSampler, PairDataset, load_split, train_val_sets
from .sources import PairSource, find_pairs, split_dir

__all__ = ["EpochSampler", "PairDataset", "PairSource", "find_pairs", "load_split", "split_dir", "train_val_sets"]
