"""Where `./course test`'s time goes (issue 8): printed at the end of every run, so a regression shows.

  the build, each gate and the whole run, against the budgets of CONTRIBUTING.md;
  the slowest objects of this build (ninja's .ninja_log, entries written during this run);
  each chapter's share of the build and of the solutions gate (a new chapter's cost against the
  budget of 2 min a chapter);
  the slowest tests of the solutions gate (GoogleTest's own per-test times).
Nothing here fails the run: times depend on the machine, and budgets are checked by reading them.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

BUDGET_TEST_S = 30 * 60      # ./course test on a fresh clone, 2 cores (CONTRIBUTING.md, "Build time")
BUDGET_ONE_TEST_S = 60       # no single test over a minute
BUDGET_CHAPTER_S = 2 * 60    # what one more chapter may add to ./course test


@dataclass
class Clock:
    started: float = field(default_factory=time.monotonic)
    wall_started: float = field(default_factory=time.time)
    parts: list[tuple[str, float]] = field(default_factory=list)
    tests: list[tuple[str, float]] = field(default_factory=list)   # (binary: Suite.Test, seconds)

    def add(self, name: str, seconds: float) -> None:
        self.parts.append((name, seconds))


CLOCK = Clock()


def objects_built_since(build_dir: Path, since_wall: float) -> list[tuple[float, str]]:
    """(seconds, object) for every .ninja_log entry whose output was written after since_wall."""
    log = build_dir / ".ninja_log"
    if not log.is_file():
        return []
    latest: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) < 4:
            continue
        try:
            start, end = int(cols[0]), int(cols[1])
        except ValueError:
            continue
        latest[cols[3]] = (end - start) / 1000.0   # a later line for the same output replaces an earlier one
    out = []
    for rel, secs in latest.items():
        p = build_dir / rel
        try:
            if p.stat().st_mtime >= since_wall - 1:
                out.append((secs, rel))
        except OSError:
            pass
    return sorted(out, reverse=True)


CHAPTER = re.compile(r"(?:^|[/_])(\d\d)(?:_[a-z]|_obj|_solutions|_exercises)")


def chapter_of(rel: str) -> str:
    """"03" for chapter 03's objects (its main, exercise files of both tracks, tests), else "common"."""
    m = CHAPTER.search(rel)
    return m.group(1) if m else "common"


def by_chapter(objs: list[tuple[float, str]], build_wall: float, gate_parts: list[tuple[str, float]]) -> list[str]:
    """Each chapter's build steps (their summed time, and that scaled to the build's wall time, as ninja
    ran them side by side) and its solutions-gate test time."""
    step_sum = sum(s for s, _ in objs)
    if step_sum <= 0:
        return []
    scale = build_wall / step_sum if build_wall > 0 else 0.0
    sums: dict[str, float] = {}
    for secs, rel in objs:
        sums[chapter_of(rel)] = sums.get(chapter_of(rel), 0.0) + secs
    tests: dict[str, float] = {}
    for name, secs in gate_parts:
        m = re.match(r"tests test_(\d\d)_", name)
        if m:
            tests[m.group(1)] = tests.get(m.group(1), 0.0) + secs
    lines = [f"  by chapter (build steps summed; ~ their share of the build's {build_wall:.0f} s; the solutions "
             f"gate's tests; budget {BUDGET_CHAPTER_S // 60} min a chapter):"]
    for ch in sorted(sums, key=lambda c: (c == "common", c)):
        share = sums[ch] * scale
        t = tests.get(ch, 0.0)
        flag = "  (over budget)" if ch != "common" and share + t > BUDGET_CHAPTER_S else ""
        lines.append(f"    {ch:7} {sums[ch]:6.0f} s of steps  ~{share:5.0f} s of the build  {t:5.1f} s of tests{flag}")
    return lines


def summary(build_dir: Path, top: int = 5) -> str:
    total = time.monotonic() - CLOCK.started
    lines = ["", "== where the time went"]
    for name, s in CLOCK.parts:
        lines.append(f"  {name:22} {s:7.1f} s")
    over = " (over the 30 min budget)" if total > BUDGET_TEST_S else ""
    lines.append(f"  {'total':22} {total:7.1f} s{over}")
    objs = objects_built_since(build_dir, CLOCK.wall_started)
    if objs:
        cpu = sum(s for s, _ in objs)
        lines.append(f"  slowest of the {len(objs)} build steps of this run (their times add up to {cpu:.0f} s; "
                     "ninja runs several side by side):")
        lines += [f"    {s:6.1f} s  {rel}" for s, rel in objs[:top]]
        build_wall = sum(s for name, s in CLOCK.parts if name.startswith("build"))
        lines += by_chapter(objs, build_wall, CLOCK.parts)
    if CLOCK.tests:
        lines.append(f"  slowest of the {len(CLOCK.tests)} tests of the solutions gate:")
        for name, s in sorted(CLOCK.tests, key=lambda x: -x[1])[:top]:
            flag = "  (over 60 s)" if s > BUDGET_ONE_TEST_S else ""
            lines.append(f"    {s:6.1f} s  {name}{flag}")
    return "\n".join(lines)
