"""Would bolder colors be truer? Scales the saturation of what `colorize` paints (each pixel
pushed away from its own gray by a gain, as an image editor's saturation slider does) and
scores every gain against the real colors, page by page against the pages as painted. Run it on
validation splits only, as a diagnosis of the colorfulness target (MODEL_CARD.md, session 28).

    python docs/model-card/chroma_gain.py runs/anime-split val src/sketchcolor/weights/default
    python docs/model-card/chroma_gain.py runs/faces-split val MODEL --colors --limit 150
"""

from __future__ import annotations

import argparse

import torch

from sketchcolor import Colorizer
from sketchcolor.data import load_pages
from sketchcolor.evaluation import score_pages
from sketchcolor.metrics import ciede2000, colorfulness, mean_ci, psnr, ssim
from sketchcolor.metrics.ssim import luma


def saturate(pages: torch.Tensor, gain: float) -> torch.Tensor:
    """`pages` (B, 3, H, W) in [0, 1] with every pixel's distance from its gray times `gain`."""
    gray = luma(pages)
    return (gray + gain * (pages - gray)).clamp(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("split")
    parser.add_argument("model", help="model directory or run")
    parser.add_argument("--colors", action="store_true", help="DATA holds color-only images (drawn sketches)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--gains", default="0.85,1,1.15,1.3,1.5,1.7")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    gains = [float(g) for g in args.gains.split(",")]
    colorizer = Colorizer.from_pretrained(args.model, backend="torch", precision="fp32")  # as `compare` scores
    painted, real = [], []
    for batch in load_pages(args.data, args.split, colors=args.colors).limited(args.limit).batches(8):
        scored = score_pages(colorizer, batch, args.size)
        painted.append((scored.generated + 1) / 2)
        real.append((scored.real + 1) / 2)
    painted, real = torch.cat(painted), torch.cat(real)
    as_painted = ciede2000(painted, real)
    print(f"{len(real)} pages, real colorfulness {colorfulness(real).mean():.1f}")
    print("| gain | colorfulness | SSIM | PSNR | CIEDE2000 | CIEDE2000 - as painted [95%] |")
    print("|---:|---:|---:|---:|---:|---|")
    for gain in gains:
        pages = saturate(painted, gain)
        error = ciede2000(pages, real)
        change = mean_ci((error - as_painted).tolist())
        print(f"| {gain:g} | {colorfulness(pages).mean():.1f} | {ssim(pages, real, channels='rgb').mean():.4f} "
              f"| {psnr(pages, real).mean():.2f} | {error.mean():.2f} "
              f"| {change.mean:+.2f} [{change.low:+.2f}, {change.high:+.2f}] |")


if __name__ == "__main__":
    main()
