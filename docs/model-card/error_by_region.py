"""Where a model's CIEDE2000 error comes from, beside the sketch floor's: pixels whose real
color is white paper, colored pixels, and the sketch's ink. Run it on train or val splits, as
a diagnosis (MODEL_CARD.md), never to choose anything on a test split.

    python docs/model-card/error_by_region.py ../shared/data/anime-pairs train
"""

from __future__ import annotations

import argparse

import torch

from sketchcolor import Colorizer
from sketchcolor.data import load_pages
from sketchcolor.evaluation import score_pages
from sketchcolor.metrics import delta_e_2000, rgb_to_lab

WHITE_L, WHITE_CHROMA = 90.0, 10.0  # Lab lightness above, chroma below: paper, not paint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("split")
    parser.add_argument("--model", default=None, help="model directory or run (default: the bundled model)")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(args.model, backend="torch", precision="fp32")
    scored = [score_pages(colorizer, batch, args.size) for batch in load_pages(args.data, args.split).batches(8)]
    sketches = torch.cat([part.sketch for part in scored])
    real = rgb_to_lab((torch.cat([part.real for part in scored]) + 1) / 2)
    colored = torch.cat([part.generated for part in scored])
    paper = (real[:, 0] > WHITE_L) & (real[:, 1:].norm(dim=1) < WHITE_CHROMA)
    ink = sketches[:, 0] < 0
    regions = {"all": torch.ones_like(ink), "white paper": paper, "colored": ~paper & ~ink, "ink": ink}
    print(f"{len(sketches)} pairs; white paper is {paper.float().mean():.0%} of the pixels")
    for name, output in (("sketch", sketches.repeat(1, 3, 1, 1)), ("model", colored)):
        error = delta_e_2000(rgb_to_lab((output + 1) / 2), real)
        print(f"{name:7s}" + "".join(f"  {region} {error[mask].mean():.2f}" for region, mask in regions.items()))


if __name__ == "__main__":
    main()
