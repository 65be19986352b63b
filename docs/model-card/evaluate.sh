#!/usr/bin/env bash
# The numbers of MODEL_CARD.md: the bundled model beside its two floors (the sketch itself as the
# output, and pix2pix-small trained with the same data, steps and batch) and, when PREVIOUS names
# it, the model it replaces, on three test sets (the two anime ones also pooled: 130 pages), all
# through `sketchcolor compare` (the code of `sketchcolor evaluate`): every page colorized as
# `colorize` writes it, then it and its truth letterboxed to 256 px. Test sets are scored once
# per shipped model: every choice is made on validation sets before this runs.
#   bash docs/model-card/evaluate.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OPENMOJI=${OPENMOJI:-data/openmoji256}            # sketchcolor data openmoji --out data/openmoji256 --size 256
ANIME=${ANIME:-../shared/data/anime-pairs}
FLOOR=${FLOOR:-runs/pix2pix-small-stage4}         # all stages of docs/model-card/train.sh
PREVIOUS=${PREVIOUS:-}                            # e.g. a copy of the bundled model before it is replaced
MODEL=${MODEL:-src/sketchcolor/weights/default}
OUT=docs/model-card
PRIVATE=${PRIVATE:-runs/model-card}               # grids of third-party images stay out of the repository

# The floor's weights are not kept in the repository: without a trained one, the model is set
# against the sketch floor alone (and the note says so).
METHODS=(sketch); if [ -d "$FLOOR" ]; then METHODS+=("$FLOOR"); else echo "note: no $FLOOR; scoring without it" >&2; fi
if [ -n "$PREVIOUS" ]; then METHODS+=("$PREVIOUS"); fi
METHODS+=("$MODEL")
sketchcolor compare "${METHODS[@]}" --data "$OPENMOJI" --split test --out "$OUT/openmoji-test"
for split in test artists; do
  extra=(); [ "$split" = artists ] && extra=(--aligned-only)
  rm -rf "$PRIVATE/anime-$split"  # so the report below is this run's
  # A page that cannot be read (anime test holds one with a grayscale color image) is named and
  # left out, and compare exits 1 for it; the report holds every other page.
  sketchcolor compare "${METHODS[@]}" --data "$ANIME" --split "$split" "${extra[@]}" --out "$PRIVATE/anime-$split" \
    || [ -f "$PRIVATE/anime-$split/paired.md" ]
  mkdir -p "$OUT/anime-$split"
  cp "$PRIVATE/anime-$split"/{table,paired}.{md,csv} "$OUT/anime-$split/"
done
sketchcolor pool "$PRIVATE/anime-test" "$PRIVATE/anime-artists" --out "$OUT/anime-pooled"
