"""Configuring and building with CMake presets."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .manifest import ROOT


def build_dir(preset: str) -> Path:
    return ROOT / "build" / preset


def bin_dir(preset: str) -> Path:
    return build_dir(preset) / "bin"


def configure(preset: str, extra: list[str] | None = None, force: bool = False) -> None:
    cache = build_dir(preset) / "CMakeCache.txt"
    if cache.is_file() and not force and not extra:
        return
    cmd = ["cmake", "--preset", preset, *(extra or [])]
    if preset == "gpu":
        prefix = torch_prefix()
        if prefix:
            cmd.append(f"-DCMAKE_PREFIX_PATH={prefix}")
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL if cache.is_file() else None)


def torch_prefix() -> str:
    """The CMake prefix of a pip/conda PyTorch's LibTorch (GPU machines), or ''."""
    r = subprocess.run([sys.executable, "-c", "import torch; print(torch.utils.cmake_prefix_path)"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def build(preset: str = "default", targets: list[str] | None = None, keep_going: bool = False,
          capture: bool = False) -> subprocess.CompletedProcess:
    configure(preset)
    cmd = ["cmake", "--build", str(build_dir(preset))]
    if targets:
        cmd += ["--target", *targets]
    if keep_going:
        cmd += ["--", "-k", "0"]
    if not capture:
        print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, text=True, errors="replace",
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.STDOUT if capture else None,
                          env={**os.environ, "CLICOLOR_FORCE": "0"})
