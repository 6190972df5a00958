#!/usr/bin/env bash
# Ungraded check of the chapter 03 program's resumption: a run interrupted after half its steps
# and resumed with --resume must end with bit-identical model and EMA weights to an uninterrupted
# run's (the program prints an FNV-1a hash of the raw parameter bytes), on the CPU with
# --deterministic. --stop-after N acts like a Ctrl-C arriving before step N. (The checkpoint files
# themselves differ byte-wise: LibTorch keys the optimizer state by pointer addresses.)
#   tests/03_ddpm/resume_check.sh [build/default/bin/solutions/03_ddpm]
set -euo pipefail
bin=${1:-build/default/bin/solutions/03_ddpm}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT; [ -n "${KEEP:-}" ] && trap - EXIT && echo "keeping $out"
common=(--quick --deterministic --threads 1 --device cpu --width 8 --steps 8 --batch 4 --video-every 1000
        --ckpt-every 1000 --train-only)
"$bin" "${common[@]}" --out "$out/a" > "$out/a.log"
set +e
"$bin" "${common[@]}" --out "$out/b" --stop-after 4 > "$out/b1.log"
rc=$?
set -e
if [ "$rc" -ne 130 ]; then echo "FAIL: the interrupted run exited with $rc, expected 130"; exit 1; fi
"$bin" "${common[@]}" --out "$out/b" --resume > "$out/b2.log"
ha=$(grep -a "weights hash" "$out/a.log"); hb=$(grep -a "weights hash" "$out/b2.log")
echo "uninterrupted: $ha"
echo "resumed:       $hb"
if [ -n "$ha" ] && [ "$ha" = "$hb" ]; then
  echo "OK: 8 steps in one go == 4 steps + interrupt (exit 130) + --resume (bit-identical weights)"
else
  echo "FAIL: the weights differ"; exit 1
fi
