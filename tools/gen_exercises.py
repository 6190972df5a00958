#!/usr/bin/env python3
"""Generate exercises/ from solutions/.

Every file under solutions/ is copied to the same relative path under
exercises/. In .cpp/.hpp/.cu files, each block

    // BEGIN SOLUTION 02.3
    ...reference code...
    // END SOLUTION

becomes, at the marker's indentation,

    DM_TODO("02.3");

unless the block ends with an optional stub section, whose lines are
uncommented into the student's starting point instead:

    // BEGIN SOLUTION 02.1
    ...reference code...
    // BEGIN STUB
    // auto alpha = 1 - beta;   // a friendlier start
    // DM_TODO("02.1");
    // END STUB
    // END SOLUTION

Usage: gen_exercises.py [--check] [--out DIR] [--only REL ...]
  --check   exit 1 (listing the files) if exercises/ differs from what would be generated
  --out     write into DIR instead of exercises/ (the grader writes stubs to build/)
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = re.compile(r"^(\s*)// BEGIN SOLUTION (\d\d\.\d+)\s*$")
END = re.compile(r"^\s*// END SOLUTION\s*$")
BEGIN_STUB = re.compile(r"^\s*// BEGIN STUB\s*$")
END_STUB = re.compile(r"^\s*// END STUB\s*$")
CODE_SUFFIXES = {".cpp", ".hpp", ".h", ".cu", ".cuh"}


class GenError(Exception):
    pass


def transform(text: str, name: str) -> str:
    out: list[str] = []
    lines = text.splitlines(keepends=True)
    i = 0
    ids: list[str] = []
    while i < len(lines):
        m = BEGIN.match(lines[i])
        if not m:
            if END.match(lines[i]) or BEGIN_STUB.match(lines[i]) or END_STUB.match(lines[i]):
                raise GenError(f"{name}:{i + 1}: marker outside a BEGIN SOLUTION block")
            out.append(lines[i])
            i += 1
            continue
        indent, ex_id = m.group(1), m.group(2)
        ids.append(ex_id)
        start = i
        i += 1
        stub: list[str] | None = None
        while i < len(lines) and not END.match(lines[i]):
            if BEGIN.match(lines[i]):
                raise GenError(f"{name}:{i + 1}: BEGIN SOLUTION inside the block opened at line {start + 1}")
            if BEGIN_STUB.match(lines[i]):
                stub = []
                i += 1
                while i < len(lines) and not END_STUB.match(lines[i]):
                    s = lines[i]
                    stripped = s.lstrip()
                    if not stripped.startswith("//"):
                        raise GenError(f"{name}:{i + 1}: stub lines must be comments ('// code')")
                    lead = s[: len(s) - len(stripped)]
                    body = stripped[2:]
                    if body.startswith(" "):
                        body = body[1:]
                    stub.append(lead + body if body.strip() else "\n")
                    i += 1
                if i == len(lines):
                    raise GenError(f"{name}:{start + 1}: BEGIN STUB without END STUB")
            i += 1
        if i == len(lines):
            raise GenError(f"{name}:{start + 1}: BEGIN SOLUTION {ex_id} without END SOLUTION")
        i += 1  # skip END SOLUTION
        if stub is not None:
            out.extend(stub)
        else:
            out.append(f'{indent}DM_TODO("{ex_id}");\n')
    if ids and '#include "dm/todo.hpp"' not in text:
        raise GenError(f'{name}: has exercises {", ".join(ids)} but does not #include "dm/todo.hpp"')
    return "".join(out)


def generate(out_dir: Path, only: list[str] | None = None) -> dict[str, str]:
    """Returns {relative path: generated text} for every file of solutions/."""
    src = ROOT / "solutions"
    result: dict[str, str] = {}
    for path in sorted(src.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(src).as_posix()
        if only and rel not in only:
            continue
        text = path.read_text(encoding="utf-8")
        result[rel] = transform(text, f"solutions/{rel}") if path.suffix in CODE_SUFFIXES else text
    return result


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "exercises")
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args(argv)
    try:
        files = generate(args.out, args.only)
    except GenError as e:
        print(f"gen_exercises: {e}", file=sys.stderr)
        return 2
    out: Path = args.out
    if args.check:
        stale = [rel for rel, text in files.items()
                 if not (out / rel).is_file() or (out / rel).read_text(encoding="utf-8") != text]
        extra = [p.relative_to(out).as_posix() for p in out.rglob("*")
                 if p.is_file() and p.relative_to(out).as_posix() not in files]
        for rel in stale:
            print(f"exercises/{rel} differs from the generator's output")
        for rel in extra:
            print(f"exercises/{rel} has no counterpart in solutions/ (stray file)")
        if stale or extra:
            print("run `./course gen` to regenerate exercises/ from solutions/")
            return 1
        print(f"exercises/ matches solutions/ ({len(files)} files)")
        return 0
    for rel, text in files.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    if not args.only and out.resolve() == (ROOT / "exercises").resolve():
        for p in sorted(out.rglob("*"), reverse=True):
            rel = p.relative_to(out).as_posix()
            if p.is_file() and rel not in files:
                p.unlink()
            elif p.is_dir() and not any(p.iterdir()):
                p.rmdir()
    print(f"generated {len(files)} files into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
