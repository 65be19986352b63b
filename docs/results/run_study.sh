#!/usr/bin/env bash
# The baselines-and-ablations study of docs/results/README.md: seven methods trained with the
# same budget (data, size, batch, steps, augmentation), then `sketchcolor compare` on two
# validation sets: OpenMoji's val split and the 8 anime training pairs held out of training.
# Test sets are not used: they score a shipped model once (MODEL_CARD.md), they choose nothing.
# Budget and size are what two CPU cores afford in about an hour; change them here.
#   bash docs/results/run_study.sh            # all runs (resumes any that were interrupted), then compare
#   JOBS=1 bash docs/results/run_study.sh     # one training at a time
#   ONLY="paper no-mish" bash docs/results/run_study.sh   # only these methods
#   SEED=1 RUNS=runs/study-seed1 OUT=runs/study-seed1/report bash docs/results/run_study.sh   # another seed
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${STEPS:-1000}
SIZE=${SIZE:-64}
JOBS=${JOBS:-2}
SEED=${SEED:-0}
OPENMOJI=${OPENMOJI:-data/openmoji256}         # sketchcolor data openmoji --out data/openmoji256 --size 256
ANIME=${ANIME:-../shared/data/anime-pairs}
RUNS=${RUNS:-runs/study}
OUT=${OUT:-docs/results}

SPLIT="$RUNS/anime-split"                      # 30 anime pairs to train on, 8 held out as val/
mkdir -p "$RUNS" && bash docs/anime_split.sh "$ANIME/train" "$SPLIT"

# The same budget and augmentation for every method (the default recipe's, at SIZE px).
COMMON=(--data "$OPENMOJI" --data "$SPLIT@19"
        --set data.size=$SIZE --set data.load_size=$((SIZE * 11 / 8)) --set data.scale_jitter=true
        --set data.flip=true --set data.line_jitter=0.5 --set data.paper_jitter=0.3 --set data.num_workers=0
        --set train.seed=$SEED --set train.batch_size=16 --set train.max_steps=$STEPS --set train.epochs=1000
        --set train.keep_epochs=[0,1,2,4] --set train.save_every_steps=100 --set eval.size=$SIZE)
# The paper's generator and discriminator at the default model's width; depth for SIZE px.
DEPTH=$(python3 -c "import math; print(int(math.log2($SIZE)))")
WIDTH=(--set generator.ngf=32 --set generator.depth=$DEPTH --set discriminator.ndf=32)

# CycleGAN runs two generators six times per step (G, F, both cycles, both identities): at ngf 32
# its step costs 8x the paper's here, so it gets ngf 16 (still 2.3x the paper's step time).
declare -A METHODS=(
  [paper]="--config paper ${WIDTH[*]} --set generator.residual_from=$((DEPTH - 3))"
  [pix2pix]="--config pix2pix ${WIDTH[*]}"
  [no-residual]="--config paper ${WIDTH[*]} --set generator.residual=false --set discriminator.residual=false"
  [no-mish]="--config paper ${WIDTH[*]} --set generator.residual_from=$((DEPTH - 3)) --set generator.activation=relu --set generator.encoder_activation=leaky_relu --set discriminator.activation=leaky_relu"
  [no-penalty]="--config paper ${WIDTH[*]} --set generator.residual_from=$((DEPTH - 3)) --set loss.gp_weight=0"
  [plain-l1-tv]="--config paper ${WIDTH[*]} --set generator.residual_from=$((DEPTH - 3)) --set loss.l1_power=1 --set loss.tv_power=1"
  [cyclegan]="--config cyclegan --set generator.ngf=16 --set generator.blocks=6 --set discriminator.ndf=32 --set train.image_pool=50 --set train.lr_decay_epochs=0"
)
# ONLY="paper pix2pix" runs (and compares) just those methods.
read -r -a ORDER <<< "${ONLY:-paper pix2pix cyclegan no-residual no-mish no-penalty plain-l1-tv}"

train_one() {
  local name=$1
  # shellcheck disable=SC2086  # the method's options are words
  OMP_NUM_THREADS=1 sketchcolor train ${METHODS[$name]} "${COMMON[@]}" --out "$RUNS/$name" --resume \
    > "$RUNS/$name.log" 2>&1 && echo "trained $name"
}
for name in "${ORDER[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  train_one "$name" &
done
wait

# paired.md sets the first method (the paper's GAN) against every other, page by page.
METHOD_DIRS=(sketch nst)
for name in "${ORDER[@]}"; do METHOD_DIRS+=("$RUNS/$name"); done
sketchcolor compare "${METHOD_DIRS[@]}" --data "$OPENMOJI" --split val --size $SIZE --epochs 0,1,2,4 \
  --nst-steps 100 --candidate "$RUNS/${ORDER[0]}" --out "$OUT/openmoji-val"
# The anime images may not be redistributed: their grid stays in the run folder, only the tables are kept.
sketchcolor compare "${METHOD_DIRS[@]}" --data "$SPLIT" --split val --size $SIZE --epochs 0,1,2,4 \
  --nst-steps 100 --style-data "$SPLIT" --candidate "$RUNS/${ORDER[0]}" --out "$RUNS/anime-val"
mkdir -p "$OUT/anime-val" && cp "$RUNS/anime-val"/{table,paired}.{md,csv} "$OUT/anime-val/"
