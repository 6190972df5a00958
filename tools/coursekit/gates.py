"""The gates of `./course test`, each a named check that passes or fails with a reason.

  solutions   every test passes on the solutions track (and the course library's tests)
  stubs       every graded test fails on the untouched stubs: no graded test is vacuous
  manifest    every exercise's file, marker and tests exist; weights name real tests
  mistakes    every recorded mistake (tests/NN/mistakes.toml) still applies to its solution, each
              exercise has at least 3 and the trivial answers (it reports how many MISTAKES.md covers)
  seeds       every graded exercise has a test at the grader's seed, and those pass on the
              solutions at three drawn seeds
  generated   exercises/ is exactly what the generator makes from solutions/
  lessons     every code include of the lessons and slides is current, every figure there
  numbers     every measured-looking number of a lesson or slide is in captured output or on the
              allow-list with its source (tools/coursekit/numbers.py)
  format      clang-format has nothing to change
  cli         chapter programs: --help, usage errors (exit 2), missing data, unwritable
              output, an unimplemented exercise (exit 1 with its id), a chapter that reads an
              earlier one's model: a missing --ckpt is a clear error, no run of the student's
              falls back on reference/ and says so
  slides      the decks build with marp-cli
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import build as B
from . import lessons
from .gtest import first_line, list_tests, run_tests
from .manifest import ROOT, Manifest
from .reference import RECIPES
from .timing import CLOCK

BEGIN = re.compile(r"//\s*BEGIN SOLUTION (\d\d\.\d+)")


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures: list[str] = []

    def check(self, name: str, problems: list[str], seconds: float, note: str = "") -> None:
        ok = not problems
        self.passed += ok
        self.failed += not ok
        CLOCK.add(name, seconds)
        print(f"[{'PASS' if ok else 'FAIL'}] {name:10} {seconds:6.1f} s  {note}", flush=True)
        for p in problems[:25]:
            print(f"         {p}")
        if len(problems) > 25:
            print(f"         … and {len(problems) - 25} more")
        if not ok:
            self.failures.append(name)


def gate_solutions(m: Manifest, preset: str, r: Report) -> None:
    binaries = [B.bin_dir(preset) / "test_common"] + [B.bin_dir(preset) / f"test_{c.id}_solutions"
                                                      for c in m.chapters]
    for binary in binaries:
        t0 = time.monotonic()
        run = run_tests(binary, timeout=900)
        problems = []
        if run.status != "ok":
            problems.append(f"{binary.name}: {run.status}\n{run.output[-1500:]}")
        for t in run.results:
            CLOCK.tests.append((f"{binary.name}: {t.name}", t.seconds))
            if t.skipped:
                r.skipped += 1
            elif t.passed:
                r.passed += 1
            else:
                r.failed += 1
                problems.append(f"{t.name}: {first_line(t.message)}")
        n = len(run.results)
        skipped = sum(t.skipped for t in run.results)
        note = f"{binary.name}: {n - skipped - len(problems)} of {n} tests pass" + (
            f", {skipped} skipped" if skipped else "")
        CLOCK.add(f"tests {binary.name}", time.monotonic() - t0)
        print(f"[{'PASS' if not problems else 'FAIL'}] {'tests':10} {time.monotonic() - t0:6.1f} s  {note}",
              flush=True)
        for p in problems[:25]:
            print(f"         {p}")
        if problems:
            r.failures.append(binary.name)


def gate_stubs(m: Manifest, preset: str) -> tuple[list[str], str]:
    problems, graded_total = [], 0
    for ch in m.chapters:
        if not ch.exercises:
            continue
        binary = B.bin_dir(preset) / f"test_{ch.id}_exercises"
        if not binary.is_file():
            problems.append(f"{binary.name} was not built")
            continue
        names = list_tests(binary)
        for e in ch.exercises:
            if not any(e.matches(n) for n in names):
                problems.append(f"exercise {e.id}: its filter '{e.tests}' matches no test")
        run = run_tests(binary, timeout=600)
        if run.status != "ok":
            problems.append(f"{binary.name} on the stubs: {run.status} (a stub must fail, not crash or hang)")
        for t in run.results:
            owner = [e.id for e in ch.exercises if e.matches(t.name)]
            if not owner:
                continue
            graded_total += 1
            if t.passed and not t.skipped:
                problems.append(f"{t.name} (exercise {owner[0]}) passes on the untouched stub: it checks nothing "
                                "the student writes")
    return problems, f"{graded_total} graded tests, all fail on the stubs" if not problems else ""


def solution_lines(e) -> int:
    """Lines of code (not comments or blank) in the exercise's solution blocks, stub sections excluded."""
    text = (ROOT / "solutions" / e.file).read_text(encoding="utf-8")
    n = 0
    for b in re.finditer(r"// BEGIN SOLUTION " + re.escape(e.id) + r"\s*\n(.*?)^\s*// END SOLUTION", text, re.S | re.M):
        body = b.group(1).split("// BEGIN STUB")[0]
        n += sum(1 for l in body.splitlines() if l.strip() and not l.strip().startswith("//"))
    return n


def rule_points(lines: int, kind: str) -> int:
    """CONTRIBUTING.md, "Points": the size of the answer, plus one for a whole algorithm or a derivation."""
    size = 1 if lines <= 4 else 2 if lines <= 12 else 3 if lines <= 25 else 4
    return size + (1 if kind in ("algorithm", "derivation") else 0)


def gate_manifest(m: Manifest) -> list[str]:
    problems = []
    for ch in m.chapters:
        if ch.exercises:
            for kind in ("algorithm", "derivation"):
                if not any(e.kind == kind for e in ch.exercises):
                    problems.append(f"chapter {ch.id} has no exercise of kind '{kind}'")
    listed = {e.id for e in m.exercises}
    for e in m.exercises:
        for tree in ("solutions", "exercises"):
            if not (ROOT / tree / e.file).is_file():
                problems.append(f"exercise {e.id}: {tree}/{e.file} does not exist")
        sol = ROOT / "solutions" / e.file
        if sol.is_file() and e.id not in BEGIN.findall(sol.read_text(encoding="utf-8")):
            problems.append(f"exercise {e.id}: solutions/{e.file} has no '// BEGIN SOLUTION {e.id}'")
        elif sol.is_file():
            lines = solution_lines(e)
            want = rule_points(lines, e.kind)
            if e.points != want:
                problems.append(f"exercise {e.id}: {e.points} points in course.toml, {want} by the rule "
                                f"({lines} lines{', ' + e.kind if e.kind else ''}; CONTRIBUTING.md, \"Points\")")
        if not e.hint:
            problems.append(f"exercise {e.id}: no hint")
        for name in e.core:
            if not e.matches(name):
                problems.append(f"exercise {e.id}: core test '{name}', which its filter '{e.tests}' does not select")
        for name in e.weights:
            if not e.matches(name):
                problems.append(f"exercise {e.id}: weight for '{name}', which its filter '{e.tests}' does not select")
    for f in sorted((ROOT / "solutions").rglob("*")):
        if f.suffix in (".cpp", ".hpp", ".cu"):
            for ex_id in BEGIN.findall(f.read_text(encoding="utf-8")):
                if ex_id not in listed:
                    problems.append(f"{f.relative_to(ROOT)}: exercise {ex_id} is not in course.toml")
    return problems


def gate_seeds(m: Manifest, preset: str) -> tuple[list[str], str]:
    import random
    problems, seeds = [], [random.SystemRandom().randrange(1, 2**31) for _ in range(3)]
    n = 0
    for ch in m.chapters:
        if not ch.exercises:
            continue
        binary = B.bin_dir(preset) / f"test_{ch.id}_solutions"
        if not binary.is_file():
            problems.append(f"{binary.name} was not built")
            continue
        names = list_tests(binary)
        seeded = [t for t in names if t.endswith("AtTheGradersSeed")]
        for e in ch.exercises:
            if not any(e.matches(t) for t in seeded):
                problems.append(f"exercise {e.id}: no test of its filter '{e.tests}' ends in AtTheGradersSeed")
            problems += [f"exercise {e.id}: its core test '{c}' is not a test of {binary.name}"
                         for c in e.core if c not in names]
        n += len(seeded)
        for seed in seeds:
            run = run_tests(binary, "*AtTheGradersSeed", timeout=300, env={"DM_GRADE_SEED": str(seed)})
            if run.status != "ok":
                problems.append(f"{binary.name} at seed {seed}: {run.status}")
            problems += [f"{t.name} fails on the solutions at seed {seed}: {first_line(t.message)}"
                         for t in run.results if not t.passed]
    return problems, f"{n} seeded tests pass at seeds {', '.join(map(str, seeds))}"


def gate_generated() -> list[str]:
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_exercises.py"), "--check"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return [] if r.returncode == 0 else r.stdout.strip().splitlines()


def gate_format() -> tuple[list[str], str]:
    from .main import format_files
    files = format_files()
    r = subprocess.run(["clang-format", "--dry-run", "-Werror", *map(str, files)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    bad = sorted({l.split(":")[0] for l in r.stdout.splitlines() if ": error:" in l})
    problems = [f"{Path(b).relative_to(ROOT) if b.startswith('/') else b} is not formatted (./course format)"
                for b in bad]
    if r.returncode != 0 and not problems:
        problems = [r.stdout[-500:]]
    return problems, f"{len(files)} files"


def gate_cli(m: Manifest, preset: str) -> tuple[list[str], str]:
    problems, n = [], 0

    def expect(cmd: list[str], code: int, needle: str, what: str) -> None:
        nonlocal n
        n += 1
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                               timeout=300, cwd=ROOT)
        except subprocess.TimeoutExpired:
            problems.append(f"{what}: timed out")
            return
        if p.returncode != code or needle.lower() not in p.stdout.lower():
            problems.append(f"{what}: exit {p.returncode} (expected {code}), output lacks '{needle}': "
                            f"{p.stdout.strip()[-300:]}")

    def expect_lines(cmd: list[str], needles: list[str], what: str) -> None:
        """The program prints every needle, in order, within the timeout; then it is stopped (the rest
        of its run is the chapter's work, checked elsewhere)."""
        nonlocal n
        n += 1
        seen, left = [], list(needles)
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                             cwd=ROOT)
        timer = threading.Timer(120, p.kill)  # a silent hang ends too
        timer.start()
        try:
            for line in p.stdout:
                seen.append(line.rstrip())
                if left and left[0].lower() in line.lower():
                    left.pop(0)
                if not left:
                    break
        finally:
            timer.cancel()
            p.kill()
            p.wait()
        if left:
            problems.append(f"{what}: output lacks '{left[0]}': {' | '.join(seen[-4:])[-300:]}")

    with tempfile.TemporaryDirectory() as tmp:
        blocker = Path(tmp) / "a-file"
        blocker.write_text("not a folder")
        for ch in m.chapters:
            sol = B.bin_dir(preset) / "solutions" / ch.dir
            exe = B.bin_dir(preset) / "exercises" / ch.dir
            if not sol.is_file():
                problems.append(f"{sol} was not built")
                continue
            name = ch.dir
            extra: list[str] = []
            if ch.needs:  # reads an earlier chapter's model: the student's, else the course's reference
                model = ROOT / "runs" / ch.needs / "model.dmt"  # dm::nn::kModelFileName
                ref = ROOT / "reference" / ch.needs / "model.dmt"
                expect([str(sol), "--quick", "--ckpt", str(Path(tmp) / "nowhere" / "model.dmt"), "--out", tmp], 1,
                       f"run chapter {ch.needs[:2]} first", f"{name} --ckpt <missing>")
                if ref.is_file():  # no run of the student's under --out: it says it uses the reference, and loads it
                    expect_lines([str(sol), "--quick", "--out", tmp],
                                 ["using the course's reference model", f"model: {ref}"],
                                 f"{name} without {ch.needs}'s model")
                    extra = ["--ckpt", str(ref)]
                elif model.is_file():
                    extra = ["--ckpt", str(model)]
                else:
                    continue
            own_ref = ROOT / "reference" / ch.dir / "model.dmt"
            starts_from_file = "--init" in RECIPES.get(ch.id, [])  # 06: quick mode starts from its reference
            if own_ref.is_file() and not starts_from_file:
                # its reference recipe's U-Net is not the quick one: --init says so, trains nothing
                expect([str(sol), "--quick", "--init", str(own_ref), "--out", tmp], 1,
                       "pass the U-Net flags it was trained with", f"{name} --quick --init <the reference model>")
            for bad in ch.bad_input:  # the chapter's own refusals (course.toml, bad_input)
                expect([str(sol), *bad["args"], "--out", tmp], int(bad["exit"]), bad["says"],
                       f"{name} {' '.join(bad['args'])}")
            expect([str(sol), "--help"], 0, "--quick", f"{name} --help")
            expect([str(sol), "--no-such-flag"], 2, "Usage", f"{name} --no-such-flag")
            expect([str(sol), "--device", "tpu"], 2, "--device", f"{name} --device tpu")
            expect([str(sol), "--quick", *extra, "--out", str(blocker / "sub")], 1, "cannot create",
                   f"{name} --out <under a file>")
            if ch.data == "fashion-mnist":
                expect([str(sol), "--quick", *extra, "--data-dir", str(Path(tmp) / "nowhere"), "--out", tmp], 1,
                       "dataset-fashion-mnist", f"{name} --data-dir <missing>")
            if ch.exercises and exe.is_file():
                expect([str(exe), "--quick", *extra, "--out", tmp], 1, "is not implemented yet",
                       f"{name} on the untouched stubs")
    return problems, f"{n} invocations"


def gate_slides() -> tuple[list[str], str]:
    p = subprocess.run([str(ROOT / "course"), "slides", "--no-setup"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    decks = [l for l in p.stdout.splitlines() if l.startswith("slides: ")]
    return ([] if p.returncode == 0 else [p.stdout[-1500:]]), f"{len(decks)} decks"


def timed(fn, *args):
    t0 = time.monotonic()
    out = fn(*args)
    return out, time.monotonic() - t0


def run_all(m: Manifest, preset: str, skip_slides: bool = False) -> int:
    r = Report()
    print("\n== tests and gates", flush=True)
    gate_solutions(m, preset, r)
    (probs, note), s = timed(gate_stubs, m, preset)
    r.check("stubs", probs, s, note)
    probs, s = timed(gate_manifest, m)
    r.check("manifest", probs, s, f"{len(m.exercises)} exercises, {sum(e.points for e in m.exercises)} points")
    from . import mutants
    (probs, note), s = timed(mutants.check, m)
    r.check("mistakes", probs, s, note)
    (probs, note), s = timed(gate_seeds, m, preset)
    r.check("seeds", probs, s, note)
    probs, s = timed(gate_generated)
    r.check("generated", probs, s, "exercises/ matches the generator")
    probs, s = timed(lessons.sync, m, True)
    r.check("lessons", probs, s, "includes, outputs and figures of lessons and slides")
    from . import numbers
    (probs, note), s = timed(numbers.check, m)
    r.check("numbers", probs, s, note)
    (probs, note), s = timed(gate_format)
    r.check("format", probs, s, note)
    (probs, note), s = timed(gate_cli, m, preset)
    r.check("cli", probs, s, note)
    if not skip_slides:
        (probs, note), s = timed(gate_slides)
        r.check("slides", probs, s, note)
    print()
    if r.failures:
        print(f"failed: {', '.join(r.failures)}")
    skipped = f", {r.skipped} skipped" if r.skipped else ""
    print(f"{r.passed} passed, {r.failed} failed{skipped}")
    return 1 if r.failed else 0
