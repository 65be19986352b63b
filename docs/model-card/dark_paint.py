"""Where the dark paint that lowers line precision falls: pixels a model paints dark (luma
below the ink level) away from the sketch's ink, split by whether the real colors are dark
there too (a faithful dark color) or not (a smudge). Line precision counts both as invented
ink; this splits them. Run it on validation splits, as a diagnosis (MODEL_CARD.md, stage 9).
Its "line precision" is the rule line_scores used until stage 11 (every dark pixel a line);
line_scores now leaves out dark areas and counts the sketch's faint lines.

    python docs/model-card/dark_paint.py data/openmoji256 val src/sketchcolor/weights/default runs/stage9-model
    python docs/model-card/dark_paint.py runs/faces-split val --colors MODEL...
"""

from __future__ import annotations

import argparse

import torch

from sketchcolor import Colorizer
from sketchcolor.data import load_pages
from sketchcolor.evaluation import score_pages
from sketchcolor.imageio import INK_LEVEL
from sketchcolor.metrics.lines import within_tolerance
from sketchcolor.metrics.ssim import luma


def near(mask: torch.Tensor) -> torch.Tensor:
    """`mask` grown by the line measure's own tolerance, as booleans."""
    return within_tolerance(mask) > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("split")
    parser.add_argument("models", nargs="+", help="model directories or runs")
    parser.add_argument("--colors", action="store_true", help="DATA holds color-only images (drawn sketches)")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    pairs = load_pages(args.data, args.split, colors=args.colors)
    real_counted = False
    for model in args.models:
        colorizer = Colorizer.from_pretrained(model, backend="torch", precision="fp32")  # as `compare` scores
        counts = torch.zeros(4)  # dark, dark off the ink, of those: real dark there, real not dark
        real_counts = torch.zeros(2)  # the real colors' own: dark, dark off the ink
        for batch in pairs.batches(8):
            scored = score_pages(colorizer, batch, args.size)
            sketch, real, generated = ((t + 1) / 2 for t in (scored.sketch, scored.real, scored.generated))
            off_ink = ~near(sketch < INK_LEVEL)
            dark, real_dark = luma(generated) < INK_LEVEL, luma(real) < INK_LEVEL
            stray = dark & off_ink
            counts += torch.stack([dark.sum(), stray.sum(), (stray & near(real_dark)).sum(),
                                   (stray & ~near(real_dark)).sum()]).float()
            real_counts += torch.stack([real_dark.sum(), (real_dark & off_ink).sum()]).float()
        if not real_counted:
            print(f"real colors: {real_counts[0]:.0f} dark pixels, {real_counts[1]:.0f} off the ink "
                  f"(line precision {1 - real_counts[1] / real_counts[0]:.3f})")
            real_counted = True
        dark, stray, faithful, smudge = counts.tolist()
        print(f"{model}: {dark:.0f} dark pixels, {stray:.0f} off the ink: {faithful:.0f} where the real colors "
              f"are dark too, {smudge:.0f} where they are not (line precision {1 - stray / dark:.3f})")


if __name__ == "__main__":
    main()
