#!/usr/bin/env bash
# Validation of stage 3 (docs/model-card/train.sh), before any test set is scored: the sketch
# floor, the pix2pix floor, the model it replaces (PREVIOUS) and the new model on the three
# validation sets stage 3 chose by: the 8 held-out anime pairs, OpenMoji val, and the 300 anime
# faces held out of training (the same files `train --colors` held out, on the same drawn sketches).
#   PREVIOUS=runs/bundled-before MODEL=runs/default-stage3 bash docs/model-card/validate.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OPENMOJI=${OPENMOJI:-data/openmoji256}
FACES=${FACES:-../shared/data/anime-extra/color/selfie2anime-faces}
RUNS=${RUNS:-runs}
FLOOR=${FLOOR:-$RUNS/pix2pix-small-stage4}
PREVIOUS=${PREVIOUS:-}
MODEL=${MODEL:-$RUNS/default-stage3}
OUT=${OUT:-$RUNS/validation}

# The held-out faces as a folder of links: the training's own hold-out (seed 0, as train.seed).
python - "$FACES" "$RUNS/faces-split/val" <<'PY'
import sys
from pathlib import Path
from sketchcolor.config import DataConfig
from sketchcolor.data.dataset import validation_hold_out
from sketchcolor.data.sources import find_colors
faces, out = Path(sys.argv[1]), Path(sys.argv[2])
_, kept = validation_hold_out(find_colors(faces), DataConfig(), seed=0, colors=True)
out.mkdir(parents=True, exist_ok=True)
for source in kept:
    link = out / source.path.name
    if not link.exists():
        link.symlink_to(source.path.resolve())
PY
METHODS=(sketch)
for method in "$FLOOR" "$PREVIOUS"; do [ -n "$method" ] && [ -e "$method" ] && METHODS+=("$method"); done
METHODS+=("$MODEL")
sketchcolor compare "${METHODS[@]}" --data "$RUNS/anime-split" --split val --out "$OUT/anime-val"
sketchcolor compare "${METHODS[@]}" --data "$OPENMOJI" --split val --out "$OUT/openmoji-val"
sketchcolor compare "${METHODS[@]}" --data "$RUNS/faces-split" --split val --colors --out "$OUT/faces-val"
