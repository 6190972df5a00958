"""Grading: build the track (keeping going past a broken file), run each exercise's
tests in its own process with a timeout, and write a table, Gradescope's results.json
and JUnit XML.

A file that does not compile is replaced by its generated stub (the build's
DM_STUB_FILES) so the rest of its chapter still builds: it costs only the exercises in
that file. A crash, hang or exception costs only the exercise whose tests hit it.

Points are split over an exercise's tests by the manifest's weights (partial credit), unless
it fails every one of its `core` tests (those no trivial answer passes): then it scores 0.
Every run draws a seed (or takes --seed) that the tests read from DM_GRADE_SEED for
their run-time inputs, so hard-coded outputs of the fixed inputs do not pass; the seed
is printed and written into results.json, and `./course grade --seed N` repeats a run.

The grader takes a test process's word only for what it can check: the tests it reports
must be exactly those its filter selects (`--gtest_list_tests`), and the process must
reach GoogleTest's normal end; otherwise the exercise is graded as crashed.
"""
from __future__ import annotations

import json
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from . import build as B
from .gtest import TestResult, failure_summary, first_line, list_tests, run_tests
from .manifest import ROOT, Exercise, Manifest

OBJ = re.compile(r"dm_\d\d_exercises\.dir/exercises/(?P<rel>\S+?)\.o\b")
MISTAKE = re.compile(r"likely mistake:\s*(.*)")
GOLDEN = "(against the reference solution)"


@dataclass
class Outcome:
    exercise: Exercise
    status: str                 # passed | partial | failed | not implemented | compile error | crashed | timeout | no tests
    score: float
    detail: str = ""            # the most specific failure: what the table shows
    output: str = ""            # every failing test's full message, for results.json / JUnit
    seconds: float = 0.0
    tests: list[str] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)


def draw_seed() -> int:
    return random.SystemRandom().randrange(1, 2**31)


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


def grade(manifest: Manifest, exercises: list[Exercise], preset: str, track: str, timeout: float,
          out_dir: Path, seed: int | None = None, quiet: bool = False) -> tuple[float, int, list[Outcome]]:
    seed = draw_seed() if seed is None else seed
    chapters = [c for c in manifest.chapters if any(e.chapter == c.id for e in exercises)]
    targets = [f"test_{c.id}_{track}" for c in chapters]
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
    print(f"grade: seed {seed} (repeat this run with `./course grade --seed {seed}`)", flush=True)
    outcomes: list[Outcome] = []
    try:
        for ex in exercises:
            binary = B.bin_dir(preset) / f"test_{ex.chapter}_{track}"
            o = grade_one(ex, binary, broken, timeout, seed)
            outcomes.append(o)
            if not quiet:
                print(f"  {ex.id:6} {o.status:16} {o.score:g}/{ex.points}", flush=True)
    finally:
        if broken:  # leave the build as the student's files are, not stubbed
            B.configure(preset, ["-DDM_STUB_FILES="])
    score = round(sum(o.score for o in outcomes), 2)
    total = sum(o.exercise.points for o in outcomes)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_results_json(out_dir / "results.json", outcomes, score, total, seed)
    write_junit(out_dir / "junit.xml", outcomes, seed)
    if not quiet:
        print_table(outcomes, score, total)
        print(f"grade: seed {seed}; wrote {out_dir / 'results.json'} (Gradescope) and {out_dir / 'junit.xml'} "
              "(JUnit), each with every failing test's full message")
    return score, total, outcomes


def diagnosis(failed: list[TestResult]) -> str:
    """The most specific failure: a named mistake, else a property test's first line, else a golden
    mismatch (the golden values only say that the numbers differ, not why)."""
    def rank(r: TestResult) -> tuple[int, int]:
        named = MISTAKE.search(r.message)
        golden = GOLDEN in r.message or "Reference" in r.name
        return (0 if named else 2 if golden else 1, failed.index(r))

    best = min(failed, key=rank)
    named = MISTAKE.search(best.message)
    line = f"likely mistake: {named.group(1).strip()}" if named else failure_summary(best.message)
    return f"{best.name}: {line}"


def grade_one(ex: Exercise, binary: Path, broken: dict[str, str], timeout: float, seed: int) -> Outcome:
    if ex.file in broken:
        return Outcome(ex, "compile error", 0, broken[ex.file], broken[ex.file])
    if not binary.is_file():
        return Outcome(ex, "compile error", 0, "the test program was not built", f"{binary} is missing")
    try:
        selected = list_tests(binary, ex.tests)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        return Outcome(ex, "crashed", 0, f"the test program could not list its tests ({e})", str(e))
    run = run_tests(binary, ex.tests, timeout=timeout, env={"DM_GRADE_SEED": str(seed)})
    if run.status == "timeout":
        return Outcome(ex, "timeout", 0, f"tests did not finish in {timeout:g} s (an endless loop?)",
                       run.output, run.seconds)
    if run.status == "crashed":
        tail = [l for l in run.output.splitlines() if l.strip()][-1:] or ["(no output)"]
        if run.returncode < 0:
            how = f"signal {signal.Signals(-run.returncode).name}"
        elif run.results:
            how = f"exit {run.returncode}, without GoogleTest's normal end"
        else:
            how = f"exit {run.returncode}"
        return Outcome(ex, "crashed", 0, f"the test process died ({how}) in: {tail[0][:160]}",
                       run.output, run.seconds)
    names = [r.name for r in run.results]
    if sorted(names) != sorted(selected):
        return Outcome(ex, "crashed", 0, f"the test process reported {len(names)} tests, but its filter selects "
                       f"{len(selected)} ({', '.join(sorted(set(selected) ^ set(names))[:4])} differ)",
                       run.output, run.seconds, names)
    ran = [r for r in run.results if not r.skipped]
    if not ran:
        return Outcome(ex, "no tests", 0, f"no test matches '{ex.tests}'", run.output, run.seconds, names)
    failed = [r for r in ran if not r.passed]
    if failed and run.returncode == 0 or not failed and run.returncode != 0:
        return Outcome(ex, "crashed", 0, f"the test process exited {run.returncode}, which does not agree with "
                       f"its report ({len(failed)} failing)", run.output, run.seconds, names)
    weight = sum(ex.weight(r.name) for r in ran)
    earned = sum(ex.weight(r.name) for r in ran if r.passed)
    score = round(ex.points * earned / weight, 2) if weight > 0 else (ex.points if not failed else 0)
    core = [r for r in ran if r.name in ex.core]
    if core and not any(r.passed for r in core):  # fails every check of the answer itself: no partial credit
        score = 0
    if not failed:
        return Outcome(ex, "passed", ex.points, f"{len(ran)} tests", run.output, run.seconds, names)
    msg = "\n\n".join(f"{r.name}:\n{r.message.strip()}" for r in failed)
    if all("is not implemented yet" in r.message for r in failed):
        return Outcome(ex, "not implemented", score, first_line(failed[0].message), msg, run.seconds, names,
                       [r.name for r in failed])
    status = "partial" if score > 0 else "failed"
    return Outcome(ex, status, score, diagnosis(failed), msg, run.seconds, names, [r.name for r in failed])


def print_table(outcomes: list[Outcome], score: float, total: int) -> None:
    tty = sys.stdout.isatty()
    width = max(100, min(shutil.get_terminal_size((140, 40)).columns, 160))
    colour = {"passed": "32", "not implemented": "33", "partial": "33"}
    lead = 9 + 8 + 2 + 16
    print(f"\n{'exercise':9}{'points':>8}  {'status':16}the most specific failure")
    print("-" * width)
    for o in outcomes:
        st = f"{o.status:16}"
        if tty:
            st = f"\033[{colour.get(o.status, '31')}m{st}\033[0m"
        detail = "" if o.status == "passed" else o.detail
        if len(o.failed_tests) > 1:
            detail += f"  (+{len(o.failed_tests) - 1} more failing)"
        lines = textwrap.wrap(detail, width - lead) or [""]
        print(f"{o.exercise.id:9}{f'{o.score:g}/{o.exercise.points}':>8}  {st}{lines[0]}")
        for more in lines[1:]:
            print(" " * lead + more)
    print("-" * width)
    print(f"{'total':9}{f'{score:g}/{total}':>8}")


def write_results_json(path: Path, outcomes: list[Outcome], score: float, total: int, seed: int) -> None:
    doc = {
        "score": score,
        "max_score": total,
        "execution_time": round(sum(o.seconds for o in outcomes), 2),
        "output": f"Graded at seed {seed}: `./course grade --seed {seed}` repeats this run.",
        "visibility": "visible",
        "stdout_visibility": "visible",
        "extra_data": {"seed": seed},
        "tests": [{
            "name": f"{o.exercise.id} {o.exercise.title}",
            "number": o.exercise.id,
            "score": o.score,
            "max_score": o.exercise.points,
            "status": "passed" if o.status == "passed" else "failed",
            "output": (o.status if o.status == "passed" else f"{o.status}: {o.detail}\n\n{o.output}"),
            "visibility": "visible",
        } for o in outcomes],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def write_junit(path: Path, outcomes: list[Outcome], seed: int) -> None:
    fails = sum(o.status != "passed" for o in outcomes)
    root = ET.Element("testsuites", name="course", tests=str(len(outcomes)), failures=str(fails))
    ET.SubElement(ET.SubElement(root, "properties"), "property", name="seed", value=str(seed))
    suites: dict[str, ET.Element] = {}
    for o in outcomes:
        ch = o.exercise.chapter
        if ch not in suites:
            suites[ch] = ET.SubElement(root, "testsuite", name=f"chapter {ch}")
        case = ET.SubElement(suites[ch], "testcase", classname=f"chapter{ch}",
                             name=f"{o.exercise.id} {o.exercise.title}", time=f"{o.seconds:.3f}")
        if o.status != "passed":
            f = ET.SubElement(case, "failure", message=f"{o.status}: {o.detail}", type=o.status)
            f.text = o.output
        props = ET.SubElement(case, "properties")
        props.append(ET.Element("property", name="points", value=str(o.exercise.points)))
        props.append(ET.Element("property", name="score", value=f"{o.score:g}"))
    for ch, s in suites.items():
        cases = s.findall("testcase")
        s.set("tests", str(len(cases)))
        s.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
