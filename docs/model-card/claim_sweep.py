"""Which hint a region belongs to (`hint_claim=`): fills with each claim width against plain
fills (claim 0), page by page, with 1 and 8 true hints per page (mean difference, 95% paired t
interval), and the adherence and leakage of 8 counterfactual hints. MODEL_CARD.md, "Which
hint a region belongs to"; the default was chosen on validation sets.

    python docs/model-card/claim_sweep.py --claims 0.032,0.048,0.064,0.08,0.1 --limit 60 \
        anime=runs/anime-split:val faces=runs/faces-split:val:colors openmoji=data/openmoji256:val
    python docs/model-card/claim_sweep.py --claims 0.064 --out runs/claim-test \
        anime-test=../shared/data/anime-pairs:test artists=../shared/data/anime-pairs:artists:aligned \
        openmoji-test=data/openmoji256:test                                   # once, for the default
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from clean_sweep import METRICS, verdict  # same folder: one table style for both sweeps

from sketchcolor import Colorizer
from sketchcolor.data import load_pages
from sketchcolor.evaluation import HintPlan, evaluate
from sketchcolor.evaluation.compare import differences_between

TRUE_COUNTS = (1, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", metavar="NAME=DATA:SPLIT[:colors|:aligned]")
    parser.add_argument("--model", default=None, help="model directory or run (default: the bundled model)")
    parser.add_argument("--claims", default="0.032", help="claim widths to set against 0, fractions of the side")
    parser.add_argument("--limit", type=int, default=None, help="score the first N pages of each set")
    parser.add_argument("--out", type=Path, default=Path("runs/claim-sweep"))
    args = parser.parse_args()
    claims = [0.0] + [float(claim) for claim in args.claims.split(",")]
    colorizers = {claim: Colorizer.from_pretrained(args.model, backend="torch", precision="fp32", hint_claim=claim)
                  for claim in claims}
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [row for spec in args.sets for row in sweep(colorizers, spec, args.limit)]
    (args.out / "claim.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (args.out / "claim.md").write_text(table(rows))
    print(table(rows))


def sweep(colorizers: dict[float, Colorizer], spec: str, limit: int | None) -> list[dict]:
    """One set: a row per claim width, its scores with true and counterfactual hints and its
    paired differences from plain fills."""
    name, _, where = spec.partition("=")
    data, split, *flags = where.split(":")
    pairs = load_pages(data, split, colors="colors" in flags, aligned="aligned" in flags).limited(limit)

    def scored(claim: float, plan: HintPlan):
        return evaluate(colorizers[claim], pairs, hints=plan, progress=False)

    plain = {count: scored(0.0, HintPlan(count)) for count in TRUE_COUNTS}
    rows = []
    for claim in colorizers:
        runs = {count: plain[count] if claim == 0 else scored(claim, HintPlan(count)) for count in TRUE_COUNTS}
        counterfactual = scored(claim, HintPlan(8, counterfactual=True)).metrics
        row = {"set": name, "n": runs[8].metrics["n"], "claim": claim,
               "adherence": counterfactual["hint_adherence_median"], "leakage": counterfactual["hint_leakage_mean"]}
        for count, run in runs.items():
            row.update({f"{metric}_{count}": run.metrics[f"{metric}_mean"] for metric, _, _ in METRICS})
            if claim:
                for difference in differences_between({"claim": run.per_image, "plain": plain[count].per_image},
                                                      "claim"):
                    estimate = difference.difference
                    row[f"{difference.metric}_{count}_difference"] = [estimate.mean, estimate.low, estimate.high]
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    header = [f"{count} hint{'s' * (count > 1)}: CIEDE2000 ↓, claim − plain [95%] | PSNR" for count in TRUE_COUNTS]
    lines = ["| set (pages) | claim | " + " | ".join(header) + " | counterfactual: median adherence ↓, mean leakage |",
             "|---|---:|" + "---|---|" * len(TRUE_COUNTS) + "---|"]
    for row in rows:
        cells = []
        for count in TRUE_COUNTS:
            cells.append(f"{row[f'ciede2000_{count}']:.2f}"
                         + (f", {verdict(row[f'ciede2000_{count}_difference'], False)}" if row["claim"] else ""))
            cells.append(f"{row[f'psnr_{count}']:.2f}")
        cells.append(f"{row['adherence']:.2f}, {100 * row['leakage']:.1f}%")
        lines.append(f"| {row['set']} ({row['n']}) | {row['claim']:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
