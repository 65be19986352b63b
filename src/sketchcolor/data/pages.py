"""Pairs kept as files and read as whole pages when they are scored: what evaluation and
validation see, so a method is judged on the pages a user would give it (page.py), at
their own size and shape, rather than on a decoded training square."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from ..errors import SketchcolorError
from ..imageio import ImageReadError
from .cache import cache_key
from .restyle import restyle
from .sketchify import file_seed
from .sources import BadPairError, PairSource, aligned_only, find_colors, find_pairs, load_pair, split_dir

log = logging.getLogger("sketchcolor")


@dataclass
class PagePair:
    name: str
    sketch: Image.Image
    color: Image.Image


@dataclass
class PagePairs:
    """A split's pairs, read one batch at a time; unusable ones are skipped with their reason."""

    sources: list[PairSource]
    sketch_side: str = "auto"
    label: str = ""  # names the set in logs (e.g. the dataset folder)
    sketch_style: str = "given"  # each sketch as restyle.py would bring it (given: as read)
    skipped: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sources)

    def limited(self, limit: int | None) -> "PagePairs":
        """The first `limit` pairs (all for None)."""
        return PagePairs(self.sources[:limit], self.sketch_side, self.label, self.sketch_style, self.skipped)

    def fingerprint(self, size: int) -> str:
        """Identifies exactly these pairs scored at this size (for caches of statistics about them)."""
        return cache_key(self.sources, size, self.sketch_side)

    def batches(self, batch_size: int) -> Iterator[list[PagePair]]:
        """The readable pairs, `batch_size` at a time, in order."""
        for start in range(0, len(self.sources), batch_size):
            batch = [pair for source in self.sources[start : start + batch_size] if (pair := self._read(source))]
            if batch:
                yield batch

    def first(self, count: int) -> list[PagePair]:
        """The first `count` readable pairs (for grids of samples)."""
        return next(self.batches(max(1, count)), [])[:count]

    def _read(self, source: PairSource) -> PagePair | None:
        try:
            sketch, color = load_pair(source, self.sketch_side)
            return PagePair(source.name, restyle(sketch, self.sketch_style, file_seed(source.name), color), color)
        except (ImageReadError, BadPairError) as err:
            if source.name not in self.skipped:
                log.error("%s (skipped)", err)
            self.skipped[source.name] = str(err)
            return None


def load_pages(root: str | Path, split: str, sketch_side: str = "auto", *, aligned: bool = False,
               colors: bool = False, sketch_style: str = "given") -> PagePairs:
    """`root/split` as PagePairs; `aligned` keeps only the pairs a manifest marks pixel-aligned;
    `colors`: the folder holds color-only images, each scored on its fixed drawn sketch;
    `sketch_style`: every sketch restyled (restyle.py), as if drawn or captured that way."""
    folder = split_dir(root, split)
    pairs = find_colors(folder) if colors else find_pairs(folder)
    pairs = aligned_only(pairs, folder) if aligned else pairs
    return PagePairs(pairs, sketch_side, f"{folder.parent.name}/{folder.name}", sketch_style)


def held_out(sources: list[PairSource], count: int, seed: int) -> tuple[list[PairSource], list[PairSource]]:
    """(train, held out): `count` pairs drawn by file with a seeded shuffle, for a data set with no val/."""
    if len(sources) < 2:
        raise SketchcolorError(f"need at least 2 pairs to hold one out for validation, found {len(sources)}")
    order = torch.randperm(len(sources), generator=torch.Generator().manual_seed(seed)).tolist()
    held = set(order[:count])
    return ([s for i, s in enumerate(sources) if i not in held], [sources[i] for i in sorted(held)])
