#!/usr/bin/env bash
# Color hints as MODEL_CARD.md reports them, on validation sets (SETS=validation: every choice is
# made there) or on the test sets (SETS=test: once per shipped model):
#   1. hints of the true colors, 0 to 32 per page: every metric against the number of hints;
#   2. counterfactual hints (8 per page, hues turned 90-180 degrees): adherence and leakage;
#   3. no hints: the hint-capable model against the hint-less model it replaces, page by page.
# Hints are drawn from each page's true colors with seed 0, so every run gets the same ones.
#   SETS=validation bash docs/model-card/hints.sh      # after docs/model-card/validate.sh (the faces' links)
#   PREVIOUS=runs/bundled-before-hints bash docs/model-card/hints.sh
#   ONLY=openmoji-test COUNTS=0,8 bash docs/model-card/hints.sh       # one set, fewer counts
set -euo pipefail
cd "$(dirname "$0")/../.."
OPENMOJI=${OPENMOJI:-data/openmoji256}
ANIME=${ANIME:-../shared/data/anime-pairs}
RUNS=${RUNS:-runs}
MODEL=${MODEL:-src/sketchcolor/weights/default}
PREVIOUS=${PREVIOUS:-}                             # the hint-less model this one replaces
ONLY=${ONLY:-}                                     # score only the set of this name
SETS=${SETS:-test}
COUNTS=${COUNTS:-0,1,2,4,8,16,32}
PRIVATE=${PRIVATE:-$RUNS/model-card/hints-$SETS}  # grids of third-party images stay out of the repository
OUT=${OUT:-docs/model-card/hints-$SETS}

# name, data folder, split, extra flags
if [ "$SETS" = validation ]; then
  SET_LIST=("anime-val|$RUNS/anime-split|val|" "openmoji-val|$OPENMOJI|val|" "faces-val|$RUNS/faces-split|val|--colors")
else
  SET_LIST=("anime-test|$ANIME|test|" "anime-artists|$ANIME|artists|--aligned-only" "openmoji-test|$OPENMOJI|test|")
fi
for entry in "${SET_LIST[@]}"; do
  IFS='|' read -r name data split flags <<<"$entry"
  if [ -n "$ONLY" ] && [ "$ONLY" != "$name" ]; then continue; fi
  extra=(); [ -n "$flags" ] && extra=("$flags")
  rm -rf "$PRIVATE/$name" "$PRIVATE/$name-counterfactual" "$PRIVATE/$name-no-hints"  # so a report below is this run's
  # A page that cannot be read (anime test holds one with a grayscale color image) is named and
  # left out, and evaluate exits 1 for it; the reports hold every other page.
  sketchcolor evaluate --model "$MODEL" --data "$data" --split "$split" "${extra[@]}" --hints "$COUNTS" \
    --out "$PRIVATE/$name" || [ -f "$PRIVATE/$name/hints.md" ]
  sketchcolor evaluate --model "$MODEL" --data "$data" --split "$split" "${extra[@]}" --hints 8 --counterfactual \
    --out "$PRIVATE/$name-counterfactual" || [ -f "$PRIVATE/$name-counterfactual/metrics.json" ]
  if [ -n "$PREVIOUS" ]; then
    sketchcolor compare "$PREVIOUS" "$MODEL" --data "$data" --split "$split" "${extra[@]}" --out "$PRIVATE/$name-no-hints" \
      || [ -f "$PRIVATE/$name-no-hints/paired.md" ]
  fi
  mkdir -p "$OUT/$name"
  cp "$PRIVATE/$name"/hints.{md,csv,png} "$OUT/$name/"
  cp "$PRIVATE/$name-counterfactual/metrics.json" "$OUT/$name/counterfactual.json"
  if [ -n "$PREVIOUS" ]; then cp "$PRIVATE/$name-no-hints"/{table,paired}.md "$OUT/$name/"; fi
done
