#!/usr/bin/env bash
# Benchmark the pix2pix and paper presets at 256 px on this machine's CPU (random weights);
# writes benchmarks/results/cpu-<preset>-256.json. REPEATS=3 by default; extra arguments
# go to `sketchcolor benchmark` (e.g. --no-compile, --probe-batches).
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS="${REPEATS:-3}"
for preset in pix2pix paper; do
  sketchcolor benchmark --preset "$preset" --size 256 --repeats "$REPEATS" \
    --json "benchmarks/results/cpu-$preset-256.json" "$@" > /dev/null
  echo "wrote benchmarks/results/cpu-$preset-256.json"
done
