"""Datasets of sketch/color pairs and the builders that make them."""

from .dataset import DataSource, EpochSampler, MixedPairs, PairDataset, UnpairedPairs, load_split, train_val_sets
from .pages import PagePair, PagePairs, load_pages
from .sources import PairSource, find_pairs, split_dir

__all__ = ["DataSource", "EpochSampler", "MixedPairs", "PagePair", "PagePairs", "PairDataset", "PairSource",
           "find_pairs", "load_pages", "load_split", "split_dir", "train_val_sets", "UnpairedPairs"]
