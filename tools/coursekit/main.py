"""./course — the one command a student, an instructor and CI use."""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import build as B
from . import gallery, lessons, setup
from .grade import grade
from .gtest import first_line, run_tests
from .manifest import ROOT, Manifest, load

CPP_DIRS = ["common", "solutions", "exercises", "tests", "chapters", "bench"]
CPP_SUFFIXES = {".cpp", ".hpp", ".cu", ".cuh", ".h"}


def say(msg: str) -> None:
    print(f"\n== {msg}", flush=True)


def default_track() -> str:
    return "solutions" if (ROOT / "solutions").is_dir() else "exercises"


def chapter_binary(preset: str, track: str, chapter_dir: str) -> Path:
    return B.bin_dir(preset) / track / chapter_dir


# ---------------------------------------------------------------- commands

def cmd_setup(m: Manifest, a) -> int:
    setup.ensure(slides=True)
    return 0


def cmd_build(m: Manifest, a) -> int:
    if not a.no_setup:
        setup.ensure(quiet=True)
    B.configure(a.preset, force=a.reconfigure)
    return B.build(a.preset).returncode


def cmd_list(m: Manifest, a) -> int:
    for ch in m.chapters:
        print(f"{ch.id}  {ch.title}")
        for e in ch.exercises:
            print(f"   {e.id:6} {e.points:>2} pt  {e.title}   (exercises/{e.file})")
    total = sum(e.points for e in m.exercises)
    print(f"\n{len(m.exercises)} exercises, {total} points. `./course hint <id>`, `./course grade`.")
    return 0


def cmd_hint(m: Manifest, a) -> int:
    try:
        e = m.exercise(a.id)
    except KeyError as err:
        print(err.args[0], file=sys.stderr)
        return 2
    print(f"{e.id} — {e.title}\nfile:  exercises/{e.file}\ntests: {e.tests}   ({e.points} points)\n")
    print(e.hint or "(no hint for this one)")
    return 0


def cmd_run(m: Manifest, a) -> int:
    try:
        ch = m.chapter(a.chapter)
    except KeyError as err:
        print(err.args[0], file=sys.stderr)
        return 2
    track = a.track or default_track()
    r = B.build(a.preset, [f"ch{ch.id}_{track}"])
    if r.returncode != 0:
        return r.returncode
    args = [x for x in a.args if x != "--"]
    binary = chapter_binary(a.preset, track, ch.dir)
    print(f"+ {binary.relative_to(ROOT)} {' '.join(args)}", flush=True)
    return subprocess.run([str(binary), *args], cwd=ROOT).returncode


def cmd_tour(m: Manifest, a) -> int:
    start = time.monotonic()
    if not a.no_setup:
        setup.ensure(quiet=True)
    track = a.track or default_track()
    targets = [f"ch{c.id}_{track}" for c in m.chapters]
    if B.build(a.preset, targets).returncode != 0:
        return 1
    built = time.monotonic()
    runs = ROOT / "runs"
    timings, failed = {}, []
    for ch in m.chapters:
        binary = chapter_binary(a.preset, track, ch.dir)
        say(f"chapter {ch.id}: {ch.title}")
        t0 = time.monotonic()
        rc = subprocess.run([str(binary), *ch.quick, "--out", str(runs)], cwd=ROOT).returncode
        timings[ch.id] = time.monotonic() - t0
        if rc != 0:
            failed.append(ch.id)
    page = gallery.write(m, runs, timings)
    end = time.monotonic()
    say("tour done")
    for ch in m.chapters:
        print(f"  {ch.id} {ch.dir:24} {timings[ch.id]:6.1f} s{'  FAILED' if ch.id in failed else ''}")
    print(f"  setup + build {built - start:.1f} s, chapters {end - built:.1f} s")
    print(f"gallery: {page}  (open it in a browser: xdg-open {page.relative_to(ROOT)})")
    return 1 if failed else 0


def cmd_grade(m: Manifest, a) -> int:
    if not a.no_setup:
        setup.ensure(quiet=True)
    chosen = m.select(a.keys, a.assignment)
    if not chosen:
        print("grade: nothing to grade", file=sys.stderr)
        return 2
    out = Path(a.out) if a.out else ROOT / "runs" / "grade"
    grade(m, chosen, a.preset, a.track, a.timeout, out, seed=a.seed)
    return 0


def cmd_mutants(m: Manifest, a) -> int:
    from . import mutants
    if not a.no_setup:
        setup.ensure(quiet=True)
    return mutants.run(m, a.keys, a.preset, a.timeout, a.seed, trivial_only=a.trivial, not_named_only=a.not_named)


def cmd_drives(m: Manifest, a) -> int:
    from . import drives
    if not a.no_setup:
        setup.ensure(quiet=True)
    return drives.run(m, a.keys)


def cmd_gen(m: Manifest, a) -> int:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "gen_exercises.py"),
                           *(["--check"] if a.check else [])]).returncode


def cmd_golden(m: Manifest, a) -> int:
    """Re-records tests/golden/*.json from the solutions track."""
    targets = [f"test_{c.id}_solutions" for c in m.chapters]
    if B.build(a.preset, targets).returncode != 0:
        return 1
    rc = 0
    for ch in m.chapters:
        binary = B.bin_dir(a.preset) / f"test_{ch.id}_solutions"
        run = run_tests(binary, env={"DM_RECORD_GOLDEN": "1"})
        ok = run.status == "ok" and all(r.passed for r in run.results)
        print(f"golden: {ch.dir}: {'recorded' if ok else 'FAILED: ' + run.status}")
        rc |= 0 if ok else 1
    return rc


def lesson_binary(preset: str):
    def run(chapter: str, args: list[str]) -> str:
        return lessons.capture(chapter_binary(preset, "solutions", chapter), args)
    return run


def cmd_lessons(m: Manifest, a) -> int:
    only = set(a.chapters) if a.chapters else None
    if only and not only <= {c.id for c in m.chapters}:
        print(f"lessons: no chapter {', '.join(sorted(only - {c.id for c in m.chapters}))} (have: "
              f"{', '.join(c.id for c in m.chapters)})")
        return 2
    if a.outputs:
        if B.build(a.preset, [f"ch{c.id}_solutions" for c in m.chapters if not only or c.id in only]).returncode != 0:
            return 1
    problems = lessons.sync(m, check=a.check, outputs=a.outputs, figures=a.figures,
                            binary_for=lesson_binary(a.preset), only=only)
    for p in problems:
        print(p)
    if a.check:
        print(f"lessons: {len(problems)} problem(s)" if problems else "lessons: every include is current")
    return 1 if problems else 0


def cmd_numbers(m: Manifest, a) -> int:
    from . import numbers
    problems, note = numbers.check(m)
    for p in problems:
        print(p)
    print(f"numbers: {len(problems)} measured-looking number(s) without a source ({note})" if problems
          else f"numbers: every measured-looking number has a source ({note})")
    return 1 if problems else 0


def cmd_slides(m: Manifest, a) -> int:
    if not a.no_setup:
        setup.ensure(slides=True, quiet=True)
    slides = ROOT / "slides"
    marp = slides / "node_modules" / ".bin" / "marp"
    if not marp.exists():
        print("+ npm ci (slides/, pinned by package-lock.json)", flush=True)
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=slides)
        if r.returncode != 0:
            return r.returncode
    out = ROOT / "runs" / "slides"
    out.mkdir(parents=True, exist_ok=True)
    staged = ROOT / "build" / "slides-src"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    decks = sorted(slides.glob("[0-9][0-9]_*.md"))
    for deck in decks:  # media are ../chapters/NN/figures/x from slides/; ../../chapters/... from runs/slides/
        text = deck.read_text(encoding="utf-8")
        (staged / deck.name).write_text(text.replace("](../chapters/", "](../../chapters/")
                                        .replace('src="../chapters/', 'src="../../chapters/'), encoding="utf-8")
    r = subprocess.run([str(marp), "--html", "--no-stdin", "--input-dir", str(staged), "--output", str(out)],
                       cwd=slides, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        print(r.stdout)
        return r.returncode
    for deck in decks:
        print(f"slides: {out / deck.with_suffix('.html').name}")
    return 0


def format_files() -> list[Path]:
    files = []
    for d in CPP_DIRS:
        base = ROOT / d
        if base.is_dir():
            files += [p for p in sorted(base.rglob("*")) if p.suffix in CPP_SUFFIXES and p.is_file()]
    return files


def cmd_format(m: Manifest, a) -> int:
    files = format_files()
    subprocess.run(["clang-format", "-i", *map(str, files)], check=True)
    print(f"format: {len(files)} files formatted")
    return cmd_gen(m, argparse.Namespace(check=False))


def cmd_watch(m: Manifest, a) -> int:
    """Re-runs one exercise's tests whenever its file changes."""
    e = m.exercise(a.id)
    path = ROOT / "exercises" / e.file
    ch = m.chapter(e.chapter)
    binary = B.bin_dir(a.preset) / f"test_{ch.id}_exercises"
    print(f"watching exercises/{e.file} for {e.id} (Ctrl-C to stop)")
    last = None
    try:
        while True:
            stamp = path.stat().st_mtime
            if stamp != last:
                last = stamp
                r = B.build(a.preset, [f"test_{ch.id}_exercises"], capture=True)
                if r.returncode != 0:
                    errs = [l for l in r.stdout.splitlines() if "error:" in l]
                    print("\n".join(errs[:10]) or r.stdout[-2000:])
                else:
                    run = run_tests(binary, e.tests, timeout=a.timeout)
                    bad = [x for x in run.results if not x.passed]
                    if run.status != "ok":
                        print(f"{e.id}: {run.status}")
                    elif bad:
                        print(f"{e.id}: {len(bad)} of {len(run.results)} tests fail; first: "
                              f"{bad[0].name}: {first_line(bad[0].message)}")
                    else:
                        print(f"{e.id}: all {len(run.results)} tests pass ✓")
            time.sleep(1.0)
    except KeyboardInterrupt:
        return 0


def cmd_bench(m: Manifest, a) -> int:
    from . import bench
    return bench.run(a.preset, a.threads or len(os.sched_getaffinity(0)), a.batch, a.repeats, a.pairs, a.profile)


def cmd_train_classifier(m: Manifest, a) -> int:
    """Trains the evaluation classifier into reference/fmnist_classifier.dmt and records its provenance."""
    from . import provenance
    if not a.no_setup:
        setup.ensure(quiet=True)
    if B.build(a.preset, targets=["train_classifier"]).returncode != 0:
        print("train-classifier: the build failed")
        return 1
    out = provenance.REFERENCE / "fmnist_classifier.dmt"
    out.parent.mkdir(exist_ok=True)
    tmp = out.with_name("fmnist_classifier.new.dmt")  # the committed file stays until the new one is done
    cmd = [str(B.bin_dir(a.preset) / "train_classifier"), "--output", str(tmp), "--threads", str(a.threads),
           "--seed", "0"]
    print("+ " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode != 0:
        tmp.unlink(missing_ok=True)
        return r.returncode
    wall = time.monotonic() - t0
    tmp.replace(out)
    shown = ["bin/train_classifier", "--output", "reference/fmnist_classifier.dmt", "--threads", str(a.threads),
             "--seed", "0"]
    rec = provenance.write(out, ["./course", "train-classifier", "--threads", str(a.threads)], wall,
                           {"program": shown, "accuracy": provenance.tensor_file_meta(out)["accuracy"]})
    print(f"train-classifier: {out.relative_to(ROOT)} ({rec['bytes']} bytes, sha256 {rec['sha256']}), "
          f"test accuracy {100 * rec['accuracy']:.2f} %, {wall:.0f} s; provenance in "
          f"{out.with_suffix('.json').relative_to(ROOT)}. Every FID changes with it: re-capture the lessons "
          "(./course lessons --outputs)")
    return 0


def cmd_train_reference(m: Manifest, a) -> int:
    from . import reference
    ch = next((c for c in m.chapters if c.id == a.chapter), None)
    if ch is None:
        print(f"train-reference: no chapter {a.chapter}")
        return 2
    if not a.no_setup:
        setup.ensure(quiet=True)
    if a.classifier:
        return reference.classifier(ch.id, ch.dir, a.preset, a.threads)
    if a.inpaint:
        return reference.inpaint(ch.id, ch.dir, a.preset, a.threads)
    if a.text:
        return reference.text(ch.id, ch.dir, a.preset, a.threads)
    return reference.run(ch.id, ch.dir, a.preset, a.threads, a.minutes, a.export_only)


# ---------------------------------------------------------------- test: every gate

def cmd_test(m: Manifest, a) -> int:
    from . import gates, timing
    start = time.monotonic()
    if not a.no_setup:
        say("setup")
        t0 = time.monotonic()
        setup.ensure(slides=True)
        timing.CLOCK.add("setup", time.monotonic() - t0)
    say("build (both tracks)")
    t0 = time.monotonic()
    if B.build(a.preset).returncode != 0:
        print("test: the build failed")
        print("0 passed, 1 failed")
        return 1
    timing.CLOCK.add("build (both tracks)", time.monotonic() - t0)
    print(f"build: {time.monotonic() - t0:.1f} s")
    report = gates.run_all(m, a.preset, skip_slides=a.no_slides)
    print(timing.summary(B.build_dir(a.preset)))
    print(f"\ntest: {time.monotonic() - start:.0f} s in all")
    return report


# ---------------------------------------------------------------- argument parsing

def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="course", description="Diffusion in C++: the course driver.",
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Quick start: ./course tour    then    ./course test")
    ap.add_argument("--preset", default=os.environ.get("COURSE_PRESET", "default"),
                    help="CMake preset (default, debug, gpu)")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def add(name, fn, help_):
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(fn=fn)
        return p

    add("setup", cmd_setup, "install the Debian packages the course needs (sudo when not root)")
    p = add("build", cmd_build, "configure and build both tracks")
    p.add_argument("--reconfigure", action="store_true")
    p.add_argument("--no-setup", action="store_true")
    p = add("tour", cmd_tour, "setup, build, run every chapter's quick mode, write runs/index.html")
    p.add_argument("--track", choices=["solutions", "exercises"])
    p.add_argument("--no-setup", action="store_true")
    p = add("train-classifier", cmd_train_classifier,
            "train the evaluation classifier once into reference/fmnist_classifier.dmt, with its provenance")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: deterministic, beside a build)")
    p.add_argument("--no-setup", action="store_true")
    p = add("train-reference", cmd_train_reference,
            "train a chapter's reference model (resumable), export it to reference/NN_name/ with its provenance")
    p.add_argument("chapter", metavar="NN", help="the chapter (03: train; 05: its table on the reference model)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1, so it can run beside a build)")
    p.add_argument("--minutes", type=float, help="stop training after this long (a checkpoint is kept; run again "
                                                 "to continue)")
    p.add_argument("--export-only", action="store_true",
                   help="train nothing: export and evaluate the checkpoint there is")
    p.add_argument("--inpaint", action="store_true",
                   help="chapter 06: the inpainting sweep (replacement and RePaint) of chapter 03's reference model "
                        "(reference/06_guidance/inpaint_eval.txt, inpaint.json)")
    p.add_argument("--text", action="store_true",
                   help="chapter 06: the text-conditioned U-Net (text encoder, cross-attention) trained from chapter "
                        "03's reference model, and its evaluation (reference/06_guidance/text_model.dmt, text_eval.txt)")
    p.add_argument("--classifier", action="store_true",
                   help="chapter 06: the noise-aware classifier of classifier guidance and its sweep of chapter 03's "
                        "reference model (reference/06_guidance/classifier.dmt, cg_eval.txt)")
    p.add_argument("--no-setup", action="store_true")
    p = add("test", cmd_test, "setup, build, run every test and gate (what CI runs)")
    p.add_argument("--no-setup", action="store_true")
    p.add_argument("--no-slides", action="store_true", help="skip building the slide decks")
    p = add("grade", cmd_grade, "grade the exercises: table, results.json (Gradescope), junit.xml")
    p.add_argument("keys", nargs="*", metavar="ID", help="exercise ids (03.2) or chapters (03); default: all")
    p.add_argument("--assignment", metavar="NAME", help="an assignment of course.toml (a list of exercises)")
    p.add_argument("--seed", type=int, help="the seed of the run-time inputs (default: drawn; printed)")
    p.add_argument("--track", default="exercises", choices=["solutions", "exercises"])
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per exercise")
    p.add_argument("--out", help="folder for results.json and junit.xml (default runs/grade)")
    p.add_argument("--no-setup", action="store_true")
    p = add("mutants", cmd_mutants, "apply each recorded mistake (tests/NN/mistakes.toml) to a copy of its solution, "
                                    "grade it, write tests/NN/MISTAKES.md")
    p.add_argument("keys", nargs="*", metavar="ID", help="exercise ids (03.2) or chapters (03); default: all")
    p.add_argument("--seed", type=int, help="the seed of the run-time inputs (default: drawn)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per exercise")
    p.add_argument("--trivial", action="store_true", help="only the trivial answers (zeros, constant, flipped, ...)")
    p.add_argument("--not-named", action="store_true",
                   help="only the mistakes that MISTAKES.md does not record as named (after adding a diagnosis)")
    p.add_argument("--no-setup", action="store_true")
    p = add("drives", cmd_drives, "stub each exercise alone and check that its chapter program stops at it "
                                  "(the program runs the student's code); writes tests/DRIVES.md")
    p.add_argument("keys", nargs="*", metavar="ID", help="exercise ids (03.2) or chapters (03); default: all")
    p.add_argument("--no-setup", action="store_true")
    add("list", cmd_list, "list chapters and exercises")
    p = add("hint", cmd_hint, "show an exercise's hint")
    p.add_argument("id")
    p = add("run", cmd_run, "build and run a chapter program: ./course run 02 [--track exercises] -- --quick")
    p.add_argument("chapter")
    p.add_argument("--track", choices=["solutions", "exercises"])
    p.add_argument("args", nargs=argparse.REMAINDER)
    p = add("watch", cmd_watch, "re-run one exercise's tests on every save")
    p.add_argument("id")
    p.add_argument("--timeout", type=float, default=120.0)
    p = add("gen", cmd_gen, "regenerate exercises/ from solutions/")
    p.add_argument("--check", action="store_true")
    add("golden", cmd_golden, "re-record tests/golden/*.json from the solutions track")
    p = add("lessons", cmd_lessons, "fill the code includes of lessons and slides")
    p.add_argument("--check", action="store_true")
    p.add_argument("--outputs", action="store_true", help="also re-capture program outputs")
    p.add_argument("--figures", action="store_true", help="also copy figures from runs/ into chapters/*/figures")
    p.add_argument("chapters", nargs="*", metavar="NN",
                   help="with --outputs/--figures: only these chapters (default: all)")
    add("numbers", cmd_numbers, "list numbers in lessons and slides that look measured but come from no "
                                "captured run and no allow-list entry (tools/coursekit/numbers_allow.toml)")
    p = add("slides", cmd_slides, "build the Marp decks to HTML under runs/slides/")
    p.add_argument("--no-setup", action="store_true")
    add("format", cmd_format, "clang-format every C++ file, then regenerate exercises/")
    p = add("bench", cmd_bench, "C++ vs Python PyTorch U-Net throughput -> bench/RESULTS.md")
    p.add_argument("--threads", type=int, default=0, help="0: the cores available")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=1, help="timed repetitions inside each run")
    p.add_argument("--pairs", type=int, default=5, help="C++/Python pairs, the order alternating")
    p.add_argument("--profile", action="store_true",
                   help="then profile both training steps (autograd profiler) -> bench/PROFILE.md")
    a = ap.parse_args(argv)
    try:
        m = load()
    except (ValueError, KeyError) as e:
        print(f"course: {e}", file=sys.stderr)
        return 2
    try:
        return a.fn(m, a)
    except subprocess.CalledProcessError as e:
        print(f"course: {' '.join(map(str, e.cmd))} failed with exit {e.returncode}", file=sys.stderr)
        return 1
    except KeyError as e:
        print(f"course: {e.args[0]}", file=sys.stderr)
        return 2
