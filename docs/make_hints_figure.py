"""Draw docs/images/hints-example.png: OpenMoji test-split outlines colorized by the bundled model
without hints, with 8 hints of OpenMoji's own colors, and with the same hints' hues turned.

Per row: no hints | the hints on the outline | the result | the result with small gaps closed
(`--hint-gap 0.016`) | the turned hints | the result | OpenMoji's colors. Hints are drawn from
OpenMoji's colors exactly as `evaluate --hints` draws them (seed 0 per emoji), so the figure
shows what the measured numbers measure.

    python docs/make_hints_figure.py --package openmoji-17.0.0.tgz   # from `npm pack openmoji`
"""

from __future__ import annotations

import argparse
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from sketchcolor import Colorizer
from sketchcolor.config import HintConfig
from sketchcolor.data.openmoji import render_svg
from sketchcolor.hints import Hints, hints_image, rotate_hue, simulate_hints

EMOJI = ("1F408", "1F33A", "1F439")  # test split (never trained on): cat, hibiscus, hamster
SIZE = 256
HINTS = 8
CLOSE_GAP = 0.016  # as the web page's "Close small gaps"


def render(package: tarfile.TarFile, kind: str, code: str) -> Image.Image:
    return Image.fromarray(render_svg(package.extractfile(f"package/{kind}/svg/{code}.svg").read(), SIZE)).convert("RGB")


def with_hints(sketch: Image.Image, hints: Hints) -> Image.Image:
    """The outline with the hints painted over it, each ringed in white so it reads on any color."""
    layer = hints_image(hints, sketch.size)
    ring = layer.getchannel("A").filter(ImageFilter.MaxFilter(5))
    shown = sketch.copy()
    shown.paste((255, 255, 255), mask=ring)
    shown.paste(layer, mask=layer)
    return shown


def figure_arguments(description: str, image: str) -> argparse.Namespace:
    """--package (the OpenMoji .tgz), --model and --out, as every OpenMoji figure script takes them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--package", type=Path, required=True, help="openmoji .tgz")
    parser.add_argument("--model", default=None, help="model directory [default: the bundled model]")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "images" / image)
    return parser.parse_args()


def draw_rows(args: argparse.Namespace, row: Callable[[Colorizer, str, Image.Image, Image.Image], tuple]) -> None:
    """The figure at args.out: `row(colorizer, code, outline, colors)` for each of EMOJI."""
    colorizer = Colorizer.from_pretrained(args.model, backend="torch", precision="fp32")
    with tarfile.open(args.package) as package:
        rows = [row(colorizer, code, render(package, "black", code), render(package, "color", code)) for code in EMOJI]
    figure = Image.new("RGB", (max(len(images) for images in rows) * SIZE, len(rows) * SIZE), "white")
    for top, images in enumerate(rows):
        for column, image in enumerate(images):
            figure.paste(image.convert("RGB"), (column * SIZE, top * SIZE))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.save(args.out)
    print(f"wrote {args.out}")


def hint_row(colorizer: Colorizer, code: str, sketch: Image.Image, real: Image.Image) -> tuple:
    rng = np.random.default_rng([0, zlib.crc32(code.encode())])
    true = simulate_hints(np.asarray(real), np.asarray(sketch.convert("L")), HINTS, rng, HintConfig(), chromatic=True)
    turned = rotate_hue(true, rng)
    return (colorizer(sketch), with_hints(sketch, true), colorizer(sketch, hints=true),
            colorizer(sketch, hints=true, hint_gap=CLOSE_GAP), with_hints(sketch, turned),
            colorizer(sketch, hints=turned), real)


def main() -> None:
    draw_rows(figure_arguments(__doc__, "hints-example.png"), hint_row)


if __name__ == "__main__":
    main()
