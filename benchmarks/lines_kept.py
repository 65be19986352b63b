"""Check a folder of colorized pages against their sketches: same size, every line kept.

    sketchcolor data split ../shared/data/anime-pairs/artists --out /tmp/artists
    sketchcolor colorize /tmp/artists/sketch -o /tmp/artists-colored
    python benchmarks/lines_kept.py /tmp/artists/sketch /tmp/artists-colored

Prints one JSON object: how many pages were checked, how many are at their sketch's full
size and keep every ink pixel at least as dark (`sketchcolor.compose.lines_kept`), the
sizes seen, and the names of any that fail. Exit code 1 when any fails or is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image

from sketchcolor.compose import lines_intact
from sketchcolor.imageio import list_images, read_image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sketches", type=Path)
    parser.add_argument("colored", type=Path)
    args = parser.parse_args()
    failed, sizes = [], []
    sketches = list_images(args.sketches)
    for path in sketches:
        target = args.colored / f"{path.stem}.png"
        if not target.exists():
            failed.append(f"{path.name}: no output")
            continue
        sketch = read_image(path)
        with Image.open(target) as colored:
            if not lines_intact(sketch, colored):
                failed.append(f"{path.name}: size {colored.size} vs {sketch.size} or a line lost")
        sizes.append(sketch.size)
    report = {"checked": len(sketches), "full_size_lines_kept": len(sketches) - len(failed),
              "min_size": min(sizes, default=None), "max_size": max(sizes, default=None), "failed": failed}
    print(json.dumps(report, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
