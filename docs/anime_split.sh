#!/usr/bin/env bash
# The anime training pairs split for choosing recipes: 30 to train on, 8 held out as val/
# (pairs 2, 7, ..., 37 in name order). Made of links, not copies: the pages are not ours to copy.
#   bash docs/anime_split.sh SOURCE_DIR OUT_DIR
set -euo pipefail
source=$1
split=$2
[ -d "$split" ] && exit 0
mkdir -p "$split/train" "$split/val"
index=0
for name in $(ls "$source" | LC_ALL=C sort); do
  part=train; [ $((index % 5)) -eq 2 ] && part=val
  ln -s "$(realpath "$source/$name")" "$split/$part/$name"
  index=$((index + 1))
done
