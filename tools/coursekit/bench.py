"""./course bench: C++ vs Python PyTorch on the same machine, in the same run -> bench/RESULTS.md."""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from . import build as B
from . import setup
from .manifest import ROOT

PYTHON = "/usr/bin/python3"  # Debian's, where python3-torch installs


def machine() -> str:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.platform()}"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def median(v: list[float]) -> float:
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def run(preset: str, threads: int, batch: int, repeats: int, pairs: int = 5, profile: bool = False) -> int:
    """C++ and Python one after the other, `pairs` times, the order alternating (C++ first in the
    odd pairs, Python first in the even ones) so that a drift of the machine's speed hits both.
    Each pair gives one ratio per measure; the table gives the median ratio and its min-max."""
    if pairs < 1:
        print("bench: --pairs must be at least 1", file=sys.stderr)
        return 2
    setup.apt_install(setup.missing(["python3-torch"]), {"python3-torch": "Python PyTorch, the benchmark's peer"})
    if B.build(preset, ["bench_unet"]).returncode != 0:
        return 1
    args = ["--threads", str(threads), "--batch", str(batch), "--repeats", str(repeats)]
    cmds = {"cpp": [str(B.bin_dir(preset) / "bench_unet"), *args],
            "py": [PYTHON, str(ROOT / "bench" / "unet_bench.py"), *args]}
    runs: dict[str, list[dict]] = {"cpp": [], "py": []}
    loads = [load_average()]
    for i in range(pairs):
        for side in (("cpp", "py") if i % 2 == 0 else ("py", "cpp")):
            print(f"+ [pair {i + 1}/{pairs}] " + " ".join(cmds[side]), flush=True)
            out = subprocess.run(cmds[side], check=True, stdout=subprocess.PIPE, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            r["load"] = load_average()
            runs[side].append(r)
            print(out.strip(), f"(load {r['load']})", flush=True)
        loads.append(load_average())
    cpp, py = runs["cpp"][0], runs["py"][0]
    if cpp["params"] != py["params"]:
        print(f"bench: the networks differ ({cpp['params']} vs {py['params']} parameters); fix unet_bench.py")
        return 1
    measures = [("train_images_per_s", "training step (forward, MSE, backward, clip, AdamW), images/s"),
                ("ddim50_images_per_s", "DDIM-50 sampling, images/s")]
    rows = []
    for key, label in measures:
        c = [r[key] for r in runs["cpp"]]
        p_ = [r[key] for r in runs["py"]]
        ratios = [a / b for a, b in zip(c, p_)]
        rows.append(f"| {label} | {median(c):.1f} ({min(c):.1f}–{max(c):.1f}) | {median(p_):.1f} "
                    f"({min(p_):.1f}–{max(p_):.1f}) | **{median(ratios):.2f}×** ({min(ratios):.2f}–{max(ratios):.2f}) |")
    def threads_of(r: dict) -> str:
        return (f"{r.get('intra_op_threads', r.get('threads'))} intra-op, "
                f"{r.get('inter_op_threads', '?')} inter-op (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})")
    phases = ["forward", "backward", "clip", "adamw"]
    phase_rows = "\n".join(
        f"| {ph} | {median([r['phase_ms'][ph] for r in runs['cpp']]):.1f} | "
        f"{median([r['phase_ms'][ph] for r in runs['py']]):.1f} | "
        f"{median([a['phase_ms'][ph] - b['phase_ms'][ph] for a, b in zip(runs['cpp'], runs['py'])]):+.1f} |"
        for ph in phases)
    per_pair = "\n".join(
        f"| {i + 1} | {'C++, Python' if i % 2 == 0 else 'Python, C++'} | {a['train_images_per_s']:.1f} / "
        f"{b['train_images_per_s']:.1f} = {a['train_images_per_s'] / b['train_images_per_s']:.2f} | "
        f"{a['ddim50_images_per_s']:.2f} / {b['ddim50_images_per_s']:.2f} = "
        f"{a['ddim50_images_per_s'] / b['ddim50_images_per_s']:.2f} | {a['load']} · {b['load']} |"
        for i, (a, b) in enumerate(zip(runs["cpp"], runs["py"])))
    md = f"""# Benchmark results

`./course bench --pairs {pairs}` — measured {datetime.date.today().isoformat()} on {machine()}.
Same machine, same run, same network (chapter 03's U-Net at width 32, mults 1,2,2, one ResBlock per
level, attention at 7: {cpp['params']:,} parameters; the quick run uses width 16), float32 on the
CPU, batch {batch}. {pairs} pairs of runs, one C++ and one Python each, the order alternating; each
run reports the median of {repeats} timed repetitions after a warm-up. Threads: C++ {threads_of(cpp)};
Python {threads_of(py)}. Load average (1, 5, 15 min) before the first pair: {loads[0]}; after the
last: {loads[-1]}.

| | C++ ({cpp['impl']}), median (min–max) | Python ({py['impl']}), median (min–max) | C++ / Python, median of the pairs' ratios (min–max) |
|---|---:|---:|---:|
{chr(10).join(rows)}

The training step by phase (ms per step, median over the runs; forward includes the noising and the
loss, backward includes zero_grad; each side times its own phases on the CPU, which runs synchronously):

| phase | C++ | Python | C++ − Python (median of the pairs) |
|---|---:|---:|---:|
{phase_rows}

Every pair (C++ / Python, images/s; load average after each run):

| pair | order | training step | DDIM-50 | load |
|---:|---|---|---|---|
{per_pair}

Commands: `{' '.join(['build/' + preset + '/bin/bench_unet', *args])}` and `/usr/bin/python3 bench/unet_bench.py {' '.join(args)}`.
torch.compile needs PyTorch ≥ 2.0 (Debian's is 1.13): on a GPU machine run `unet_bench.py --compile` too.
A ratio whose min–max includes 1.00 does not separate the two.
"""
    (ROOT / "bench" / "RESULTS.md").write_text(md + NOTES, encoding="utf-8")
    print(md)
    return write_profile(cmds, threads, batch) if profile else 0


def write_profile(cmds: dict[str, list[str]], threads: int, batch: int, steps: int = 5) -> int:
    """Both training steps under the autograd profiler (tools/coursekit/profile.py) -> bench/PROFILE.md."""
    import re
    import tempfile
    from . import profile as P
    profs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for side in ("cpp", "py"):
            trace = Path(tmp) / f"{side}.json"
            cmd = [*cmds[side], "--train-steps", str(steps), "--profile", str(trace)]
            print("+ " + " ".join(cmd), flush=True)
            r = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            m = re.search(r"profiled (\d+) training steps in ([0-9.]+) s", r.stderr)
            if not m:
                print(f"bench: no profile from {side}:\n{r.stderr[-500:]}")
                return 1
            profs[side] = P.read_trace(trace, float(m.group(2)), int(m.group(1)))
    md = f"""# Where the training step's time goes, C++ and Python

`./course bench --profile` — {datetime.date.today().isoformat()}, {machine()}; {threads} threads, batch {batch},
{steps} training steps on each side under the legacy autograd profiler (LibTorch's `RecordProfile`,
PyTorch's `torch.autograd.profiler.profile(use_kineto=False)`), one after the other, load average
{load_average()} after. Self times: an op's time less that of the ops nested in it.
The profiler slows both sides (each of ~23,000 events a step costs a few µs, and more from Python), so
its wall times are not the benchmark's: read the split and the ops, and RESULTS.md for the speeds.
PyTorch's trace rounds each duration to a whole µs and LibTorch's does not, so ops shorter than a µs
(`select`, `resolve_conj`, `as_strided`, thousands a step) read as ~0 on the Python side: compare
the large ops.

{P.table(profs['cpp'], profs['py'])}
"""
    (ROOT / "bench" / "PROFILE.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


NOTES_FILE = ROOT / "bench" / "NOTES.md"
NOTES = NOTES_FILE.read_text(encoding="utf-8") if NOTES_FILE.is_file() else ""
