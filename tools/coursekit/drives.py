"""Every exercise drives its chapter program: `./course drives [NN | NN.k ...]`.

For each chosen exercise the tool builds the chapter's program on the exercises track with every
exercise file taken from solutions/ except that one exercise, which is made its stub (as `./course
gen` makes it), runs the program with the chapter's `smoke` arguments (course.toml: the smallest
sizes that still reach every exercise), and checks that it stops with exit 1 and that exercise's own
line, "exercise NN.k is not implemented yet". A program that finishes, or stops at another exercise,
does not run the student's code for it. First every program runs once on the solutions and must
finish (exit 0); chapter 05 then reads the model that chapter 03's run wrote.

It shares build/mutants (and its copy of solutions/) with `./course mutants`, so the two do not run at
once. A round stubs one exercise in each of several chapters whose programs do not link each other's
exercise code (chapter 03's program links chapter 02's, chapter 05's links 02's and 03's). The
table goes to tests/DRIVES.md; it rebuilds once per round, so it runs on demand.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .manifest import ROOT, Exercise, Manifest
from .mutants import prepare_build_dir, restore, stub_only

TIMEOUT = 900.0


def linked_chapters(bdir: Path, m: Manifest) -> dict[str, set[str]]:
    """{chapter id: the chapters whose exercise library its program links}, read from build.ninja."""
    text = (bdir / "build.ninja").read_text(encoding="utf-8", errors="replace")
    out: dict[str, set[str]] = {}
    for ch in m.chapters:
        line = re.search(rf"^build bin/exercises/{re.escape(ch.dir)}: .*$", text, re.M)
        out[ch.id] = set(re.findall(r"libdm_(\d\d)_exercises\.a", line.group(0))) | {ch.id} if line else {ch.id}
    return out


def run(m: Manifest, keys: list[str], timeout: float = TIMEOUT) -> int:
    chosen = [e for e in m.select(keys)]
    if not chosen:
        print("drives: no exercises for that choice", file=sys.stderr)
        return 2
    prepared = prepare_build_dir("drives")
    if prepared is None:
        return 2
    lock, bdir, mdir, rels = prepared
    links = linked_chapters(bdir, m)
    runs = bdir / "drives"
    cache = runs / "cache"  # the evaluation classifier, trained once and shared by every run
    cache.mkdir(parents=True, exist_ok=True)
    by_id = {c.id: c for c in m.chapters}

    def build(chapters: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(["cmake", "--build", str(bdir), "--target", *[f"ch{c}_exercises" for c in chapters],
                               "--", "-k", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              errors="replace")

    def program(ch_id: str, tag: str) -> tuple[int, str, float]:
        ch = by_id[ch_id]
        out = runs / tag
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        os.symlink(cache, out / "cache")
        args = [str(bdir / "bin" / "exercises" / ch.dir), *ch.smoke, "--out", str(out)]
        if ch.needs:
            args += ["--ckpt", str(runs / "models" / ch.needs / "model.dmt")]
        t0 = time.monotonic()
        try:
            p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                               timeout=timeout)
            rc, text = p.returncode, p.stdout
        except subprocess.TimeoutExpired as e:
            rc, text = -1, f"(timed out after {timeout:g} s) {e.stdout or ''}"
        return rc, text, time.monotonic() - t0

    chapters = sorted({e.chapter for e in chosen} | {by_id[e.chapter].needs[:2] for e in chosen if by_id[e.chapter].needs})
    for c in chapters:
        if not by_id[c].smoke:
            print(f"drives: chapter {c} has no smoke arguments in course.toml", file=sys.stderr)
            return 2
    print(f"drives: {len(chosen)} exercises; the chapter programs of the exercises track in {bdir.relative_to(ROOT)}",
          flush=True)
    rows: list[tuple[Exercise, str, str, float]] = []
    problems = 0
    try:
        r = build(chapters)
        if r.returncode != 0:
            print(r.stdout[-3000:])
            print("drives: the programs do not build on the solutions", file=sys.stderr)
            return 1
        solved: dict[str, float] = {}
        for c in chapters:  # in order: 03's model is 05's input
            rc, text, s = program(c, f"solved_{c}")
            if rc != 0:
                print(text[-3000:])
                print(f"drives: chapter {c}'s program does not finish on the solutions (exit {rc})", file=sys.stderr)
                return 1
            solved[c] = s
            print(f"  chapter {c} on the solutions: finished in {s:.0f} s", flush=True)
            model = runs / f"solved_{c}" / by_id[c].dir / "model.dmt"
            if model.is_file():
                (runs / "models" / by_id[c].dir).mkdir(parents=True, exist_ok=True)
                shutil.copy2(model, runs / "models" / by_id[c].dir / "model.dmt")
        queues: dict[str, list[Exercise]] = {}
        for e in chosen:
            queues.setdefault(e.chapter, []).append(e)
        while any(queues.values()):
            batch: list[Exercise] = []
            for c in sorted(queues, key=lambda c: -len(queues[c])):
                # a chapter joins the round when no program of the round links another's stubbed code
                if queues[c] and all(c not in links[b.chapter] and b.chapter not in links[c] for b in batch):
                    batch.append(queues[c].pop(0))
            for e in batch:
                (mdir / e.file).write_text(stub_only((ROOT / "solutions" / e.file).read_text(encoding="utf-8"), e.id),
                                           encoding="utf-8")
            r = build(sorted({e.chapter for e in batch}))
            for e in batch:
                if r.returncode != 0:
                    verdict, line, s = "does not build", r.stdout.strip().splitlines()[-1][:200], 0.0
                else:
                    rc, text, s = program(e.chapter, f"stub_{e.id}")
                    want = f"exercise {e.id} is not implemented yet"
                    hit = [l for l in text.splitlines() if "is not implemented yet" in l]
                    line = hit[0].strip() if hit else (text.strip().splitlines() or ["(no output)"])[-1][:200]
                    verdict = ("stops at it" if rc == 1 and hit and want in hit[0] else
                               "stops at another exercise" if hit else
                               "finishes without it" if rc == 0 else f"exit {rc}")
                ok = verdict == "stops at it"
                problems += not ok
                rows.append((e, verdict, line, s))
                print(f"  {'ok ' if ok else 'BAD'} {e.id:6} {verdict:26} {s:5.0f} s  {line[:100]}", flush=True)
            for e in batch:
                restore(e.file, mdir)
    finally:
        for rel in rels:
            restore(rel, mdir)
    write_record(m, rows, solved if rows else {})
    print(f"\ndrives: {sum(v == 'stops at it' for _, v, _, _ in rows)} of {len(rows)} exercises stop their chapter's "
          f"program with their own line when they alone are stubbed")
    return 0 if problems == 0 else 1


def write_record(m: Manifest, rows: list[tuple[Exercise, str, str, float]], solved: dict[str, float]) -> None:
    path = ROOT / "tests" / "DRIVES.md"
    old: dict[str, str] = {}
    if path.is_file():  # keep the rows of exercises this run did not check
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.match(r"^\| \d\d\.\d+ \|", line):
                old[line.split(" | ")[0][2:]] = line
    by_id = {c.id: c for c in m.chapters}
    for e, verdict, line, s in rows:
        old[e.id] = (f"| {e.id} | {by_id[e.chapter].dir} {' '.join(by_id[e.chapter].smoke)} | {verdict} | "
                     f"{line.replace('|', chr(92) + '|')} | {s:.0f} |")
    order = {e.id: i for i, e in enumerate(m.exercises)}
    body = [old[k] for k in sorted(old, key=lambda k: order.get(k, 999))]
    good = sum(" | stops at it | " in l for l in body)
    timing = ", ".join(f"{c} {s:.0f} s" for c, s in solved.items())
    path.write_text(
        "# Every exercise drives its chapter program\n\n"
        "Written by `./course drives` ([tools/coursekit/drives.py](../tools/coursekit/drives.py)): each exercise "
        "alone made its stub, the others solved, the chapter program built on the exercises track and run with "
        "the chapter's `smoke` arguments of course.toml. *Stops at it* means the program exited 1 with that "
        "exercise's own \"not implemented\" line: the program runs the student's code for it.\n\n"
        f"{good} of {len(body)} exercises stop their program. "
        + (f"On the solutions every program finished (seconds: {timing}).\n\n" if timing else "\n\n")
        + "| exercise | program and arguments | verdict | what it printed | s |\n|---|---|---|---|---|\n"
        + "\n".join(body) + "\n", encoding="utf-8")
    print(f"drives: wrote {path.relative_to(ROOT)}")
