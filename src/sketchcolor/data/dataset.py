"""Torch datasets over decoded pairs, with augmentation that is reproducible on resume.

Each sample's augmentation is drawn from a seed that the sampler hands out with its
index, so the same (epoch, position) gets the same crop and flip whether training ran
straight through, was resumed, or loads in worker processes. Color-only images get their
sketch drawn from that seed too: fresh lines, in a random style, every epoch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..errors import SketchcolorError
from .augment import Jitter, augment
from .cache import DecodedPairs, load_decoded
from .pages import PagePairs, held_out, load_pages
from ..hints import draw_hints, hint_count, simulate_hints
from ..page import Box
from .sketchify import LineStyle, redraw_sketch
from .sources import PairSource, aligned_only, find_colors, find_pairs, split_dir


class PairDataset(Dataset):
    """Aligned (sketch, color) pairs as tensors in [-1, 1]: sketch (1, S, S), color (3, S, S).

    Indexed by an int (evaluation: the centre crop) or by (index, seed) from EpochSampler
    (training: the augmentation drawn from that seed). With `redraw`, training samples get a
    sketch drawn from their colors in that line style, from the same seed. With `hints` (a
    config.HintConfig), training samples also get "hints" (4, S, S): color hints drawn from
    their true colors, from the same seed.
    """

    def __init__(self, decoded: DecodedPairs, *, size: int, jitter: Jitter | None = None, indices=None,
                 redraw: LineStyle | None = None, redraw_share: float = 1.0, hints=None) -> None:
        self.decoded = decoded
        self.size = size
        self.jitter = jitter or Jitter(size)
        self.indices = list(range(len(decoded.names)) if indices is None else indices)
        self.redraw = redraw
        self.redraw_share = redraw_share
        self.hints = hints

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def names(self) -> list[str]:
        """The file each pair came from, in index order."""
        return [self.decoded.names[i] for i in self.indices]

    def fingerprint(self) -> str:
        """Identifies exactly these pairs at this size (for caches of statistics about them)."""
        digest = hashlib.sha256(f"{self.decoded.key}|{self.size}|{self.indices}".encode())
        return digest.hexdigest()[:24]

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = item if isinstance(item, tuple) else (item, None)
        pixels = np.asarray(self.decoded.array[self.indices[index]])
        if seed is not None:
            if self.redraw is not None and self._redrawn(seed):  # own streams: crop and flip stay as without it
                pixels = redraw_sketch(pixels, (seed, 1), self.redraw)
            tensor = augment(pixels, self.jitter, np.random.default_rng(seed)) * 2 - 1
        else:
            offset = (pixels.shape[0] - self.size) // 2  # evaluation: the centre crop
            pixels = pixels[offset : offset + self.size, offset : offset + self.size]
            tensor = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))).float() / 127.5 - 1.0
        sample = {"sketch": tensor[:1], "color": tensor[1:]}
        if seed is not None and self.hints is not None:
            sample["hints"] = self._hints(tensor, seed)
        return sample

    def _redrawn(self, seed: int) -> bool:
        return self.redraw_share >= 1 or np.random.default_rng((seed, 3)).random() < self.redraw_share

    def _hints(self, tensor: torch.Tensor, seed: int) -> torch.Tensor:
        """Hint channels for one augmented sample, drawn from its true colors (own stream)."""
        rng = np.random.default_rng((seed, 2))
        pixels = ((tensor + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        hints = simulate_hints(pixels[..., 1:], pixels[..., 0], hint_count(rng, self.hints), rng, self.hints)
        height, width = pixels.shape[:2]
        return draw_hints(hints, (width, height), Box(0, 0, height, width), (height, width), sketch=tensor[:1],
                          reach=round(self.hints.spread * max(height, width)))


class MixedPairs(Dataset):
    """Several training sets as one, each repeated a whole number of times per epoch, so a
    small set (38 anime pairs) is seen as often as the large one it is mixed with."""

    def __init__(self, parts: list[tuple[PairDataset, int]]) -> None:
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(part) * repeat for part, repeat in parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, item: tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = item
        which = int(np.searchsorted(self.offsets, index, side="right")) - 1
        part = self.parts[which][0]
        return part[((index - int(self.offsets[which])) % len(part), seed)]


class UnpairedPairs(Dataset):
    """CycleGAN's view of a paired set: each sketch comes with the colors of another pair,
    drawn from the sample's own seed, so the two domains are shuffled independently (and
    reproducibly on resume) and no pairing information reaches the model."""

    def __init__(self, paired: Dataset) -> None:
        self.paired = paired

    def __len__(self) -> int:
        return len(self.paired)

    def __getitem__(self, item: tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = item
        other = int(np.random.default_rng([seed, 1]).integers(len(self.paired)))
        return {"sketch": self.paired[(index, seed)]["sketch"], "color": self.paired[(other, seed + 1)]["color"]}


class EpochSampler(Sampler):
    """Yields (index, augmentation seed) pairs: a fresh seeded shuffle every epoch, this
    process's share of it under DDP, optionally starting part-way (resume).

    Ranks take the epoch's order in stride (rank, rank + world, ...), so that step k of N
    processes with batch B/N sees exactly the samples, with the same augmentation, that
    step k of one process with batch B sees.
    """

    def __init__(self, length: int, *, seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1):
        self.length, self.seed, self.shuffle = length, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch's order; skip this process's first `start` samples (already trained on)."""
        self.epoch, self.start = epoch, start

    def order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.length))
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(self.length, generator=generator).tolist()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = self.order()
        usable = self.length - self.length % self.world_size  # equal shares keep ranks in step
        for position in range(self.rank + self.start * self.world_size, usable, self.world_size):
            seed = (self.seed * 1_000_003 + self.epoch) * 10_000_019 + position
            yield order[position], seed % (2**63)

    def __len__(self) -> int:
        return self.length // self.world_size - self.start


@dataclass(frozen=True)
class DataSource:
    """A dataset folder, how many times its training pairs are repeated per epoch, and
    whether it holds color-only images (sketches drawn for them) rather than pairs."""

    root: Path
    repeat: int = 1
    colors: bool = False

    @classmethod
    def parse(cls, text: str | Path, *, colors: bool = False) -> "DataSource":
        """`DIR` or `DIR@N` (repeat N times); a path that exists as written is never split."""
        path = Path(text)
        folder, sep, count = str(text).rpartition("@")
        if path.exists() or not sep:
            return cls(path, colors=colors)
        if not count.isdigit() or int(count) < 1:
            option = "--colors" if colors else "--data"
            raise SketchcolorError(f"{option} {text}: the repeat after @ must be a whole number of at least 1")
        return cls(Path(folder), int(count), colors)


def load_split(root: str | Path, split: str, data_config, *, augment: bool, aligned: bool = False) -> PairDataset:
    """Decode (or reuse the cache of) `root/split` as a PairDataset, given a DataConfig;
    `aligned` keeps only the pairs a manifest marks as pixel-aligned."""
    folder = split_dir(root, split)
    pairs = aligned_only(find_pairs(folder), folder) if aligned else find_pairs(folder)
    return _decoded_set(pairs, folder, data_config, augment=augment)


def _decoded_set(pairs: list[PairSource], folder: Path, data_config, *, augment: bool,
                 redraw: bool = False, hints=None) -> PairDataset:
    decode_size = (data_config.load_size or data_config.size) if augment else data_config.size
    decoded = load_decoded(
        pairs, decode_size, data_config.sketch_side, data_config.cache_dir, data_config.num_workers
    )
    if not decoded.names:
        raise SketchcolorError(f"no usable image pairs in {folder}")
    # Color-only sets always get drawn sketches; pairs a share `data_config.redraw_pairs` of the time.
    share = 1.0 if redraw else data_config.redraw_pairs
    return PairDataset(decoded, size=data_config.size, jitter=Jitter.from_config(data_config) if augment else None,
                       redraw=LineStyle() if share > 0 and augment else None, redraw_share=share,
                       hints=hints if augment else None)


def validation_hold_out(pairs: list[PairSource], data_config, seed: int, *,
                        colors: bool) -> tuple[list[PairSource], list[PairSource]]:
    """(train, held out) of a source with no val/ split: `data_config.color_val_count` images of
    a color-only source, `data_config.val_count` pairs of another, never more than a fifth."""
    count = data_config.color_val_count if colors else data_config.val_count
    return held_out(pairs, max(1, min(count, len(pairs) // 5)), seed)


def train_val_sets(sources: str | Path | list[DataSource], data_config, seed: int,
                   hints=None) -> tuple[Dataset, list[PagePairs]]:
    """The train set and the validation sets, each kept as pages (data/pages.py).

    Every source with a `val/` split gives one validation set. A first source without one
    holds out `data_config.val_count` of its train pairs (by file) instead, so a plain folder
    of pairs can be trained on; a color-only source without one holds out
    `data_config.color_val_count` images, scored on their fixed drawn sketches. The train
    set mixes all sources, each repeated as asked; with `hints` (a config.HintConfig) its
    samples carry simulated color hints.
    """
    if not isinstance(sources, list):
        sources = [DataSource(Path(sources))]
    parts: list[tuple[PairDataset, int]] = []
    val_sets: list[PagePairs] = []
    for index, source in enumerate(sources):
        folder = split_dir(source.root, "train")
        pairs = find_colors(folder) if source.colors else find_pairs(folder)
        if (source.root / "val").is_dir():
            val_sets.append(load_pages(source.root, "val", data_config.sketch_side, colors=source.colors))
        elif index == 0 or source.colors:
            pairs, kept = validation_hold_out(pairs, data_config, seed, colors=source.colors)
            val_sets.append(PagePairs(kept, data_config.sketch_side, f"{folder.parent.name}/{folder.name} held out"))
        parts.append((_decoded_set(pairs, folder, data_config, augment=True, redraw=source.colors,
                                   hints=hints), source.repeat))
    if len(parts) == 1 and parts[0][1] == 1:
        return parts[0][0], val_sets
    return MixedPairs(parts), val_sets
