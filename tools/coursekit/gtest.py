"""Running GoogleTest binaries and reading their JSON reports."""
from __future__ import annotations

import json
import re
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


# GoogleTest's last summary line: "[  PASSED  ] N tests." (and "[  FAILED  ] ..." lines when some fail)
GTEST_END = re.compile(r"^\[  PASSED  \] \d+ tests?\.", re.M)


@dataclass
class TestResult:
    name: str            # Suite.Test
    passed: bool
    skipped: bool = False
    message: str = ""
    seconds: float = 0.0  # GoogleTest's own time for the test


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
        if run.status == "ok" and not GTEST_END.search(out):
            run.status = "crashed"   # a report, but not GoogleTest's normal end of the program
        return run


def parse_report(doc: dict) -> list[TestResult]:
    results = []
    for suite in doc.get("testsuites", []):
        for t in suite.get("testsuite", []):
            name = f'{suite["name"]}.{t["name"]}'
            failures = t.get("failures", [])
            skipped = t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN"
            msg = "\n".join(f.get("failure", "") for f in failures)
            try:
                secs = float(str(t.get("time", "0s")).rstrip("s"))
            except ValueError:
                secs = 0.0
            results.append(TestResult(name=name, passed=not failures, skipped=skipped, message=msg, seconds=secs))
    return results


def list_tests(binary: Path, gtest_filter: str | None = None, timeout: float = 60.0) -> list[str]:
    """The tests the binary says it has (those the filter selects, when given)."""
    cmd = [str(binary), "--gtest_list_tests"] + ([f"--gtest_filter={gtest_filter}"] if gtest_filter else [])
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True, timeout=timeout).stdout
    names, suite = [], ""
    for line in out.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            suite = line.split("#")[0].strip()
        else:
            names.append(suite + line.split("#")[0].strip())
    return names


def failure_summary(message: str) -> str:
    """What the first failure says in words: the message streamed into the assertion (the test
    author's diagnosis), followed by the assertion's own explanation (an AssertionResult's text);
    GoogleTest's restatement of the expression and its values is dropped."""
    text = message.strip()
    parts = re.split(r"(?m)^(?:\S+:\d+|unknown file)\n", text)
    first = next((c for c in parts if c.strip()), text)
    if "C++ exception with description" in first:
        return first_line(first, limit=None)
    detail = ""
    m = re.search(r"Actual: false \((.*?)\)\nExpected: true", first, re.S)
    if m:
        detail = " ".join(m.group(1).split())
    words: list[str] = []
    lines = first.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("Value of: "):  # EXPECT_TRUE: "  Actual: ...", "Expected: true"
            i += 1
            while i < len(lines) and not re.match(r"^Expected: (true|false)$", lines[i]):
                i += 1
        elif line.startswith("Expected equality of these values:") or line.startswith("Expected: ") and (
                i + 1 < len(lines) and lines[i + 1].startswith("  ")):
            i += 1
            while i < len(lines) and lines[i].startswith("  "):
                i += 1
            continue
        elif line.startswith("The difference between "):  # EXPECT_NEAR
            while i < len(lines) and not (" evaluates to " in lines[i] and lines[i].endswith(".")):
                i += 1
        elif re.match(r"^Expected: .* (<|<=|>|>=|!=) .*, actual: ", line) or line in ("Failed", ""):
            pass
        else:
            words.append(" ".join(line.split()))
        i += 1
    said = " ".join(w for w in words if w)
    out = "; ".join(x for x in (said, detail) if x)
    return out or first_line(first, limit=None)


def first_line(message: str, limit: int | None = 160) -> str:
    """The most useful line of a failure: skip 'file:line: Failure' headers."""
    for line in message.splitlines():
        s = line.strip()
        if (not s or s in ("unknown file", "Failed") or s.endswith("Failure") or re.fullmatch(r"\S+:\d+", s)
                or s.startswith("Expected") and s.endswith(":")):
            continue
        if "C++ exception with description" in s:
            s = s.split('"', 1)[-1].rsplit('"', 1)[0]
        return s[:limit] if limit else s
    return ""
