"""course.toml: chapters and exercises, the one place order, points and hints live."""
from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Exercise:
    id: str
    chapter: str
    title: str
    file: str
    tests: str
    points: int
    hint: str

    def matches(self, test_name: str) -> bool:
        return gtest_filter_matches(self.tests, test_name)


@dataclass
class Chapter:
    id: str
    dir: str
    title: str
    quick: list[str] = field(default_factory=list)
    data: str = ""
    needs: str = ""
    exercises: list[Exercise] = field(default_factory=list)


@dataclass
class Manifest:
    title: str
    chapters: list[Chapter]

    @property
    def exercises(self) -> list[Exercise]:
        return [e for c in self.chapters for e in c.exercises]

    def chapter(self, key: str) -> Chapter:
        key = key.strip().rstrip("/")
        for c in self.chapters:
            if key in (c.id, c.dir, str(int(c.id))) or key == f"chapters/{c.dir}":
                return c
        raise KeyError(f"no chapter '{key}' (chapters: {', '.join(c.id for c in self.chapters)})")

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
                        data=c.get("data", ""), needs=c.get("needs", ""))
                for c in data.get("chapter", [])]
    by_id = {c.id: c for c in chapters}
    seen: set[str] = set()
    for e in data.get("exercise", []):
        ex = Exercise(id=e["id"], chapter=e["chapter"], title=e["title"], file=e["file"], tests=e["tests"],
                      points=int(e["points"]), hint=e.get("hint", "").strip())
        if ex.id in seen:
            raise ValueError(f"course.toml: exercise {ex.id} is listed twice")
        if ex.chapter not in by_id:
            raise ValueError(f"course.toml: exercise {ex.id} names unknown chapter {ex.chapter}")
        if not ex.id.startswith(ex.chapter + "."):
            raise ValueError(f"course.toml: exercise {ex.id} should start with its chapter id {ex.chapter}")
        seen.add(ex.id)
        by_id[ex.chapter].exercises.append(ex)
    return Manifest(title=data.get("course", {}).get("title", "course"), chapters=chapters)
