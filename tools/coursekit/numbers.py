"""Every number in a lesson or slide that looks measured comes from a command.

A *measured-looking* number in prose is a decimal with 3 or more significant digits (32.53, 0.0691,
1.05), a percentage (18 %, 91.6%), a time (24.5 s, 3 min, 2 h) or any number right after FID, KID,
precision or recall. Such a number is traced when
  - it sits inside a captured output block (<!-- output: ... -->) or a code include of the document,
  - or the same token appears in an include of a run's stored output, reference/**/*.txt (a course
    command wrote it beside the model it measured, reference/README.md),
  - or the same token appears in one of the document's captured output blocks, or for a slide deck
    in its chapter's lesson (the prose quotes the run shown beside it; when that run is re-captured
    and the number changes, this check fails),
  - or it is on the allow-list, tools/coursekit/numbers_allow.toml, with its source (a paper's
    constant, a definition of this course, an arithmetic identity shown in the text).
Everything else is reported: `./course test` fails on it (gate `numbers`), `./course numbers` lists
it with its line.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .lessons import INCLUDE, OUTPUT, documents
from .manifest import ROOT, Manifest

ALLOW = ROOT / "tools" / "coursekit" / "numbers_allow.toml"

NUM = r"(?<![\w.])[-−]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?"
PATTERNS = [
    ("metric", re.compile(rf"\b(?:FID|KID|precision|recall|floor|confidence|measured)(?:\s+(?:of|=|is|at|:))?\s+(?P<n>{NUM})")),
    ("percent", re.compile(rf"(?P<n>{NUM})\s?(?:%|per ?cent\b)")),
    ("time", re.compile(rf"(?<![\^_{{])(?P<n>{NUM})\s?(?:s|ms|µs|min|minutes?|seconds?|hours?|h)(?![\w(.-])")),
    ("decimal", re.compile(r"(?<![\w.])(?P<n>[-−]?\d+\.\d+)(?![\w.])")),
]
TOKEN = re.compile(r"[-−]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")


def significant_digits(s: str) -> int:
    digits = re.sub(r"[^0-9]", "", s.split("e")[0])
    return len(digits.lstrip("0"))


@dataclass
class Finding:
    doc: str
    line: int
    kind: str
    number: str
    context: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.kind} {self.number} has no source: …{self.context}…"


def load_allow() -> dict[str, dict[str, str]]:
    """{doc: {number: source}}; the entry doc "*" holds numbers allowed everywhere."""
    if not ALLOW.is_file():
        return {}
    data = tomllib.loads(ALLOW.read_text(encoding="utf-8"))
    out: dict[str, dict[str, str]] = {}
    for entry in data.get("number", []):
        out.setdefault(entry["doc"], {})[str(entry["value"])] = entry["source"]
    return out


def norm(tok: str) -> str:
    return tok.replace("−", "-").replace(",", "")


def captured_tokens(text: str) -> set[str]:
    captured: set[str] = set()
    bodies = [m["body"] for m in OUTPUT.finditer(text)]
    bodies += [m["body"] for m in INCLUDE.finditer(text)
               if m["path"].startswith("reference/") and m["path"].endswith(".txt")]
    for body in bodies:
        for t in TOKEN.findall(body):
            captured.add(norm(t))
            captured.add(norm(t).split("e")[0])  # 4.04e-05 is quoted as 4.04·10^-5
    return captured


def scan(text: str, doc: str, allow: dict[str, dict[str, str]], captured: set[str],
         exercise_ids: frozenset[str] = frozenset()) -> list[Finding]:
    # blank out what is traced by construction, keeping line numbers
    def blank(m: re.Match) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))
    prose = OUTPUT.sub(blank, INCLUDE.sub(blank, text))
    prose = re.sub(r"<!--.*?-->", blank, prose, flags=re.S)      # comments
    prose = re.sub(r"\]\([^)]*\)", blank, prose)                  # link targets (file names)
    prose = re.sub(r"`[^`\n]*`", blank, prose)                    # inline code: flags, names, paths
    allowed = {**allow.get("*", {}), **allow.get(doc, {})}
    found: list[Finding] = []
    seen: set[tuple[int, str]] = set()
    for kind, pat in PATTERNS:
        for m in pat.finditer(prose):
            n = norm(m["n"])
            if kind == "decimal" and (significant_digits(n) < 3 or m["n"] in exercise_ids):
                continue  # too short to be measured, or an exercise's id (06.10 is no number)
            if n in captured or n in allowed or n.lstrip("-") in allowed:
                continue
            line = prose.count("\n", 0, m.start()) + 1
            if (line, n) in seen:
                continue
            seen.add((line, n))
            lo, hi = max(0, m.start() - 40), min(len(prose), m.end() + 20)
            found.append(Finding(doc, line, kind, m["n"], " ".join(prose[lo:hi].split())))
    return sorted(found, key=lambda f: (f.line, f.number))


# The checker checks itself first, so that the gate cannot pass by finding nothing: in this text it
# must report exactly 12.34 (after FID), 56 (a percentage) and 3.2 (a time), and not 9.87, which the
# prose quotes from the captured output block, nor 0.5 (two significant digits).
SELF_TEST = ("We reach FID 12.34 with 56 % of one class in 3.2 s at lr 0.5; the run printed 9.87.\n"
             "<!-- output: --quick -->\n```text\nFID 9.87\n```\n<!-- /output -->\n")


def self_test() -> list[str]:
    got = sorted(f.number for f in scan(SELF_TEST, "self-test", {}, captured_tokens(SELF_TEST)))
    want = ["12.34", "3.2", "56"]
    return [] if got == want else [f"numbers: the checker's self-test found {got}, expected {want}"]


def check(manifest: Manifest) -> tuple[list[str], str]:
    allow = load_allow()
    findings: list[Finding] = []
    broken = self_test()
    if broken:
        return broken, "self-test failed"
    docs = documents(manifest)
    for d in docs:
        rel = str(d.relative_to(ROOT))
        text = d.read_text(encoding="utf-8")
        captured = captured_tokens(text)
        if d.parent.name == "slides":  # a deck quotes its chapter's captured run
            lesson = ROOT / "chapters" / d.stem / "README.md"
            if lesson.is_file():
                captured |= captured_tokens(lesson.read_text(encoding="utf-8"))
        findings += scan(text, rel, allow, captured, frozenset(e.id for e in manifest.exercises))
    return [str(f) for f in findings], f"{len(docs)} documents, {sum(len(v) for v in allow.values())} allowed"
