#!/usr/bin/env bash
# The bundled model and its pix2pix floor, from scratch, with the same data, steps and batch:
#   stage 1: 3,000 steps on OpenMoji + the anime training pairs at 17% of each epoch;
#   stage 2: 1,000 steps more from stage 1's generator, with 30 of the anime pairs at half of
#            each epoch (the other 8 held out as validation); the model's stage 2 uses a tenth
#            of the TV weight, as `colorize` evens colors out inside the lines;
#   stage 3: 2,000 steps more from stage 2's generator on three sources: the 30 anime pairs
#            (x50), OpenMoji, and 3,100 color-only anime faces whose sketches are drawn afresh
#            for every sample in a random line style (`--colors`; 300 faces held out by file).
#            Its best/ generator is chosen by CIEDE2000, the mean over the three validation
#            sets (the 8 anime pairs, OpenMoji val, the 300 faces).
#   stage 4: color hints (below): 2,000 steps more from stage 3's generator widened with hint inputs.
#   stage 11 (session 24; stages 5-10, 12, 13 were tried, not adopted): 1,852 steps more from stage
#            4's export with the discriminator learning, L1 at ten times its weight.
# Stages 1-2 keep best/ by validation SSIM (OpenMoji val; stage 2 also the 8 anime pairs).
# The floor trains in bf16 with a compiled step (train.amp_on_cpu, train.compile); the model's
# stages 1-3 in fp32, as they were trained, and stages 4 and 11 in bf16, compiled.
# Costs per stage: MODEL_CARD.md.
#   bash docs/model-card/train.sh && MODEL=runs/default-model bash docs/model-card/evaluate.sh
# Stages 1-4 of the bundled weights were trained before the gradient penalty was fixed (it held
# the discriminator at chance: MODEL_CARD.md, "Stage 9 tried"); since then these commands train
# with a discriminator that learns. To reproduce stage 4 exactly: commit 76a0811, then stage 11
# below on this commit or later.
set -euo pipefail
cd "$(dirname "$0")/../.."
OPENMOJI=${OPENMOJI:-data/openmoji256}            # sketchcolor data openmoji --out data/openmoji256 --size 256
ANIME=${ANIME:-../shared/data/anime-pairs}
FACES=${FACES:-../shared/data/anime-extra/color/selfie2anime-faces}
RUNS=${RUNS:-runs}

BF16=(--set train.amp_on_cpu=true --set train.compile=true)   # bf16 autocast and a compiled training step
split="$RUNS/anime-split"                          # 30 anime pairs to train on, 8 held out as val/
bash docs/anime_split.sh "$ANIME/train" "$split"

for config in default pix2pix-small; do
  tv=(); fast=("${BF16[@]}")
  [ "$config" = default ] && tv=(--set loss.tv_weight=10) && fast=()   # the model: a tenth of the TV after stage 1
  sketchcolor train --config "$config" --data "$OPENMOJI" --data "$ANIME@15" --out "$RUNS/$config-stage1" --resume "${fast[@]}"
  sketchcolor train --config "$config" --data "$OPENMOJI" --data "$split@94" --out "$RUNS/$config-stage2" --resume \
    --set train.init_from="$RUNS/$config-stage1" --set train.max_steps=1000 "${tv[@]}" "${fast[@]}"
  sketchcolor train --config "$config" --data "$split@50" --data "$OPENMOJI" --colors "$FACES" \
    --out "$RUNS/$config-stage3" --resume --set train.init_from="$RUNS/$config-stage2" --set train.max_steps=2000 \
    --set eval.metric=ciede2000_mean "${tv[@]}" "${fast[@]}"
done
# The floor's stage 4: as many steps more on the stage-3 data as the model's stages 4 and 11
# took together (2,000 + 1,852), without hints (pix2pix-small has no hint inputs), so the two
# are set side by side after the same number of steps on the same data.
sketchcolor train --config pix2pix-small --data "$split@50" --data "$OPENMOJI" --colors "$FACES" \
  --out "$RUNS/pix2pix-small-stage4" --resume --set train.init_from="$RUNS/pix2pix-small-stage3" \
  --set train.max_steps=3852 --set eval.metric=ciede2000_mean --set eval.every=2 "${BF16[@]}"
# Stage 4 (the model only): color hints. The stage-3 model as it was bundled (half-precision
# weights) widened with four hint inputs at zero weight, then 2,000 steps on the stage-3 data
# with hints drawn from the true colors; best/ by CIEDE2000 over the three validation sets, each
# page given 8 hints.
sketchcolor export model --model "$RUNS/default-stage3" --out "$RUNS/default-stage3-model" --half
sketchcolor train --config default --data "$split@50" --data "$OPENMOJI" --colors "$FACES" --out "$RUNS/default-stage4" \
  --resume --set train.init_from="$RUNS/default-stage3-model" --set generator.hints=true --set train.max_steps=2000 \
  --set eval.hints=8 --set eval.metric=ciede2000_mean --set loss.tv_weight=10 "${BF16[@]}"
sketchcolor export model --model "$RUNS/default-stage4" --out "$RUNS/default-model" --half
# Stage 11: stage 4's data and hint drawing with the discriminator learning (gradient penalty
# fixed) and ten times the L1 weight (1,000), half the samples without hints and half the hint
# loss, an averaged generator (EMA 0.999) validated every second epoch; the generator kept is
# the last (step 1,852), chosen on validation with the rule "no measurable loss on any set".
sketchcolor train --config default --data "$split@50" --data "$OPENMOJI" --colors "$FACES" --out "$RUNS/default-stage11" \
  --resume --set train.init_from="$RUNS/default-model" --set generator.hints=true --set train.max_steps=1852 \
  --set eval.hints=8 --set eval.metric=ciede2000_mean --set eval.every=2 --set loss.tv_weight=10 \
  "${BF16[@]}" --set loss.hint_l1_weight=50 --set hints.none_share=0.5 \
  --set train.ema_decay=0.999 --set "train.keep_epochs=[2,4]" --set loss.l1_weight=1000
sketchcolor export model --model "$RUNS/default-stage11" --out "$RUNS/default-model" --half
