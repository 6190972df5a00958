"""./course bench: C++ vs Python PyTorch on the same machine, in the same run -> bench/RESULTS.md."""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
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


def run(preset: str, threads: int, batch: int, repeats: int) -> int:
    setup.apt_install(setup.missing(["python3-torch"]), {"python3-torch": "Python PyTorch, the benchmark's peer"})
    if B.build(preset, ["bench_unet"]).returncode != 0:
        return 1
    args = ["--threads", str(threads), "--batch", str(batch), "--repeats", str(repeats)]
    cpp_cmd = [str(B.bin_dir(preset) / "bench_unet"), *args]
    py_cmd = [PYTHON, str(ROOT / "bench" / "unet_bench.py"), *args]
    load_before = load_average()
    results = []
    for cmd in (cpp_cmd, py_cmd):
        print("+ " + " ".join(cmd), flush=True)
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print(out.strip())
    cpp, py = results
    if cpp["params"] != py["params"]:
        print(f"bench: the networks differ ({cpp['params']} vs {py['params']} parameters); fix unet_bench.py")
        return 1
    tr, dd = cpp["train_images_per_s"] / py["train_images_per_s"], cpp["ddim50_images_per_s"] / py["ddim50_images_per_s"]
    rel = lambda c: " ".join(Path(x).name if i == 0 else x for i, x in enumerate(c))
    md = f"""# Benchmark results

`./course bench` — measured {datetime.date.today().isoformat()} on {machine()}
(load average before the run: {load_before}). Same machine, same run, same network
(the chapter 03 quick U-Net, {cpp['params']:,} parameters), float32 on the CPU, {threads} threads,
batch {batch}, median of {repeats} timed runs after a warm-up. Noise on this machine: ±10–15%.

| | C++ ({cpp['impl']}) | Python ({py['impl']}) | C++ / Python |
|---|---:|---:|---:|
| training step (forward, MSE, backward, clip, AdamW), images/s | {cpp['train_images_per_s']:.1f} | {py['train_images_per_s']:.1f} | **{tr:.2f}×** |
| DDIM-50 sampling, images/s | {cpp['ddim50_images_per_s']:.1f} | {py['ddim50_images_per_s']:.1f} | **{dd:.2f}×** |

Commands: `{' '.join(['build/' + preset + '/bin/bench_unet', *args])}` and `/usr/bin/python3 bench/unet_bench.py {' '.join(args)}`.
torch.compile needs PyTorch ≥ 2.0 (Debian's is 1.13): on a GPU machine run `unet_bench.py --compile` too.
"""
    (ROOT / "bench" / "RESULTS.md").write_text(md + NOTES, encoding="utf-8")
    print(md)
    return 0


NOTES_FILE = ROOT / "bench" / "NOTES.md"
NOTES = NOTES_FILE.read_text(encoding="utf-8") if NOTES_FILE.is_file() else ""
