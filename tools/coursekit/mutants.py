"""Mistakes, applied: `./course mutants [NN | NN.k ...]`.

Each chapter's tests/NN_name/mistakes.toml lists the likeliest mistakes of its exercises, each as
an edit of the reference solution:

    [[mistake]]
    exercise = "02.3"
    mistake  = "x0 scaled by alpha_bar_t instead of its square root"   # what the student wrote
    find     = "extract(s.alpha_bar.sqrt(), t, x0)"   # text inside the exercise's solution block, once
    replace  = "extract(s.alpha_bar, t, x0)"
    names    = "x0 is scaled by alpha_bar_t"           # what the grade table's line must say

    [[mistake]]
    exercise = "02.3"
    trivial  = "zeros"                  # zeros | identity | constant | flipped | hardcoded
    body     = "return torch::zeros_like(x0);"   # replaces the whole solution block

`find` may stand in any of the exercise's blocks (once in all of them together); a `body` replaces
every block, or, with lines `// ---- next block ----` between them, one body per block in order. A
`flipped` answer without a body negates each block's last `return` expression. In a body,
GOLDEN("file", "name") becomes the golden value tests/golden/<file>.json[name] as a float64
tensor literal (a student who hard-codes the reference outputs).

For every mistake the tool builds the exercises track with every exercise file taken from
solutions/, except the one mutated copy (through DM_STUB_FILES / DM_STUB_DIR, in its own build
folder build/mutants, so the student's build is never reconfigured), grades that exercise at one seed, and records whether the mistake lost
points (a trivial answer must score 0) and whether the grade table's line names it. The table
goes to tests/NN_name/MISTAKES.md. It rebuilds once per mistake, so it runs on demand; `./course
test` only checks that every recorded mistake still applies to its solution file.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .grade import draw_seed, grade_one
from .manifest import ROOT, Exercise, Manifest

TRIVIAL = ("zeros", "identity", "constant", "flipped", "hardcoded")
REQUIRED_TRIVIAL = ("zeros", "constant", "flipped")   # identity where the exercise has an input to echo
GOLDEN_CALL = re.compile(r'GOLDEN\(\s*"([^"]+)"\s*,\s*"([^"]+)"\s*\)')


@dataclass
class Mistake:
    exercise: str
    chapter_dir: str
    text: str            # what the student did
    find: str = ""
    replace: str = ""
    names: str = ""
    trivial: str = ""
    body: str = ""
    source: str = ""

    @property
    def label(self) -> str:
        return self.text or f"trivial answer: {self.trivial}"


def load(m: Manifest) -> tuple[list[Mistake], list[str]]:
    """Every recorded mistake, and the problems of the files themselves."""
    out, problems = [], []
    for ch in m.chapters:
        path = ROOT / "tests" / ch.dir / "mistakes.toml"
        if not path.is_file():
            if ch.exercises:
                problems.append(f"tests/{ch.dir}/mistakes.toml is missing")
            continue
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            problems.append(f"tests/{ch.dir}/mistakes.toml: {e}")
            continue
        for i, e in enumerate(doc.get("mistake", []), 1):
            where = f"tests/{ch.dir}/mistakes.toml, mistake {i}"
            unknown = set(e) - {"exercise", "mistake", "find", "replace", "names", "trivial", "body", "source"}
            if unknown:
                problems.append(f"{where}: unknown keys {', '.join(sorted(unknown))}")
            mk = Mistake(exercise=e.get("exercise", ""), chapter_dir=ch.dir, text=e.get("mistake", ""),
                         find=e.get("find", ""), replace=e.get("replace", ""), names=e.get("names", ""),
                         trivial=e.get("trivial", ""), body=e.get("body", ""), source=e.get("source", ""))
            if not mk.exercise.startswith(ch.id + "."):
                problems.append(f"{where}: exercise '{mk.exercise}' is not of chapter {ch.id}")
            if mk.trivial:
                if mk.trivial not in TRIVIAL:
                    problems.append(f"{where}: trivial must be one of {', '.join(TRIVIAL)}")
                if not mk.body and mk.trivial != "flipped":
                    problems.append(f"{where}: a trivial answer needs a body")
            else:
                if not (mk.text and mk.names and (mk.find or mk.body)):
                    problems.append(f"{where}: a mistake needs 'mistake', 'names' and 'find'/'replace' (or 'body')")
            out.append(mk)
    return out, problems


def solution_blocks(text: str, ex_id: str) -> list[tuple[int, int, int]]:
    """Every `// BEGIN SOLUTION id` block of the file, in order, as (start, stop, end): the block's
    code runs from start to stop (without a trailing STUB section); its END SOLUTION line starts at end."""
    blocks = []
    for begin in re.finditer(rf"^[ \t]*// BEGIN SOLUTION {re.escape(ex_id)}[ \t]*\n", text, re.M):
        end = re.compile(r"^[ \t]*// END SOLUTION[ \t]*$", re.M).search(text, begin.end())
        if not end:
            raise ValueError(f"'// BEGIN SOLUTION {ex_id}' has no END SOLUTION")
        stub = re.compile(r"^[ \t]*// BEGIN STUB[ \t]*$", re.M).search(text, begin.end(), end.start())
        blocks.append((begin.end(), stub.start() if stub else end.start(), end.start()))
    if not blocks:
        raise ValueError(f"no '// BEGIN SOLUTION {ex_id}'")
    return blocks


def golden_literal(file: str, name: str) -> str:
    doc = json.loads((ROOT / "tests" / "golden" / f"{file}.json").read_text(encoding="utf-8"))
    if name not in doc:
        raise ValueError(f"no golden value '{name}' in tests/golden/{file}.json")
    data = ", ".join(repr(float(x)) for x in doc[name]["data"])
    shape = ", ".join(str(int(s)) for s in doc[name]["shape"])
    return f"torch::tensor(std::vector<double>{{{data}}}, torch::kFloat64).reshape({{{shape}}})"


def flip(block: str, ex_id: str) -> str:
    """The block with its last `return X;` made `return -(X);`."""
    r = list(re.finditer(r"\breturn\b", block))
    semi = block.rfind(";")
    if not r or semi < r[-1].end():
        raise ValueError(f"a solution block of {ex_id} has no return to flip; give a body")
    expr = block[r[-1].end():semi].strip()
    return block[: r[-1].start()] + f"return -({expr})" + block[semi:]


def mutate(text: str, mk: Mistake) -> str:
    """The solution file with the mistake applied; ValueError when it no longer applies.
    find/replace: `find` must occur once in all the exercise's blocks together. body: replaces every
    block of the exercise (its STUB section too); bodies of several blocks are separated by a line
    `// ---- next block ----`. flipped without a body: every block's last return is negated."""
    blocks = solution_blocks(text, mk.exercise)
    if mk.find:
        n = sum(text[a:b].count(mk.find) for a, b, _ in blocks)
        if n != 1:
            raise ValueError(f"'{mk.find}' occurs {n} times in the solution blocks of {mk.exercise} (needs once)")
    bodies: list[str] = []
    if mk.body:
        bodies = [GOLDEN_CALL.sub(lambda g: golden_literal(g[1], g[2]), b)
                  for b in re.split(r"^[ \t]*// ---- next block ----[ \t]*$", mk.body, flags=re.M)]
        if len(bodies) not in (1, len(blocks)):
            raise ValueError(f"{mk.exercise} has {len(blocks)} solution blocks; the body gives {len(bodies)}")
    out, pos = [], 0
    for i, (a, b, end) in enumerate(blocks):
        block = text[a:b]
        out.append(text[pos:a])
        if mk.find:
            out.append(block.replace(mk.find, mk.replace))
            pos = b
        elif bodies:
            body = bodies[i] if len(bodies) > 1 else bodies[0]
            indent = re.match(r"[ \t]*", block).group(0)
            out.append("".join(f"{indent}{line}\n" for line in body.strip("\n").splitlines()))
            pos = end  # the whole block, stub section included, makes way for the body
        else:
            out.append(flip(block, mk.exercise))
            pos = b
    out.append(text[pos:])
    return "".join(out)


def hold_build_dir(bdir: Path):
    """An exclusive lock on build/mutants for the whole run (mutants and drives share it): a second run
    at the same time would overwrite the first one's mutated files and grade them. Returns the open
    lock file (keep it), or None when another run holds it."""
    import fcntl
    bdir.mkdir(parents=True, exist_ok=True)
    f = open(bdir / ".lock", "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


def prepare_build_dir(tool: str):
    """build/mutants, locked, with a fresh copy of every solution file in sources/ and configured as the
    exercises track that takes every exercise file from there (DM_STUB_FILES), so the student's
    build/<preset> is never reconfigured. Returns (lock, build dir, sources dir, files), or None (said
    why) when another run holds the lock."""
    bdir = ROOT / "build" / "mutants"
    mdir = bdir / "sources"
    lock = hold_build_dir(bdir)
    if lock is None:
        print(f"{tool}: another ./course mutants or drives is using {bdir.relative_to(ROOT)}; wait for it",
              file=sys.stderr)
        return None
    shutil.rmtree(mdir, ignore_errors=True)
    rels = sorted(str(p.relative_to(ROOT / "solutions")) for p in (ROOT / "solutions").rglob("*.cpp"))
    for rel in rels:  # fresh times: ninja rebuilds what an earlier run may have left mutated
        (mdir / rel).parent.mkdir(parents=True, exist_ok=True)
        restore(rel, mdir)
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(bdir), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                    "-DDM_TRACKS=exercises", f"-DDM_STUB_FILES={';'.join(rels)}", f"-DDM_STUB_DIR={mdir}"],
                   check=True, stdout=subprocess.DEVNULL)
    return lock, bdir, mdir, rels


def restore(rel: str, mdir: Path) -> None:
    """Put the solution back, with a fresh modification time: a copy with the solution's old time
    would be older than the mutant's object file, and ninja would keep linking the mutant."""
    (mdir / rel).write_text((ROOT / "solutions" / rel).read_text(encoding="utf-8"), encoding="utf-8")


def stub_only(text: str, ex_id: str) -> str:
    """The solution file with one exercise's blocks made its stub, as gen makes them (its BEGIN STUB
    lines uncommented, else DM_TODO), the other exercises' solutions left in place."""
    blocks = solution_blocks(text, ex_id)
    out, pos = [], 0
    for a, b, end in blocks:
        out.append(text[pos:a])
        indent = re.match(r"[ \t]*", text[a:end]).group(0)
        if b < end:  # a stub section: its comment lines, uncommented
            lines = text[b:end].splitlines()[1:]
            lines = [l for l in lines if not re.match(r"^[ \t]*// END STUB[ \t]*$", l)]
            out.append("".join(re.sub(r"^([ \t]*)// ?", r"\1", l) + "\n" for l in lines))
        else:
            out.append(f'{indent}DM_TODO("{ex_id}");\n')
        pos = end
    out.append(text[pos:])
    return "".join(out)


def dependencies(m: Manifest, chosen: list[Exercise], mdir: Path, build, bin_dir: Path, timeout: float,
                 seed: int) -> dict[str, set[str]]:
    """{exercise: the chosen exercises whose stub costs its tests points}, in rounds that stub the k-th
    chosen exercise of every chapter at once (the chapters' test programs share no exercise code)."""
    # Kept in build/mutants/deps.json per chapter, keyed by a hash of the chapter's solutions and tests:
    # while neither changes, the stubbed rounds would measure the same.
    cache_file = mdir.parent / "deps.json"
    cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    deps: dict[str, set[str]] = {e.id: set() for e in chosen}
    by_ch: dict[str, list[Exercise]] = {}
    keys: dict[str, str] = {}
    for e in chosen:
        keys.setdefault(e.chapter, chapter_key(m, e.chapter))
        got = cache.get(e.chapter, {})
        if got.get("key") == keys[e.chapter] and e.id in got.get("deps", {}):
            deps[e.id] = {a for a in got["deps"][e.id] if a in {x.id for x in chosen}}
        else:
            by_ch.setdefault(e.chapter, []).append(e)
    if not by_ch:
        return deps
    for c, v in list(by_ch.items()):  # a chapter measured at all is measured for all its chosen exercises
        by_ch[c] = [e for e in chosen if e.chapter == c]
    for k in range(max(len(v) for v in by_ch.values())):
        stubbed = [v[k] for v in by_ch.values() if len(v) > k and len(v) > 1]
        if not stubbed:
            continue
        for a in stubbed:
            (mdir / a.file).write_text(stub_only((ROOT / "solutions" / a.file).read_text(encoding="utf-8"), a.id),
                                       encoding="utf-8")
        r = build(sorted({f"test_{a.chapter}_exercises" for a in stubbed}), keep_going=True)
        if r.returncode != 0:
            raise RuntimeError(f"the exercises track with {', '.join(a.id for a in stubbed)} stubbed does not "
                               f"build:\n{r.stdout[-2000:]}")
        others = [(a, x) for a in stubbed for x in by_ch[a.chapter] if x.id != a.id]
        with ThreadPoolExecutor(max_workers=2) as pool:
            outs = list(pool.map(lambda ax: grade_one(ax[1], bin_dir / f"test_{ax[1].chapter}_exercises", {},
                                                      timeout, seed), others))
        for (a, x), o in zip(others, outs):
            if o.score < x.points:
                deps[x.id].add(a.id)
        for a in stubbed:
            restore(a.file, mdir)
        print(f"  dependencies: round {k + 1} stubbed {', '.join(a.id for a in stubbed)}", flush=True)
    for c, v in by_ch.items():
        full = {x.id for x in m.exercises if x.chapter == c}
        if {x.id for x in v} == full:  # only a whole chapter's measurement is kept
            cache[c] = {"key": keys[c], "deps": {x.id: sorted(deps[x.id]) for x in v}}
    cache_file.write_text(json.dumps(cache, indent=1))
    return deps


def chapter_key(m: Manifest, chapter: str) -> str:
    import hashlib
    ch = m.chapter(chapter)
    h = hashlib.sha256()
    for root in (ROOT / "solutions" / ch.dir, ROOT / "tests" / ch.dir):
        for f in sorted(root.rglob("*")):
            if f.is_file() and f.suffix in (".cpp", ".hpp", ".h"):
                h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def check(m: Manifest) -> tuple[list[str], str]:
    """The `./course test` gate: every recorded mistake still applies to its solution file, and every
    exercise has at least three mistakes and the trivial answers. (How many the MISTAKES.md records
    cover is reported, not required: they come from an on-demand run.)"""
    mistakes, problems = load(m)
    by_ex: dict[str, list[Mistake]] = {}
    for mk in mistakes:
        by_ex.setdefault(mk.exercise, []).append(mk)
        try:
            e = m.exercise(mk.exercise)
        except KeyError:
            problems.append(f"tests/{mk.chapter_dir}/mistakes.toml: unknown exercise {mk.exercise}")
            continue
        try:
            mutate((ROOT / "solutions" / e.file).read_text(encoding="utf-8"), mk)
        except ValueError as err:
            problems.append(f"{mk.exercise} '{mk.label}': no longer applies to solutions/{e.file}: {err}")
    for e in m.exercises:
        got = by_ex.get(e.id, [])
        real = [x for x in got if not x.trivial]
        if len(real) < 3:
            problems.append(f"{e.id}: {len(real)} recorded mistakes (at least 3)")
        kinds = {x.trivial for x in got}
        for k in REQUIRED_TRIVIAL:
            if k not in kinds:
                problems.append(f"{e.id}: no '{k}' trivial answer recorded")
    # MISTAKES.md is the record of the last (on-demand, rebuild-per-mistake) run: say what it does not
    # cover yet, without failing the gate on it.
    unrecorded = 0
    for ch in m.chapters:
        record = ROOT / "tests" / ch.dir / "MISTAKES.md"
        listed = record.read_text(encoding="utf-8") if record.is_file() else ""
        unrecorded += sum(f"| {mk.exercise} | {cell(mk.label)} |" not in listed
                          for mk in mistakes if mk.chapter_dir == ch.dir)
    note = f"; {unrecorded} not in a MISTAKES.md yet (./course mutants)" if unrecorded else ""
    return problems, f"{len(mistakes)} recorded mistakes of {len(by_ex)} exercises apply{note}"


def cell(s: str) -> str:
    return " ".join(s.replace("|", "\\|").split())


@dataclass
class Result:
    mistake: Mistake
    score: float
    points: int
    status: str
    detail: str
    passed: list[str] = field(default_factory=list)   # the tests it still passes (partial credit)

    @property
    def lost(self) -> bool:
        return self.score == 0 if self.mistake.trivial else self.score < self.points

    @property
    def named(self) -> bool:
        return bool(self.mistake.names) and self.mistake.names.lower() in self.detail.lower()


def recorded_verdicts(m: Manifest) -> dict[tuple[str, str], str]:
    """(exercise, the mistake's table cell) -> the verdict MISTAKES.md records for it."""
    out = {}
    for ch in m.chapters:
        path = ROOT / "tests" / ch.dir / "MISTAKES.md"
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith(f"| {ch.id}."):
                    parts = line.split(" | ")
                    if len(parts) >= 4:
                        out[(parts[0][2:].strip(), parts[1])] = parts[3]
    return out


def run(m: Manifest, keys: list[str], preset: str, timeout: float, seed: int | None,
        trivial_only: bool = False, not_named_only: bool = False) -> int:
    seed = draw_seed() if seed is None else seed
    chosen = m.select(keys)
    mistakes, problems = load(m)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    ids = {e.id for e in chosen}
    mistakes = [mk for mk in mistakes if mk.exercise in ids and (mk.trivial or not trivial_only)]
    if not_named_only:  # re-measure only the real mistakes MISTAKES.md does not record as named
        verdicts = recorded_verdicts(m)
        mistakes = [mk for mk in mistakes
                    if not mk.trivial and verdicts.get((mk.exercise, cell(mk.label))) != "named"]
    if not mistakes:
        print("mutants: no recorded mistakes for that choice", file=sys.stderr)
        return 2
    # Its own build folder with the exercises track only, every exercise file taken from a copy of
    # solutions/ (DM_STUB_FILES): the student's build/<preset> is never reconfigured.
    prepared = prepare_build_dir("mutants")
    if prepared is None:
        return 2
    lock, bdir, mdir, rels = prepared
    chapters = sorted({m.exercise(mk.exercise).chapter for mk in mistakes})
    targets = [f"test_{c}_exercises" for c in chapters]
    print(f"mutants: {len(mistakes)} mistakes; the exercises track built from solutions/ with one mistake at a "
          f"time, in {bdir.relative_to(ROOT)} (seed {seed})", flush=True)

    def build(targets: list[str], keep_going: bool = False) -> subprocess.CompletedProcess:
        cmd = ["cmake", "--build", str(bdir), "--target", *targets] + (["--", "-k", "0"] if keep_going else [])
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")

    bin_dir = bdir / "bin"
    results: list[Result] = []

    def record(res: Result) -> None:
        results.append(res)
        mk, e = res.mistake, m.exercise(res.mistake.exercise)
        mark = ("ok " if res.lost and (res.named or mk.trivial) else "LOW" if res.lost else "MISS")
        print(f"  {mark:4} {mk.exercise:6} {res.score:g}/{e.points}  {mk.label[:60]:60}  {res.detail[:90]}",
              flush=True)
    try:
        r0 = build(targets)
        if r0.returncode != 0:
            print(r0.stdout[-3000:])
            print("mutants: the solutions do not build as the exercises track", file=sys.stderr)
            return 1
        for ex_id in sorted({mk.exercise for mk in mistakes}):  # the unmutated solution must score full
            e = m.exercise(ex_id)
            o = grade_one(e, bin_dir / f"test_{e.chapter}_exercises", {}, timeout, seed)
            if o.score != e.points:
                print(f"mutants: {ex_id}'s own solution scores {o.score:g}/{e.points}: {o.detail}", file=sys.stderr)
                return 1
        # Which exercises' tests call which other exercises' code: stub one exercise of every chapter at a
        # time (its stub throws "not implemented") and see whose tests lose points. Mistakes of exercises
        # that do not depend on each other are then applied together, one per exercise and chapter test
        # program, so a round compiles many mutants at once.
        deps = dependencies(m, chosen, mdir, build, bin_dir, timeout, seed)
        for x in sorted(deps):
            if deps[x]:
                print(f"  {x}'s tests call {', '.join(sorted(deps[x]))}", flush=True)
        queues: dict[str, list[Mistake]] = {}
        for mk in sorted(mistakes, key=lambda mk: mk.exercise):
            queues.setdefault(mk.exercise, []).append(mk)
        rounds, dirty = 0, set()
        while any(queues.values()):
            rounds += 1
            batch: list[Mistake] = []
            for ex_id in sorted(queues, key=lambda x: -len(queues[x])):  # the longest queues first
                if queues[ex_id] and all(ex_id not in deps.get(b.exercise, set()) and
                                         b.exercise not in deps.get(ex_id, set()) for b in batch):
                    batch.append(queues[ex_id].pop(0))
            for f in dirty - {m.exercise(mk.exercise).file for mk in batch}:
                restore(f, mdir)  # a file no mutant of this round writes: back to the solution (and rebuilt)
            dirty = {m.exercise(mk.exercise).file for mk in batch}
            for mk in batch:
                e = m.exercise(mk.exercise)
                original = (ROOT / "solutions" / e.file).read_text(encoding="utf-8")
                (mdir / e.file).write_text(mutate(original, mk), encoding="utf-8")
            r = build(sorted({f"test_{m.exercise(mk.exercise).chapter}_exercises" for mk in batch}), keep_going=True)
            broken = [l for l in r.stdout.splitlines() if l.startswith("FAILED:")]
            graded: list[Mistake] = []
            for mk in batch:
                e = m.exercise(mk.exercise)
                if any(e.file in l for l in broken):
                    errs = [l for l in r.stdout.splitlines() if e.file in l and "error:" in l][:1]
                    record(Result(mk, 0, e.points, "does not compile", errs[0] if errs else "does not compile"))
                elif any(f"test_{e.chapter}_exercises" in l or f"/{m.chapter(e.chapter).dir}/" in l for l in broken):
                    # another mutant of its chapter did not compile, so its test program was not relinked:
                    # grading it now would grade the previous round's program. Again, next round.
                    queues[mk.exercise].insert(0, mk)
                else:
                    graded.append(mk)
            with ThreadPoolExecutor(max_workers=2) as pool:
                outs = list(pool.map(lambda mk: grade_one(m.exercise(mk.exercise),
                                                          bin_dir / f"test_{m.exercise(mk.exercise).chapter}_exercises",
                                                          {}, timeout, seed), graded))
            for mk, o in zip(graded, outs):
                passed = [t for t in o.tests if t not in o.failed_tests] if o.status in ("partial", "failed") else []
                record(Result(mk, o.score, m.exercise(mk.exercise).points, o.status, o.detail, passed))
        print(f"mutants: {len(results)} mistakes in {rounds} rounds", flush=True)
    finally:
        for rel in rels:  # leave the copies as the solutions are, newer than any mutant's object
            restore(rel, mdir)
    write_records(m, results, seed)
    return summarise(results)


def summarise(results: list[Result]) -> int:
    real = [r for r in results if not r.mistake.trivial]
    trivial = [r for r in results if r.mistake.trivial]
    broken = [r for r in results if r.status == "does not compile"]
    built = [r for r in results if r.status != "does not compile"]  # a mutant that never ran measures nothing
    real = [r for r in real if r in built]
    trivial = [r for r in trivial if r in built]
    lost = sum(r.lost for r in real)
    named = sum(r.lost and r.named for r in real)
    zero = sum(r.lost for r in trivial)
    print(f"\nmutants: {lost} of {len(real)} mistakes lose points; the grade table's line names {named} of them; "
          f"{zero} of {len(trivial)} trivial answers score 0")
    for r in broken:
        print(f"mutants: {r.mistake.exercise} '{r.mistake.label}' does not compile: {r.detail}", file=sys.stderr)
    return 0 if lost == len(real) and zero == len(trivial) and not broken else 1


def write_records(m: Manifest, results: list[Result], seed: int) -> None:
    for ch in m.chapters:
        mine = [r for r in results if r.mistake.chapter_dir == ch.dir]
        if not mine:
            continue
        path = ROOT / "tests" / ch.dir / "MISTAKES.md"
        old = {}
        if path.is_file():  # keep the rows of exercises this run did not grade
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith(f"| {ch.id}."):
                    old[line.split(" | ")[0] + " | " + line.split(" | ")[1]] = line
        rows = dict(old)
        for r in mine:
            key = f"| {r.mistake.exercise} | {cell(r.mistake.label)}"
            verdict = ("DOES NOT COMPILE" if r.status == "does not compile" else
                       ("scores 0" if r.lost else "SCORES") if r.mistake.trivial else
                       ("named" if r.named else "not named") if r.lost else "KEEPS FULL POINTS")
            shown = r.detail if not (r.mistake.trivial and r.score > 0) else (
                f"{r.detail} (still passes: {', '.join(r.passed)})")
            rows[key] = (f"{key} | {r.score:g}/{r.points} | {verdict} | {cell(shown)} |")
        order = {e.id: i for i, e in enumerate(m.exercises)}
        body = sorted(rows.values(), key=lambda l: (order.get(l.split(" | ")[0][2:], 99)))
        real = [l for l in body if " | named |" in l or " | not named |" in l or "KEEPS FULL" in l]
        head = (f"# Chapter {ch.id}: mistakes and what the grader says\n\n"
                f"Written by `./course mutants {ch.id}` (last run at seed {seed}) from "
                f"[mistakes.toml](mistakes.toml): each mistake applied to a copy of the reference solution, "
                "graded alone. *Named* means the line the grade table shows for the exercise contains the "
                "mistake's own words; a trivial answer must score 0.\n\n"
                f"{sum(' | named |' in l for l in real)} of {len(real)} mistakes named, "
                f"{sum(' | named |' in l or ' | not named |' in l for l in real)} of {len(real)} lose points, "
                f"{sum(' | scores 0 |' in l for l in body)} of {sum(' | scores 0 |' in l or ' | SCORES |' in l for l in body)} "
                "trivial answers score 0"
                f"{''.join(f'; {n} mutant(s) did not compile (not counted)' for n in [sum(' | DOES NOT COMPILE |' in l for l in body)] if n)}.\n\n"
                "| exercise | mistake | score | verdict | the grade table's line |\n|---|---|---|---|---|\n")
        path.write_text(head + "\n".join(body) + "\n", encoding="utf-8")
        print(f"mutants: wrote {path.relative_to(ROOT)}")
