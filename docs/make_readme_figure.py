"""Draw docs/images/readme-example.png: OpenMoji test-split outlines | the bundled model's
colors | OpenMoji's own colors.

    python docs/make_readme_figure.py --package openmoji-17.0.0.tgz   # from `npm pack openmoji`
"""

from __future__ import annotations

import argparse
import tarfile
from pathlib import Path

from PIL import Image

from sketchcolor import Colorizer
from sketchcolor.data.openmoji import render_svg

# Test-split emoji (never trained on): cat, dragon face, hibiscus, hamster.
EMOJI = ("1F408", "1F432", "1F33A", "1F439")
SIZE = 256


def render(package: tarfile.TarFile, kind: str, code: str) -> Image.Image:
    return Image.fromarray(render_svg(package.extractfile(f"package/{kind}/svg/{code}.svg").read(), SIZE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--package", type=Path, required=True, help="openmoji .tgz")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "images" / "readme-example.png")
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained()
    with tarfile.open(args.package) as package:
        rows = [(render(package, "black", c), render(package, "color", c)) for c in EMOJI]
    figure = Image.new("RGB", (3 * SIZE * 2 + SIZE // 4, SIZE * 2), "white")
    for index, (sketch, real) in enumerate(rows):
        x, y = (index % 2) * (3 * SIZE + SIZE // 4), (index // 2) * SIZE
        for column, image in enumerate((sketch, colorizer(sketch), real)):
            figure.paste(image.convert("RGB"), (x + column * SIZE, y))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
