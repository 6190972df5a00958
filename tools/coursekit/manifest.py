"""course.toml: chapters and exercises, the one place order, points and hints live."""
from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("", "algorithm", "derivation")


@dataclass
class Exercise:
    id: str
    chapter: str
    title: str
    file: str
    tests: str
    points: int
    hint: str
    # Partial credit: the exercise's points are split over its tests in proportion to these
    # weights (test name -> weight); a test not named weighs 1, a weight of 0 makes a test
    # ungraded for points (it still reports).
    weights: dict[str, float] = field(default_factory=dict)
    # The tests that check the answer itself, one per part of the exercise, which no trivial answer
    # (zeros, the input, a constant, the sign flipped) passes: an answer that fails every one of them
    # scores 0, whatever statistics it happens to satisfy; one that passes some keeps its partial credit.
    core: list[str] = field(default_factory=list)
    # "algorithm" (a whole loop or training step, taking its parts as arguments), "derivation" (a
    # closed form derived on paper, graded against an independent numerical truth), or "".
    kind: str = ""

    def weight(self, test_name: str) -> float:
        return float(self.weights.get(test_name, 1.0))

    def matches(self, test_name: str) -> bool:
        return gtest_filter_matches(self.tests, test_name)


@dataclass
class Chapter:
    id: str
    dir: str
    title: str
    quick: list[str] = field(default_factory=list)
    smoke: list[str] = field(default_factory=list)  # the smallest run that still calls every exercise
    data: str = ""
    needs: str = ""
    # the chapter's own bad input, each {args, exit, says}: the cli gate runs them (the common ones,
    # --help, a bad flag, a missing --data-dir, ..., it runs for every chapter)
    bad_input: list[dict] = field(default_factory=list)
    exercises: list[Exercise] = field(default_factory=list)


@dataclass
class Manifest:
    title: str
    chapters: list[Chapter]
    assignments: dict[str, list[str]] = field(default_factory=dict)  # name -> exercise ids

    @property
    def exercises(self) -> list[Exercise]:
        return [e for c in self.chapters for e in c.exercises]

    def chapter(self, key: str) -> Chapter:
        key = key.strip().rstrip("/")
        for c in self.chapters:
            if key in (c.id, c.dir, str(int(c.id))) or key == f"chapters/{c.dir}":
                return c
        raise KeyError(f"no chapter '{key}' (chapters: {', '.join(c.id for c in self.chapters)})")

    def select(self, keys: list[str], assignment: str | None = None) -> list[Exercise]:
        """Exercises chosen by ids ('03.2'), chapters ('03', '03_ddpm') and/or an assignment's name,
        in course order; everything when nothing is chosen."""
        wanted: set[str] = set()
        if assignment is not None:
            if assignment not in self.assignments:
                known = ', '.join(sorted(self.assignments)) or 'none in course.toml'
                raise KeyError(f"no assignment '{assignment}' (assignments: {known})")
            wanted |= set(self.assignments[assignment])
        for k in keys:
            if re.fullmatch(r"\d\d\.\d+", k.strip()):
                wanted.add(self.exercise(k.strip()).id)
            else:
                wanted |= {e.id for e in self.chapter(k).exercises}
        if not keys and assignment is None:
            return self.exercises
        return [e for e in self.exercises if e.id in wanted]

    def exercise(self, ex_id: str) -> Exercise:
        for e in self.exercises:
            if e.id == ex_id:
                return e
        raise KeyError(f"no exercise '{ex_id}' (see `./course list`)")


def gtest_filter_matches(flt: str, name: str) -> bool:
    """GoogleTest filter semantics: 'A.*:B.x-A.slow*' (positives, then '-' negatives)."""
    pos, _, neg = flt.partition("-")
    positives = [p for p in pos.split(":") if p] or ["*"]
    negatives = [n for n in neg.split(":") if n]
    return any(fnmatch.fnmatchcase(name, p) for p in positives) and not any(
        fnmatch.fnmatchcase(name, n) for n in negatives)


def load(path: Path = ROOT / "course.toml") -> Manifest:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    chapters = [Chapter(id=c["id"], dir=c["dir"], title=c["title"], quick=list(c.get("quick", [])),
                        smoke=list(c.get("smoke", [])),
                        data=c.get("data", ""), needs=c.get("needs", ""),
                        bad_input=[dict(b) for b in c.get("bad_input", [])])
                for c in data.get("chapter", [])]
    by_id = {c.id: c for c in chapters}
    seen: set[str] = set()
    for e in data.get("exercise", []):
        ex = Exercise(id=e["id"], chapter=e["chapter"], title=e["title"], file=e["file"], tests=e["tests"],
                      points=int(e["points"]), hint=e.get("hint", "").strip(),
                      weights={k: float(v) for k, v in e.get("weights", {}).items()}, kind=e.get("kind", ""),
                      core=list(e.get("core", [])))
        if ex.kind not in KINDS:
            raise ValueError(f"course.toml: exercise {ex.id} has kind '{ex.kind}' (one of {', '.join(KINDS[1:])})")
        if any(w < 0 for w in ex.weights.values()):
            raise ValueError(f"course.toml: exercise {ex.id} has a negative test weight")
        if ex.id in seen:
            raise ValueError(f"course.toml: exercise {ex.id} is listed twice")
        if ex.chapter not in by_id:
            raise ValueError(f"course.toml: exercise {ex.id} names unknown chapter {ex.chapter}")
        if not ex.id.startswith(ex.chapter + "."):
            raise ValueError(f"course.toml: exercise {ex.id} should start with its chapter id {ex.chapter}")
        seen.add(ex.id)
        by_id[ex.chapter].exercises.append(ex)
    assignments: dict[str, list[str]] = {}
    for a in data.get("assignment", []):
        name, ids = a.get("name", ""), list(a.get("exercises", []))
        if not name or not ids:
            raise ValueError("course.toml: an [[assignment]] needs a name and a list of exercises")
        if name in assignments:
            raise ValueError(f"course.toml: assignment '{name}' is listed twice")
        unknown = [i for i in ids if i not in seen]
        if unknown:
            raise ValueError(f"course.toml: assignment '{name}' names unknown exercises {', '.join(unknown)}")
        assignments[name] = ids
    return Manifest(title=data.get("course", {}).get("title", "course"), chapters=chapters,
                    assignments=assignments)
