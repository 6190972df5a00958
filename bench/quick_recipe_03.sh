#!/bin/bash
# Chapter 03's quick recipe against variants, side by side (issue 7): each variant is today's --quick with one
# change, the same seed, n = 250 samples, the committed evaluation classifier, 2 threads; the first row is the
# recipe before the T = 1000 rework (T = 50, 600 steps, every one of the 50 steps sampled). Prints one line
# per variant: its wall time (train + sample + evaluate) and the FID line of the program's output; each run's
# whole output stays in $OUT/NAME.log. Usage: bench/quick_recipe_03.sh [OUT] > reference/03_ddpm/quick_recipe.txt
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/quick_recipe_03}
B=build/default/bin/solutions/03_ddpm
mkdir -p "$OUT"
run() {
  name=$1; shift
  /usr/bin/time -f "%e" -o "$OUT/$name.time" "$B" --quick "$@" --out "$OUT/$name" > "$OUT/$name.log" 2>&1
  echo "$name $(cat "$OUT/$name.time") s: $(grep '^FID = ' "$OUT/$name.log" | cut -c1-90)"
}
run old_T50_600 -T 50 --steps 600 --sample-steps 0
run quick_today
run cosine --schedule cosine
run lr2e-3 --lr 2e-3
run lr5e-3 --lr 5e-3
run ema0.995 --ema 0.995
run width24 --width 24
run steps1500 --steps 1500
echo done
