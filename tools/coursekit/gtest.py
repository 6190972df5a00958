"""Running GoogleTest binaries and reading their JSON reports."""
from __future__ import annotations

import json
import re
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class TestResult:
    name: str            # Suite.Test
    passed: bool
    skipped: bool = False
    message: str = ""


@dataclass
class Run:
    results: list[TestResult] = field(default_factory=list)
    status: str = "ok"   # ok | crashed | timeout | missing
    output: str = ""     # stdout + stderr, tail
    returncode: int = 0
    seconds: float = 0.0


def run_tests(binary: Path, gtest_filter: str | None = None, timeout: float = 300.0,
              env: dict | None = None) -> Run:
    """Runs one gtest binary (optionally filtered) in its own process with a timeout."""
    import time
    if not binary.is_file():
        return Run(status="missing", output=f"{binary} was not built")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [str(binary), f"--gtest_output=json:{report}", "--gtest_color=no"]
        if gtest_filter:
            cmd.append(f"--gtest_filter={gtest_filter}")
        start = time.monotonic()
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                                  env={**os.environ, **(env or {})}, text=True, errors="replace")
            out, rc, status = proc.stdout, proc.returncode, "ok"
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            rc, status = -9, "timeout"
        run = Run(output=out[-8000:], returncode=rc, status=status, seconds=time.monotonic() - start)
        if report.is_file():
            run.results = parse_report(json.loads(report.read_text()))
        elif status == "ok":
            run.status = "crashed"   # died before writing its report (signal, abort, exit)
        return run


def parse_report(doc: dict) -> list[TestResult]:
    results = []
    for suite in doc.get("testsuites", []):
        for t in suite.get("testsuite", []):
            name = f'{suite["name"]}.{t["name"]}'
            failures = t.get("failures", [])
            skipped = t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN"
            msg = "\n".join(f.get("failure", "") for f in failures)
            results.append(TestResult(name=name, passed=not failures, skipped=skipped, message=msg))
    return results


def list_tests(binary: Path) -> list[str]:
    out = subprocess.run([str(binary), "--gtest_list_tests"], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    names, suite = [], ""
    for line in out.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            suite = line.split("#")[0].strip()
        else:
            names.append(suite + line.split("#")[0].strip())
    return names


def first_line(message: str) -> str:
    """The most useful line of a failure: skip 'file:line: Failure' headers."""
    for line in message.splitlines():
        s = line.strip()
        if (not s or s == "unknown file" or s.endswith("Failure") or re.fullmatch(r"\S+:\d+", s)
                or s.startswith("Expected") and s.endswith(":")):
            continue
        if "C++ exception with description" in s:
            s = s.split('"', 1)[-1].rsplit('"', 1)[0]
        return s[:160]
    return ""
