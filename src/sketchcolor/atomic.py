"""Atomic writes: write a temporary sibling, then rename it into place, so a reader (or a
killed process) never sees a half-written checkpoint, cache or report.

A file is replaced by one `os.replace`. A folder (a model directory, a training state) is
written whole under a temporary name, synced, then swapped in by two renames: the old folder
aside, the new one in. A kill between the two leaves no folder at its name but the complete
old one aside, which `recover_directory` puts back.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Collection
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import SketchcolorError

log = logging.getLogger("sketchcolor")


def _file_mode() -> int:
    """The mode `open` gives a new file under this process's umask (read once: setting it is the
    only way to read it)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def partial_directory(path: Path) -> Path:
    """Where a folder is written before it takes `path`'s place (never trusted: it may be half-written)."""
    return path.with_name(f".{path.name}.tmp")


def aside_directory(path: Path) -> Path:
    """Where the previous, complete `path` waits while the new one is renamed in."""
    return path.with_name(f".{path.name}.old")


@contextmanager
def atomic_directory(path: str | Path, *, owned: Collection[str]) -> Iterator[Path]:
    """Yield an empty folder next to `path`; fill it, and on success it replaces `path` whole.

    An existing `path` is replaced only if it holds nothing but files named in `owned` (and
    hidden litter such as .DS_Store): a folder of other things (a --out typo) is refused, never deleted.
    """
    path = Path(os.path.abspath(path))  # "." and "x/.." have no name to put a sibling beside
    recover_directory(path)
    if path.exists():
        strangers = ([p.name for p in path.iterdir() if p.name not in owned and not p.name.startswith(".")]
                     if path.is_dir() else [path.name])
        if strangers:
            raise SketchcolorError(f"{path} exists and holds other things ({', '.join(sorted(strangers)[:3])}); "
                                   "not replacing it: choose another folder")
    tmp, aside = partial_directory(path), aside_directory(path)
    shutil.rmtree(tmp, ignore_errors=True)  # left by a write that was killed
    tmp.mkdir(parents=True)
    try:
        yield tmp
        for file in tmp.iterdir():
            _fsync(file)
        _fsync(tmp)
        replacing = path.exists()
        if replacing:
            os.rename(path, aside)
        try:
            os.rename(tmp, path)
        except BaseException:
            recover_directory(path)
            raise
        _fsync(path.parent)
        if replacing:
            shutil.rmtree(aside)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def recover_directory(path: str | Path) -> None:
    """Complete or undo a folder replacement a kill interrupted: with no `path`, the complete old
    folder comes back from aside; with one, the aside folder is a leftover and goes. Only the
    process that writes `path` calls this (a reader could race a live swap)."""
    path = Path(os.path.abspath(path))
    aside = aside_directory(path)
    if not aside.exists():
        return
    if path.exists():
        shutil.rmtree(aside, ignore_errors=True)
        return
    try:
        os.rename(aside, path)
    except FileNotFoundError:  # another process (a training rank) put it back first
        return
    log.warning("%s: a replacement was interrupted; restored the previous complete folder", path)


def _fsync(path: Path) -> None:
    """Flush `path` to disk, so a rename can never publish a folder whose data is still in memory."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except PermissionError:  # Windows cannot open a folder; its renames are ordered anyway
        if path.is_dir():
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
