"""Lessons and slides pull code by anchor; this keeps them current.

In a source file:            // ANCHOR: q_sample  ...  // ANCHOR_END: q_sample
In a lesson or slide deck:   <!-- include: exercises/02_forward_noising/forward.cpp#q_sample -->
                             <!-- /include -->
                             <!-- output: --quick -->   (the chapter program's stdout)
                             <!-- /output -->
                             <!-- exercises -->         (the chapter's exercises, from course.toml)
                             <!-- /exercises -->
`./course lessons` fills the blocks; `--check` (a gate of `./course test`) reports blocks that
are stale, anchors that do not resolve, and figures the text shows that are missing.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from .manifest import ROOT, Manifest

INCLUDE = re.compile(r"<!-- include: (?P<path>[^#\s]+)(?:#(?P<anchor>[\w.-]+))? -->\n(?P<body>.*?)<!-- /include -->",
                     re.S)
EXERCISES = re.compile(r"<!-- exercises -->\n(?P<body>.*?)<!-- /exercises -->", re.S)
OUTPUT = re.compile(r"<!-- output: (?P<args>[^>]*?) -->\n(?P<body>.*?)<!-- /output -->", re.S)
FIGURE = re.compile(r"\]\((figures/[\w.-]+\.(?:png|mp4|gif))\)")
SLIDE_MEDIA = re.compile(r"(?:\]\(|src=\")(\.\./[\w./-]+\.(?:png|mp4|gif|webm))")
ANCHOR_LINE = re.compile(r"^\s*(//|#)\s*ANCHOR(_END)?:\s*[\w.-]+\s*$")
LANG = {".cpp": "cpp", ".hpp": "cpp", ".cu": "cpp", ".h": "cpp", ".py": "python", ".cmake": "cmake",
        ".toml": "toml", ".txt": "cmake"}


class AnchorError(Exception):
    pass


def region(path: str, anchor: str | None) -> str:
    file = ROOT / path
    if not file.is_file():
        raise AnchorError(f"{path}: no such file")
    lines = file.read_text(encoding="utf-8").splitlines()
    if anchor:
        start = [i for i, l in enumerate(lines) if re.match(rf"^\s*(//|#)\s*ANCHOR:\s*{re.escape(anchor)}\s*$", l)]
        end = [i for i, l in enumerate(lines) if re.match(rf"^\s*(//|#)\s*ANCHOR_END:\s*{re.escape(anchor)}\s*$", l)]
        if len(start) != 1 or len(end) != 1 or end[0] < start[0]:
            raise AnchorError(f"{path}#{anchor}: anchor not found (or not exactly once)")
        lines = lines[start[0] + 1:end[0]]
    lines = [l for l in lines if not ANCHOR_LINE.match(l)]
    indent = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
    return "\n".join(l[indent:] for l in lines).strip("\n")


def render_include(path: str, anchor: str | None) -> str:
    code = region(path, anchor)
    lang = "text" if path.startswith("reference/") else LANG.get(Path(path).suffix, "")
    what = f" — `{anchor}`" if anchor else ""
    return f"<sub>[`{path}`]({rel_link(path)}){what}</sub>\n\n```{lang}\n{code}\n```\n"


def render_exercises(manifest: Manifest, chapter_dir: str) -> str:
    ch = next(c for c in manifest.chapters if c.dir == chapter_dir)
    rows = ["| id | exercise | kind | file | tests | points |", "|---|---|---|---|---|---|"]
    for e in ch.exercises:
        title = e.title.replace("|", "\\|")
        rows.append(f"| {e.id} | {title} | {e.kind} | `exercises/{e.file}` | `{e.tests}` | {e.points} |")
    total = sum(e.points for e in ch.exercises)
    return "\n".join(rows) + f"\n\n{len(ch.exercises)} exercises, {total} points (`./course list`, `./course grade {ch.id}`).\n"


def rel_link(path: str) -> str:
    return "../../" + path   # lessons live two folders down: chapters/NN_name/README.md


def documents(manifest: Manifest) -> list[Path]:
    docs = [ROOT / "chapters" / c.dir / "README.md" for c in manifest.chapters]
    docs += sorted((ROOT / "slides").glob("*.md"))
    return [d for d in docs if d.is_file()]


def sync(manifest: Manifest, check: bool, outputs: bool = False, figures: bool = False,
         binary_for=None, only: set[str] | None = None) -> list[str]:
    """Returns problems (check mode) or rewrites the documents. `only`: the chapter ids whose outputs and
    figures are re-captured (None: every chapter's); the includes of every document are filled."""
    dirs = None if only is None else {c.dir for c in manifest.chapters if c.id in only}
    problems: list[str] = []
    for doc in documents(manifest):
        text = doc.read_text(encoding="utf-8")
        rel = doc.relative_to(ROOT)
        in_slides = doc.parent.name == "slides"

        def fill(m: re.Match) -> str:
            try:
                body = render_include(m["path"], m["anchor"])
            except AnchorError as e:
                problems.append(f"{rel}: {e}")
                return m.group(0)
            if in_slides:  # links relative to slides/
                body = body.replace("](../../", "](../")
            if check and m["body"] != body:
                problems.append(f"{rel}: the code from {m['path']}#{m['anchor'] or ''} is stale "
                                "(run `./course lessons`)")
            return f"<!-- include: {m['path']}{'#' + m['anchor'] if m['anchor'] else ''} -->\n{body}<!-- /include -->"

        new = INCLUDE.sub(fill, text)
        if not in_slides and EXERCISES.search(new):
            table = render_exercises(manifest, doc.parent.name)
            for m in EXERCISES.finditer(new):
                if check and m["body"] != table:
                    problems.append(f"{rel}: the exercise table is stale (run `./course lessons`)")
            new = EXERCISES.sub(lambda m: f"<!-- exercises -->\n{table}<!-- /exercises -->", new)
        chosen = dirs is None or doc.parent.name in dirs
        if outputs and binary_for and not in_slides and chosen:
            chapter = doc.parent.name

            def run(m: re.Match) -> str:
                out = binary_for(chapter, m["args"].split())
                return f"<!-- output: {m['args']} -->\n```text\n{out.rstrip()}\n```\n<!-- /output -->"

            new = OUTPUT.sub(run, new)
        if check:
            for m in OUTPUT.finditer(new):
                if "```" not in m["body"]:
                    problems.append(f"{rel}: an output block is empty (run `./course lessons --outputs`)")
        if not in_slides:
            for fig in FIGURE.findall(new):
                target = doc.parent / fig
                if figures and chosen:
                    src = ROOT / "runs" / doc.parent.name / Path(fig).name
                    if src.is_file():
                        target.parent.mkdir(exist_ok=True)
                        shutil.copyfile(src, target)
                if not target.is_file():
                    problems.append(f"{rel}: shows {fig}, which is missing "
                                    "(run `./course tour`, then `./course lessons --figures`)")
        if in_slides:  # a deck shows committed media only, so it builds before any run
            for ref in SLIDE_MEDIA.findall(new):
                if not (doc.parent / ref).is_file():
                    problems.append(f"{rel}: shows {ref}, which is missing (decks use the committed "
                                    "chapters/NN/figures/; run `./course lessons --figures` after the chapter's run)")
                if "/runs/" in ref:
                    problems.append(f"{rel}: shows {ref} from runs/: use the committed chapters/NN/figures/ copy")
        if not check and new != text:
            doc.write_text(new, encoding="utf-8")
            print(f"lessons: updated {rel}")
    return problems


def capture(binary: Path, args: list[str]) -> str:
    """The program's output as a student sees it after `./course tour` (it writes to runs/)."""
    r = subprocess.run([str(binary), *args, "--out", "runs"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, errors="replace", cwd=ROOT)
    # Progress lines carry timings that change every run; the lesson keeps the results.
    keep = [l for l in r.stdout.splitlines() if " it/s " not in l]
    return "\n".join(keep)
