"""Colorizing many files: expanding inputs, batching, and carrying on past bad files."""

from __future__ import annotations

import glob
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from .atomic import atomic_path
from .errors import SketchcolorError
from .hints import Hints, hints_image, read_hints
from .imageio import IMAGE_SUFFIXES, list_images, read_image, write_png
from .inference import Colorizer, Layers
from .runtime import pipelined_threads

log = logging.getLogger("sketchcolor")


def expand_inputs(inputs: list[str] | tuple[str, ...]) -> tuple[list[Path], list[str]]:
    """Files, folders (their images) and globs -> (existing paths, messages for inputs that
    matched nothing).

    A file named explicitly is kept whatever its suffix, so that a mislabelled or broken
    file is reported by name rather than silently ignored.
    """
    paths: list[Path] = []
    missing: list[str] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = list_images(path)
        elif path.is_file():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(item) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
        if found:
            paths.extend(found)
        elif path.is_dir():
            missing.append(f"{item}: no images in this folder")
        else:
            missing.append(f"{item}: no such file, or no image matches it")
    return paths, missing


# In a hints folder. Not NAME.png: pointed at the pages' own folder, that would be the page itself.
HINT_NAMES = ("{stem}.hints.json", "{stem}.json", "{stem}.hints.png")


def hint_file_for(page: Path, hints: Path | None) -> Path | None:
    """The hint file of one page: `hints` itself if it is a file, else the first of HINT_NAMES
    in that folder (matched by the page's stem); None: the page has no hints."""
    if hints is None or hints.is_file():
        return hints
    found = (hints / name.format(stem=page.stem) for name in HINT_NAMES)
    return next((candidate for candidate in found if candidate.is_file()), None)


def colorize_paths(colorizer: Colorizer, paths: list[Path], out_dir: Path, *, layers: bool = False,
                   hints: Path | None = None, progress: bool = True) -> tuple[int, list[Path]]:
    """Colorize `paths` into out_dir/<stem>.png; returns (written count, failed paths).

    `hints`: a hint file (one page) or a folder of them matched by stem (hint_file_for). With
    `layers`, also <stem>.flat.png (the colors), <stem>.lines.png (the gray sketch),
    <stem>.lines-alpha.png (the ink on transparency) and <stem>.hints.png (the hints used) beside it.
    A page that cannot be read, or whose hints cannot, or whose output name another page already
    takes (ch1/001.png and ch2/001.png), or that cannot be written, is reported and skipped.
    `progress`: a progress bar on stderr for two pages or more.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, failed = without_name_clashes(paths, out_dir)
    batches = [paths[start : start + colorizer.batch_size] for start in range(0, len(paths), colorizer.batch_size)]
    written = 0
    # Three stages overlap: the next batch is read while this one runs through the network,
    # and its pages are written while the one after runs (Pillow's decoding and encoding
    # release the GIL). At most two batches of pages wait in memory.
    # Errors are written above the progress bar, each on its own line, not glued to the bar.
    single_threaded_ops = len(batches) > 1 and not getattr(colorizer.run, "keeps_threads", False)
    with (pipelined_threads(single_threaded_ops), ThreadPoolExecutor(2, thread_name_prefix="sketchcolor-io") as files,
          logging_redirect_tqdm(loggers=[log]),
          tqdm(total=len(paths), unit="img", disable=not progress or len(paths) < 2, leave=False) as bar):
        reading = files.submit(_read_batch, batches[0], hints, failed) if batches else None
        saving: list[Future[bool]] = []
        for index in range(len(batches)):
            chunk, images, given = reading.result()
            if index + 1 < len(batches):
                reading = files.submit(_read_batch, batches[index + 1], hints, failed)
            pages = colorizer.submit_layers(images, hints=given if any(given) else None) if images else []
            written += _saved(saving, bar)
            saving = [files.submit(_save_composed, path, page, out_dir, layers, page_hints, failed)
                      for path, page, page_hints in zip(chunk, pages, given)]
            bar.update(len(batches[index]) - len(chunk))  # pages that failed to read
        written += _saved(saving, bar)
    return written, failed


def _saved(saving: list[Future[bool]], bar: tqdm) -> int:
    """Wait for a batch's pages to be written; how many were."""
    done = [future.result() for future in saving]
    bar.update(len(done))
    return sum(done)


def without_name_clashes(paths: list[Path], out_dir: Path) -> tuple[list[Path], list[Path]]:
    """(paths that each have their own output name, paths refused because an earlier one has it):
    two pages never silently write the same file."""
    owner: dict[str, Path] = {}
    kept, clashing = [], []
    for path in paths:
        name = f"{path.stem}.png"
        first = owner.setdefault(name, path)
        if first is path:
            kept.append(path)
            continue
        log.error("%s: skipped, its output %s is %s's; colorize it into another --out folder or rename it",
                  path, out_dir / name, first)
        clashing.append(path)
    return kept, clashing


def _read_batch(batch: list[Path], hints: Path | None,
                failed: list[Path]) -> tuple[list[Path], list[Image.Image], list[Hints | None]]:
    """The batch's readable pages with their hints; unreadable pages or hints are logged and
    added to `failed`."""
    chunk, images, given = [], [], []
    for path in batch:
        try:
            image = read_image(path)
            hint_file = hint_file_for(path, hints)
            page_hints = read_hints(hint_file, image.size) if hint_file else None
        except SketchcolorError as err:
            log.error("%s", err)
            failed.append(path)
            continue
        chunk.append(path)
        images.append(image)
        given.append(page_hints)
    return chunk, images, given


def _save_composed(path: Path, page: Future[Layers], out_dir: Path, layers: bool, hints: Hints | None,
                   failed: list[Path]) -> bool:
    """Write one page once it is composed; a page that cannot be written is logged and added to `failed`."""
    try:
        save_page(page.result(), out_dir / f"{path.stem}.png", layers, hints)
        return True
    except OSError as err:  # a full disk or a forbidden folder: this page is lost, not the run
        log.error("%s: could not write its output (%s)", path, err.strerror or err)
        failed.append(path)
        return False


def save_page(page: Layers, target: Path, layers: bool, hints: Hints | None = None) -> None:
    """Each file written whole or not at all (a full disk leaves no half-written PNG)."""
    images = {target: page.composite}
    if layers and page.flat is not None:
        images.update({target.with_suffix(".flat.png"): page.flat, target.with_suffix(".lines.png"): page.lines,
                       target.with_suffix(".lines-alpha.png"): page.line_art()})
    if layers and hints:
        images[target.with_suffix(".hints.png")] = hints_image(hints, page.composite.size)
    for path, image in images.items():
        with atomic_path(path) as tmp:
            write_png(image, tmp)
