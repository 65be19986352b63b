"""Colorizing many files: expanding inputs, batching, and carrying on past bad files."""

from __future__ import annotations

import glob
import logging
from pathlib import Path

from tqdm import tqdm

from .imageio import IMAGE_SUFFIXES, ImageReadError, list_images, read_image
from .inference import Colorizer, Layers

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


def colorize_paths(colorizer: Colorizer, paths: list[Path], out_dir: Path, *,
                   layers: bool = False) -> tuple[int, list[Path]]:
    """Colorize `paths` into out_dir/<stem>.png; returns (written count, failed paths).

    With `layers`, also <stem>.flat.png (the colors), <stem>.lines.png (the gray sketch)
    and <stem>.lines-alpha.png (the ink on transparency) beside it.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written, failed = 0, []
    bar = tqdm(total=len(paths), unit="img", disable=len(paths) < 2, leave=False)
    for start in range(0, len(paths), colorizer.batch_size):
        chunk, images = [], []
        for path in paths[start : start + colorizer.batch_size]:
            try:
                images.append(read_image(path))
                chunk.append(path)
            except ImageReadError as err:
                log.error("%s", err)
                failed.append(path)
        for path, page in zip(chunk, colorizer.layers(images) if images else []):
            save_page(page, out_dir / f"{path.stem}.png", layers)
            written += 1
        bar.update(len(paths[start : start + colorizer.batch_size]))
    bar.close()
    return written, failed


def save_page(page: Layers, target: Path, layers: bool) -> None:
    page.composite.save(target)
    if layers and page.flat is not None:
        page.flat.save(target.with_suffix(".flat.png"))
        page.lines.save(target.with_suffix(".lines.png"))
        page.line_art().save(target.with_suffix(".lines-alpha.png"))
