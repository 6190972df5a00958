"""Provenance of the course's committed trained artefacts (reference/): what made a file and how to
check it. Each artefact X.dmt (a course tensor file, dm/io/tensor_file.hpp) has X.json beside it:

  {"file": "fmnist_classifier.dmt", "sha256": ..., "bytes": ..., "command": [...], "commit": ...,
   "dirty": false, "date": ..., "machine": ..., "wall_s": ..., "meta": {the tensor file's own meta}}

The C++ loaders check the sha256 against this file before they read the weights."""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import struct
import subprocess
from pathlib import Path

from .manifest import ROOT

REFERENCE = ROOT / "reference"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tensor_file_meta(path: Path) -> dict:
    """The meta of a tensor file's JSON header (magic, u32 version, u32 reserved, u64 H, H bytes of JSON)."""
    with path.open("rb") as f:
        pre = f.read(24)
        if len(pre) != 24 or pre[:8] != b"DMTENSOR":
            raise ValueError(f"{path} is not a course tensor file")
        (h,) = struct.unpack("<Q", pre[16:24])
        return json.loads(f.read(h).decode("utf-8")).get("meta", {})


def git(*args: str) -> str:
    r = subprocess.run(["git", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {len(os.sched_getaffinity(0))} cores, {cpu}".strip(", ")


def write(artefact: Path, command: list[str], wall_s: float, extra: dict | None = None) -> dict:
    """Writes artefact.with_suffix('.json') and returns it."""
    record = {
        "file": artefact.name,
        "sha256": sha256(artefact),
        "bytes": artefact.stat().st_size,
        "command": command,
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "wall_s": round(wall_s, 1),
        "meta": tensor_file_meta(artefact),
    }
    record.update(extra or {})
    out = artefact.with_suffix(".json")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(out)
    return record
