#!/usr/bin/env python3
"""The guide's accuracy minus the judge's, paired, for each row of chapter 06's reference classifier-guidance
sweeps, from reference/06_guidance/classifier.json (its rows record both accuracies and the fraction of samples
that only the guide gets right). The program prints the same column for its own runs ("guide - judge" in
chapters/06_guidance/classifier_guidance.cpp, program.hpp's paired_difference); the reference run predates it.

    python3 tools/guide_judge_paired.py > reference/06_guidance/guide_judge.txt
"""
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def paired_difference(b: float, c: float, n: float) -> tuple[float, float, float]:
    """(b - c) / n with its 95 % interval: the normal approximation of a paired difference (as program.hpp)."""
    d = (b - c) / n
    sd = math.sqrt(max(0.0, b + c - (b - c) ** 2 / n)) / n
    return d, d - 1.96 * sd, d + 1.96 * sd


def main() -> None:
    rec = json.loads((ROOT / "reference/06_guidance/classifier.json").read_text())
    print("$ python3 tools/guide_judge_paired.py")
    print(f"reference/06_guidance/classifier.json (sha256 {rec['sha256'][:12]}...): guide - judge, paired")
    for name, sweep in rec["sweeps"].items():
        n = sweep["n"]
        print(f"\n{name} ({sweep['steps']} steps), n = {n} per row")
        print(f"{'s':>5}  {'judge':>6}  {'guide':>6}  {'only guide':>10}  {'only judge':>10}  {'guide - judge [95 %]':>24}")
        for r in sweep["rows"]:
            b = round(r["guide_right_judge_not"] * n)
            c = round(b - n * (r["guide_accuracy"] - r["accuracy"]))
            d, lo, hi = paired_difference(b, c, n)
            print(f"{r['scale']:>5g}  {r['accuracy']:6.3f}  {r['guide_accuracy']:6.3f}  {b:>10d}  {c:>10d}  "
                  f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
    print("\n(only guide: samples of the class asked for by the guide and not by the judge; only judge: the reverse; "
          "a difference whose interval holds 0 is not one)")


if __name__ == "__main__":
    main()
