"""Cleaning a captured page (`colorize --clean`), on and off, on sketches brought in every
style of `evaluate --sketch-style`: each set's pages scored both ways and compared page by
page (mean difference on - off, 95% paired t interval). MODEL_CARD.md, "Scanned, faint and
photographed pages"; the default was chosen on validation sets, the test sets scored once.

    python docs/model-card/clean_sweep.py --limit 100 \
        anime=runs/anime-split:val faces=runs/faces-split:val:colors openmoji=data/openmoji256:val
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from sketchcolor import Colorizer
from sketchcolor.data import load_pages
from sketchcolor.data.restyle import SKETCH_STYLES
from sketchcolor.evaluation import FIDSetup, evaluate, load_fid
from sketchcolor.evaluation.compare import differences_between
from sketchcolor.paths import default_cache_dir

METRICS = (("ciede2000", "CIEDE2000 ↓", False), ("psnr", "PSNR", True), ("ssim", "SSIM", True))
SET_METRICS = (("fid", "FID ↓"), ("kid", "KID ↓"))  # of the whole set, no per-page difference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", metavar="NAME=DATA:SPLIT[:colors|:aligned]")
    parser.add_argument("--model", default=None, help="model directory or run (default: the bundled model)")
    parser.add_argument("--limit", type=int, default=None, help="score the first N pages of each set")
    parser.add_argument("--styles", default=",".join(SKETCH_STYLES))
    parser.add_argument("--out", type=Path, default=Path("runs/clean-sweep"))
    parser.add_argument("--fid", action="store_true", help="also FID and KID (the `fid` extra's Inception)")
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(args.model, backend="torch", precision="fp32")
    fid = load_fid(None, torch.device("cpu"), default_cache_dir() / "fid") if args.fid else None
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [sweep(colorizer, spec, style, args.limit, fid) for style in args.styles.split(",") for spec in args.sets]
    (args.out / "clean.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (args.out / "clean.md").write_text(table(rows))
    print(table(rows))


def sweep(colorizer: Colorizer, spec: str, style: str, limit: int | None, fid: FIDSetup | None) -> dict:
    """One set in one style, cleaned and not: the means and the paired differences."""
    name, _, where = spec.partition("=")
    data, split, *flags = where.split(":")
    pairs = load_pages(data, split, colors="colors" in flags, aligned="aligned" in flags,
                       sketch_style=style).limited(limit)
    runs = {clean: evaluate(lambda pages, clean=clean, **kw: colorizer(pages, clean=clean, **kw), pairs,
                            fid=fid, progress=False) for clean in (False, True)}
    differences = differences_between({"on": runs[True].per_image, "off": runs[False].per_image}, "on")
    row = {"style": style, "set": name, "n": runs[True].metrics["n"],
           **{f"{metric}_{state}": runs[clean].metrics[f"{metric}_mean"]
              for metric, _, _ in METRICS for state, clean in (("off", False), ("on", True))},
           **{f"{metric}_{state}": runs[clean].metrics.get(metric)
              for metric, _ in SET_METRICS for state, clean in (("off", False), ("on", True))}}
    for difference in differences:
        estimate = difference.difference
        row[f"{difference.metric}_difference"] = [estimate.mean, estimate.low, estimate.high]
    print(json.dumps(row), flush=True)
    return row


def table(rows: list[dict]) -> str:
    with_fid = any(row.get("fid_on") is not None for row in rows)
    set_metrics = SET_METRICS if with_fid else ()
    lines = ["| style | set (pages) | " + " | ".join(f"{label} off → on, on − off [95%]" for _, label, _ in METRICS)
             + "".join(f" | {label} off → on" for _, label in set_metrics) + " |",
             "|---|---|" + "---|" * (len(METRICS) + len(set_metrics))]
    for row in rows:
        cells = [f"{row[f'{metric}_off']:.3f} → {row[f'{metric}_on']:.3f}, "
                 f"{verdict(row.get(f'{metric}_difference'), higher)}" for metric, _, higher in METRICS]
        cells += [f"{row[f'{metric}_off']:.4g} → {row[f'{metric}_on']:.4g}" for metric, _ in set_metrics]
        lines.append(f"| {row['style']} | {row['set']} ({row['n']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def verdict(difference: list[float] | None, higher_is_better: bool) -> str:
    if difference is None or difference == [0.0, 0.0, 0.0]:
        return "identical"
    mean, low, high = difference
    ahead, behind = (low > 0, high < 0) if higher_is_better else (high < 0, low > 0)
    word = "**ahead**" if ahead else "**behind**" if behind else "not resolved"
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}] {word}"


if __name__ == "__main__":
    main()
