#!/usr/bin/env bash
# Benchmark the pix2pix and paper presets at 256 px on this machine's CPU (random weights);
# writes benchmarks/results/cpu-<KIND>-<preset>-256.json, KIND naming the kind of CPU (avx2,
# avx512-bf16: see benchmarks/tables.py). REPEATS=3 by default; extra arguments go to
# `sketchcolor benchmark` (e.g. --no-compile, --probe-batches). pix2pix's run also colorizes
# 100 pages end to end; the paper's does not (--pages 0).
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS="${REPEATS:-3}"
KIND="${KIND:?set KIND to the kind of CPU, e.g. KIND=avx2}"
for preset in pix2pix paper; do
  pages=100
  [ "$preset" = paper ] && pages=0
  out="benchmarks/results/cpu-$KIND-$preset-256.json"
  sketchcolor benchmark --preset "$preset" --size 256 --repeats "$REPEATS" --pages "$pages" --json "$out" "$@" > /dev/null
  echo "wrote $out"
done
