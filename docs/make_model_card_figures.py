"""Draw the figures of MODEL_CARD.md from OpenMoji and our own drawing code only (never the
third-party anime images):

- model-card-openmoji.png: test-split outlines | bundled model | pix2pix-small floor | OpenMoji's colors;
- model-card-stress.png: the same outlines as a scanned pencil page (gray paper, grain, light
  lines), thick-lined, and several emoji on one wide page, each | bundled model.

    python docs/make_model_card_figures.py --package openmoji-17.0.0.tgz --floor runs/pix2pix-small-stage4
"""

from __future__ import annotations

import argparse
import tarfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sketchcolor import Colorizer
from sketchcolor.data.augment import line_weight, paper
from sketchcolor.data.openmoji import render_svg
from sketchcolor.imageio import to_pil, to_tensor

# Test-split emoji (never trained on): cat, dragon face, hibiscus, hamster, tram, teapot.
EMOJI = ("1F408", "1F432", "1F33A", "1F439", "1F68B", "1FAD6")
SIZE = 256


def render(package: tarfile.TarFile, kind: str, code: str, size: int = SIZE) -> Image.Image:
    return Image.fromarray(render_svg(package.extractfile(f"package/{kind}/svg/{code}.svg").read(), size)).convert("RGB")


def strip(images: list[Image.Image], height: int = SIZE) -> Image.Image:
    widths = [round(i.width * height / i.height) for i in images]
    out = Image.new("RGB", (sum(widths) + 8 * (len(images) - 1), height), "white")
    x = 0
    for image, width in zip(images, widths):
        out.paste(image.convert("RGB").resize((width, height)), (x, 0))
        x += width + 8
    return out


def stack(rows: list[Image.Image]) -> Image.Image:
    out = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows) + 8 * (len(rows) - 1)), "white")
    y = 0
    for row in rows:
        out.paste(row, (0, y))
        y += row.height + 8
    return out


def pencil(sketch: Image.Image, seed: int) -> Image.Image:
    """Our augmentation's paper jitter, at its strongest, as a stand-in for a scanned pencil page."""
    tensor = (to_tensor(sketch, 1) + 1) / 2
    return to_pil(paper(tensor, np.random.default_rng(seed)) * 2 - 1)


def thick(sketch: Image.Image) -> Image.Image:
    tensor = (to_tensor(sketch, 1) + 1) / 2
    for _ in range(2):
        tensor = line_weight(tensor, 1.0)
    return to_pil(tensor * 2 - 1)


def wide_page(package: tarfile.TarFile) -> Image.Image:
    page = Image.new("L", (3 * SIZE, SIZE), 255)
    for index, code in enumerate(EMOJI[:3]):
        page.paste(render(package, "black", code).convert("L"), (index * SIZE, 0))
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path, required=True, help="openmoji .tgz")
    parser.add_argument("--model", default=None, help="model to show [default: the bundled one]")
    parser.add_argument("--floor", default=None, help="the pix2pix-small run, for the floor column")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "images")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = Colorizer.from_pretrained(args.model, precision="fp32")
    floor = Colorizer.from_pretrained(args.floor, precision="fp32") if args.floor else None
    with tarfile.open(args.package) as package:
        pairs = [(render(package, "black", c), render(package, "color", c)) for c in EMOJI]
        page = wide_page(package)
    rows = []
    for sketch, real in pairs:
        row = [sketch, model(sketch)] + ([floor(sketch)] if floor else []) + [real]
        rows.append(strip(row))
    args.out.mkdir(parents=True, exist_ok=True)
    stack(rows).save(args.out / "model-card-openmoji.png")
    stress = []
    for index, (sketch, _) in enumerate(pairs[:3]):
        scanned, inked = pencil(sketch, index), thick(sketch)
        stress.append(strip([scanned, model(scanned), inked, model(inked)]))
    stress.append(strip([page, model(page)], height=SIZE // 2))
    stack(stress).save(args.out / "model-card-stress.png")
    print(f"wrote {args.out / 'model-card-openmoji.png'} and {args.out / 'model-card-stress.png'}")


if __name__ == "__main__":
    main()
