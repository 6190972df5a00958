"""Installs what the course needs from Debian, idempotently, saying what it installs."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

# Debian package -> why the course needs it.
PACKAGES = {
    "g++": "the C++17 compiler",
    "cmake": "the build (CMake presets)",
    "ninja-build": "fast incremental builds",
    "libtorch-dev": "LibTorch 1.13, CPU (a GPU machine may use its own CUDA LibTorch instead)",
    "libeigen3-dev": "Eigen: chapter 01's SDE simulations",
    "libopencv-dev": "OpenCV: PNG figures and MP4 video",
    "libgtest-dev": "GoogleTest: the graded tests",
    "libcli11-dev": "CLI11: command-line flags of the chapter programs",
    "libfmt-dev": "fmt: formatted output",
    "nlohmann-json3-dev": "nlohmann-json: metrics.json and golden values",
    "zlib1g-dev": "zlib: reading the gzipped IDX files",
    "dataset-fashion-mnist": "the Fashion-MNIST data (/usr/share/datasets/fashion-mnist)",
    "libopenblas0-openmp": "OpenBLAS: 3.4x faster U-Net training than the reference BLAS (measured)",
    "clang-format": "the formatting gate",
}
SLIDE_PACKAGES = {"nodejs": "Node.js for marp-cli (slides)", "npm": "npm for marp-cli (slides)"}


def missing(packages: list[str]) -> list[str]:
    out = []
    for p in packages:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        if "install ok installed" not in r.stdout:
            out.append(p)
    return out


def apt_install(packages: list[str], reasons: dict[str, str]) -> None:
    if not packages:
        return
    print("setup: installing from Debian:")
    for p in packages:
        print(f"  {p:24} {reasons.get(p, '')}")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], check=True,
                   env=env)


def ensure(slides: bool = False, quiet: bool = False) -> None:
    if not shutil.which("dpkg-query"):
        print("setup: not a Debian system; install the packages listed in README.md by hand", file=sys.stderr)
        return
    need = missing(list(PACKAGES))
    reasons = dict(PACKAGES)
    if slides and not (shutil.which("node") and shutil.which("npm")):
        need += missing(list(SLIDE_PACKAGES))
        reasons.update(SLIDE_PACKAGES)
    if need:
        apt_install(need, reasons)
    elif not quiet:
        print(f"setup: all {len(PACKAGES)} Debian packages present")
    blas = subprocess.run(["update-alternatives", "--query", "libblas.so.3-x86_64-linux-gnu"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    for line in blas.splitlines():
        if line.startswith("Value:") and "openblas" not in line and not quiet:
            print(f"setup: note: the BLAS in use is {line[6:].strip()}, not OpenBLAS "
                  "(sudo update-alternatives --config libblas.so.3-x86_64-linux-gnu)")
