"""Decoded-pair cache: every pair of a split decoded and resized once, kept as a uint8
memory-mapped array so that training epochs never touch PNG decoding again.

The cache file is keyed by a hash of what produced it (file paths, sizes, mtimes, the
decode size and sketch side), written to a temporary name and renamed into place, so a
killed build never leaves a half-written cache behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, atomic_write_text
from ..paths import default_cache_dir
from .sources import PairSource, try_decode

log = logging.getLogger("sketchcolor")
CACHE_VERSION = 3  # 3: pairs letterboxed (page.fit_pair), no longer stretched
MAX_NAMED = 20  # skipped files named in the warning line; the cache index lists them all


@dataclass
class DecodedPairs:
    """A split's usable pairs: `array[i]` is (size, size, 4) uint8 for `names[i]`."""

    array: np.ndarray
    names: list[str]
    skipped: dict[str, str]  # file name -> reason
    key: str = ""  # hash of what was decoded (files, size, side): names this data in other caches


def cache_key(sources: list[PairSource], size: int, sketch_side: str) -> str:
    digest = hashlib.sha256(f"v{CACHE_VERSION}|{size}|{sketch_side}".encode())
    for source in sources:
        for path in (source.path, source.color_path):
            if path is not None:
                stat = path.stat()
                digest.update(f"|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        if source.drawn:  # the same file as a color-only image decodes to another pair
            digest.update(b"|drawn")
    return digest.hexdigest()[:24]


def load_decoded(
    sources: list[PairSource], size: int, sketch_side: str, cache_dir: str | Path | None, workers: int = 2
) -> DecodedPairs:
    """Decode `sources` (or reuse the cached result) and warn once about skipped files."""
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    key = cache_key(sources, size, sketch_side)
    array_path, index_path = folder / f"{key}.npy", folder / f"{key}.json"
    if not (array_path.exists() and index_path.exists()):
        _build(sources, size, sketch_side, array_path, index_path, workers)
    index = json.loads(index_path.read_text())
    array = np.load(array_path, mmap_mode="r")[: len(index["names"])]
    decoded = DecodedPairs(array, index["names"], index["skipped"], key)
    if decoded.skipped:
        reasons = list(decoded.skipped.values())
        listed = "; ".join(reasons[:MAX_NAMED])
        more = f"; and {len(reasons) - MAX_NAMED} more (all listed in {index_path})" if len(reasons) > MAX_NAMED else ""
        log.warning("skipped %d of %d pairs: %s%s", len(reasons), len(sources), listed, more)
    return decoded


def _build(sources, size, sketch_side, array_path: Path, index_path: Path, workers: int) -> None:
    array_path.parent.mkdir(parents=True, exist_ok=True)
    names, skipped = [], {}
    with atomic_path(array_path) as tmp:
        # Rows are written as they are decoded (memory stays flat); skipped files leave unused
        # rows at the end, which the index's count excludes.
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(sources), size, size, 4))
        with ThreadPoolExecutor(max(1, workers)) as pool:  # PIL releases the GIL while decoding
            results = pool.map(lambda s: try_decode(s, size, sketch_side), sources)
            for source, (pixels, reason) in zip(sources, results):
                if pixels is None:
                    skipped[source.name] = reason
                else:
                    out[len(names)] = pixels
                    names.append(source.name)
        out.flush()
        del out
    atomic_write_text(index_path, json.dumps({"names": names, "skipped": skipped}))
