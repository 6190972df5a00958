"""Grading: build the track (keeping going past a broken file), run each exercise's
tests in its own process with a timeout, and write a table, Gradescope's results.json
and JUnit XML.

A file that does not compile is replaced by its generated stub (the build's
DM_STUB_FILES) so the rest of its chapter still builds: it costs only the exercises in
that file. A crash, hang or exception costs only the exercise whose tests hit it.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from . import build as B
from .gtest import first_line, run_tests
from .manifest import ROOT, Chapter, Exercise, Manifest

OBJ = re.compile(r"dm_\d\d_exercises\.dir/exercises/(?P<rel>\S+?)\.o\b")


@dataclass
class Outcome:
    exercise: Exercise
    status: str                 # passed | failed | not implemented | compile error | crashed | timeout | no tests
    score: float
    detail: str = ""            # first failure line
    output: str = ""            # fuller text for results.json / JUnit
    seconds: float = 0.0
    tests: list[str] = field(default_factory=list)


def broken_files(log: str) -> dict[str, str]:
    """{exercises-relative file: first compiler error} from a keep-going build log."""
    broken: dict[str, str] = {}
    for line in log.splitlines():
        m = OBJ.search(line) if line.startswith("FAILED:") else None
        if m:
            rel = m["rel"]
            err = re.search(rf"exercises/{re.escape(rel)}:\d+:\d+: error: .*", log)
            broken[rel] = err.group(0) if err else "does not compile"
    return broken


def grade(manifest: Manifest, chapters: list[Chapter], preset: str, track: str, timeout: float,
          out_dir: Path) -> tuple[float, int, list[Outcome]]:
    targets = [f"test_{c.id}_{track}" for c in chapters if c.exercises]
    B.configure(preset, [f"-DDM_STUB_FILES="])
    print(f"grade: building the {track} track ({', '.join(targets)}) …", flush=True)
    log = B.build(preset, targets, keep_going=True, capture=True)
    broken: dict[str, str] = {}
    if log.returncode != 0:
        broken = broken_files(log.stdout)
        if not broken:
            print(log.stdout[-4000:])
            print("grade: the build failed outside the exercise files (see above)", file=sys.stderr)
        else:
            for rel, err in broken.items():
                print(f"grade: exercises/{rel} does not compile; grading it as its stub:\n  {err}")
            stub_dir = B.build_dir(preset) / "stubs"
            subprocess.run([sys.executable, str(ROOT / "tools" / "gen_exercises.py"), "--out", str(stub_dir),
                            "--only", *broken], check=True, stdout=subprocess.DEVNULL)
            B.configure(preset, [f"-DDM_STUB_FILES={';'.join(broken)}", f"-DDM_STUB_DIR={stub_dir}"])
            log = B.build(preset, targets, keep_going=True, capture=True)
    outcomes: list[Outcome] = []
    try:
        for ch in chapters:
            binary = B.bin_dir(preset) / f"test_{ch.id}_{track}"
            for ex in ch.exercises:
                outcomes.append(grade_one(ex, binary, broken, timeout))
                o = outcomes[-1]
                print(f"  {ex.id:6} {o.status:16} {o.score:g}/{ex.points}", flush=True)
    finally:
        if broken:  # leave the build as the student's files are, not stubbed
            B.configure(preset, ["-DDM_STUB_FILES="])
    score = sum(o.score for o in outcomes)
    total = sum(o.exercise.points for o in outcomes)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_results_json(out_dir / "results.json", outcomes, score, total)
    write_junit(out_dir / "junit.xml", outcomes)
    print_table(outcomes, score, total)
    print(f"grade: wrote {out_dir / 'results.json'} (Gradescope) and {out_dir / 'junit.xml'} (JUnit)")
    return score, total, outcomes


def grade_one(ex: Exercise, binary: Path, broken: dict[str, str], timeout: float) -> Outcome:
    if ex.file in broken:
        return Outcome(ex, "compile error", 0, broken[ex.file], broken[ex.file])
    run = run_tests(binary, ex.tests, timeout=timeout)
    if run.status == "missing":
        return Outcome(ex, "compile error", 0, "the test program was not built", run.output)
    if run.status == "timeout":
        return Outcome(ex, "timeout", 0, f"tests did not finish in {timeout:g} s (an endless loop?)",
                       run.output, run.seconds)
    if run.status == "crashed":
        tail = [l for l in run.output.splitlines() if l.strip()][-1:] or ["(no output)"]
        how = f"signal {signal.Signals(-run.returncode).name}" if run.returncode < 0 else f"exit {run.returncode}"
        return Outcome(ex, "crashed", 0, f"the test process died ({how}) in: {tail[0][:120]}",
                       run.output, run.seconds)
    ran = [r for r in run.results if not r.skipped]
    names = [r.name for r in run.results]
    if not ran:
        return Outcome(ex, "no tests", 0, f"no test matches '{ex.tests}'", run.output, run.seconds, names)
    failed = [r for r in ran if not r.passed]
    if not failed:
        return Outcome(ex, "passed", ex.points, f"{len(ran)} tests", run.output, run.seconds, names)
    msg = "\n\n".join(f"{r.name}:\n{r.message}" for r in failed)
    first = first_line(failed[0].message)
    status = "not implemented" if all("is not implemented yet" in r.message for r in failed) else "failed"
    return Outcome(ex, status, 0, f"{failed[0].name}: {first}", msg, run.seconds, names)


def print_table(outcomes: list[Outcome], score: float, total: int) -> None:
    tty = sys.stdout.isatty()
    colour = {"passed": "32", "not implemented": "33"}
    print(f"\n{'exercise':9}{'points':>8}  {'status':16}first failure")
    print("-" * 100)
    for o in outcomes:
        st = f"{o.status:16}"
        if tty:
            st = f"\033[{colour.get(o.status, '31')}m{st}\033[0m"
        detail = "" if o.status == "passed" else o.detail
        print(f"{o.exercise.id:9}{f'{o.score:g}/{o.exercise.points}':>8}  {st}{detail[:80]}")
    print("-" * 100)
    print(f"{'total':9}{f'{score:g}/{total}':>8}")


def write_results_json(path: Path, outcomes: list[Outcome], score: float, total: int) -> None:
    doc = {
        "score": score,
        "max_score": total,
        "execution_time": round(sum(o.seconds for o in outcomes), 2),
        "visibility": "visible",
        "stdout_visibility": "visible",
        "tests": [{
            "name": f"{o.exercise.id} {o.exercise.title}",
            "number": o.exercise.id,
            "score": o.score,
            "max_score": o.exercise.points,
            "status": "passed" if o.status == "passed" else "failed",
            "output": (o.status if o.status == "passed" else f"{o.status}: {o.detail}\n\n{o.output}")[:20000],
            "visibility": "visible",
        } for o in outcomes],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def write_junit(path: Path, outcomes: list[Outcome]) -> None:
    fails = sum(o.status != "passed" for o in outcomes)
    root = ET.Element("testsuites", name="course", tests=str(len(outcomes)), failures=str(fails))
    suites: dict[str, ET.Element] = {}
    for o in outcomes:
        ch = o.exercise.chapter
        if ch not in suites:
            suites[ch] = ET.SubElement(root, "testsuite", name=f"chapter {ch}")
        case = ET.SubElement(suites[ch], "testcase", classname=f"chapter{ch}",
                             name=f"{o.exercise.id} {o.exercise.title}", time=f"{o.seconds:.3f}")
        if o.status != "passed":
            f = ET.SubElement(case, "failure", message=f"{o.status}: {o.detail}"[:500], type=o.status)
            f.text = o.output[:20000]
        ET.SubElement(case, "properties").append(ET.Element("property", name="points", value=str(o.exercise.points)))
    for ch, s in suites.items():
        cases = s.findall("testcase")
        s.set("tests", str(len(cases)))
        s.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
