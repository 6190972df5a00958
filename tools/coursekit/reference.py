"""./course train-reference NN: a chapter's longer recipe, trained by the course itself, stored under
reference/NN_name/ with its provenance (tools/coursekit/provenance.py), so a later chapter can start
from it when the student has no run of their own.

It runs in runs/reference/ and resumes there after an interruption (Ctrl-C, a closed laptop, the end
of a session): every --ckpt-every steps the chapter program saves a checkpoint, and `./course
train-reference 03` continues from it. On a machine without that checkpoint (a fresh clone) it goes
on from the committed partial model instead: the chapter's --init takes its weights and step count,
and the optimizer starts fresh (its state is not committed: it would triple the file); the session
record says so. Each call ends, finished or not, by exporting the EMA weights
it has (reference/03_ddpm/model.dmt), evaluating them at n = 2000 (the program's output: reference/03_ddpm/eval.txt) and writing
reference/03_ddpm/model.json: the commands, the commit, the wall time of every session, the steps done of the steps
planned, and the metrics. Default --threads 1, so it can run beside a build."""
from __future__ import annotations

import json
from dataclasses import dataclass
import signal
import subprocess
import time
from pathlib import Path

from . import build as B
from . import provenance
from .manifest import ROOT

# The recipe of each chapter's reference model: the chapter program's flags (T = 1000 as always).
RECIPES: dict[str, list[str]] = {
    "03": ["--width", "32", "--res-blocks", "1", "--dropout", "0", "--batch", "64", "--steps", "8000",
           "--lr", "1e-3", "--warmup", "200", "--ema", "0.999", "--ckpt-every", "250", "--video-every", "1000",
           "--sample-steps", "50"],
    # chapter 06 fine-tunes chapter 03's reference model into a class-conditional one (the label
    # embedding starts at zero: at step 0 it is the unconditional model for every label); its classifier
    # guidance part has a reference of its own (CLASSIFIER_RECIPES below)
    "06": ["--parts", "toy,cfg", "--init", "reference/03_ddpm/model.dmt", "--p-uncond", "0.1", "--steps", "2500", "--batch", "64",
           "--lr", "5e-4", "--warmup", "100", "--ema", "0.999", "--ckpt-every", "250", "--sample-steps", "50"],
}
# The evaluation of each reference model, from its exported weights (with the recipe's sampling steps):
# chapter 03 at n = 2000; chapter 06 its classifier-free guidance sweep at n = 500 per w.
EVALS: dict[str, list[str]] = {
    "03": ["--samples", "2000", "--sample-batch", "500"],
    "06": ["--w", "0,0.5,1,2,3,5,7.5", "--samples", "500", "--sample-batch", "250"],
}
FIGURES = {"03": ("samples.png", "nearest.png"), "06": ("grid.png", "tradeoff.png", "toy_guidance.png")}

# Chapter 06's second reference: the noise-aware classifier of classifier guidance, trained from scratch, and
# its sweep of chapter 03's reference model (`./course train-reference 06 --classifier`).
CLASSIFIER_RECIPES: dict[str, list[str]] = {
    "06": ["--parts", "cg", "--classifier-steps", "8000", "--classifier-batch", "128", "--classifier-lr", "1e-3",
           "--classifier-warmup", "100", "--cg-scales", "0,1,2,4,8,16", "--cg-samplers", "ddim,ddpm",
           "--cg-ddpm-steps", "100", "--cg-accuracy-images", "2000", "--samples", "500", "--sample-batch", "250",
           "--sample-steps", "50"],
}
CLASSIFIER_FIGURES = ("classifier_loss.png", "classifier_accuracy.png", "cg_grid_ddim.png", "cg_grid_ddpm.png",
                      "cg_tradeoff.png")

# Chapter 06's third: inpainting of chapter 03's reference model, replacement against RePaint (trains nothing;
# `./course train-reference 06 --inpaint`).
INPAINT_RECIPES: dict[str, list[str]] = {
    "06": ["--parts", "inpaint", "--inpaint-masks", "center,bottom", "--inpaint-images", "200", "--inpaint-batch",
           "100", "--inpaint-steps", "100", "--jump", "10", "--resamplings", "1,2,5,10"],
}
INPAINT_FIGURES = ("inpaint_strip.png", "inpaint_process.png", "inpaint_agreement.png")

# Chapter 06's fourth: the text-conditioned U-Net (text encoder and cross-attention), trained from chapter 03's
# reference model, and its evaluation (`./course train-reference 06 --text`).
TEXT_RECIPES: dict[str, list[str]] = {
    "06": ["--parts", "text", "--text-steps", "3000", "--text-batch", "64", "--text-lr", "5e-4", "--warmup", "100",
           "--ema", "0.999", "--ckpt-every", "250", "--p-uncond", "0.1", "--p-word", "0.5", "--text-w", "0,1,3",
           "--text-samples", "10", "--sample-batch", "200", "--sample-steps", "50", "--prompt", "a dark sandal",
           "--prompt", "a small light bag", "--prompt", "a large dark ankle boot", "--prompt", "a light sandal",
           "--prompt-w", "3", "--prompt-samples", "8"],
}
TEXT_FIGURES = ("text_loss.png", "text_grid.png", "text_accuracy.png", "text_attention.png", "text_prompts.png")

# Chapters that train nothing: their reference run is their table on an earlier chapter's reference
# model (reference/03_ddpm/model.dmt, passed as --ckpt and checked against its recorded sha256).
TABLES: dict[str, list[str]] = {
    "05": ["--steps", "10,20,50,100", "--eta", "0,0.5,1", "--samples", "500", "--sample-batch", "250"],
}


def run_shown(cmd: list[str]) -> tuple[int, list[str]]:
    """Runs cmd from the checkout, printing its output as it comes; returns the exit code and the lines."""
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in p.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    return p.wait(), lines


def run_timed(cmd: list[str]) -> tuple[int, list[str], float]:
    """Prints cmd, runs it as run_shown does; returns the exit code, the lines and the wall time in seconds."""
    print("+ " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    rc, lines = run_shown(cmd)
    return rc, lines, time.monotonic() - t0


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def with_flag(args: list[str], name: str, value: str) -> list[str]:
    """args with `name value` set once (CLI11 refuses an option given twice)."""
    out = list(args)
    if name in out:
        out[out.index(name) + 1] = value
    else:
        out += [name, value]
    return out


def run(chapter_id: str, chapter_dir: str, preset: str, threads: int, minutes: float | None,
        export_only: bool = False) -> int:
    if chapter_id in TABLES:
        return table(chapter_id, chapter_dir, preset, threads)
    if chapter_id not in RECIPES:
        print(f"train-reference: no reference recipe for chapter {chapter_id} (have: "
              f"{', '.join([*RECIPES, *TABLES])})")
        return 2
    if B.build(preset, [f"ch{chapter_id}_solutions"]).returncode != 0:
        return 1
    exe = str(B.bin_dir(preset) / "solutions" / chapter_dir)
    recipe = RECIPES[chapter_id]
    work = ROOT / "runs" / "reference"
    ckpt = work / chapter_dir / "ckpt.pt"
    base = [exe, *recipe, "--threads", str(threads), "--out", str(work), "--seed", "0"]
    state_file = work / chapter_dir / "reference_sessions.json"
    committed = provenance.REFERENCE / chapter_dir / "model.dmt"
    committed_rec = committed.with_suffix(".json")
    prior = json.loads(committed_rec.read_text()) if committed_rec.is_file() else {}
    sessions = (json.loads(state_file.read_text()) if state_file.is_file()
                else list(prior.get("sessions", [])) if prior.get("recipe") == recipe and "--init" not in recipe
                else [])  # a recipe with its own --init starts again from that file: no earlier sessions

    # ---- train (or continue), for at most `minutes`: from the checkpoint here, else from the committed
    # partial model of the same recipe, else from scratch
    start: list[str] = []
    started_from = None
    if ckpt.is_file():
        start = ["--resume"]
    elif (not export_only and prior.get("recipe") == recipe and committed.is_file()
          and not prior.get("finished", False) and "--init" not in recipe):  # a recipe's own --init: it starts there
        if provenance.sha256(committed) != prior.get("sha256"):
            print(f"train-reference: {committed.relative_to(ROOT)} does not match the sha256 of its "
                  f"{committed_rec.name}: restore both with `git checkout -- reference/`")
            return 1
        start = ["--init", str(committed)]
        started_from = {"file": str(committed.relative_to(ROOT)), "sha256": prior["sha256"],
                        "step": prior.get("steps_done"), "optimizer": "fresh (not committed), warmed up again"}
        print(f"train-reference: no checkpoint in {work.relative_to(ROOT)}: going on from "
              f"{committed.relative_to(ROOT)} at step {prior.get('steps_done')} (a fresh optimizer)")
    train = [*base, "--train-only", *start]
    wall = 0.0
    if not export_only:
        print("+ " + " ".join(train), flush=True)
        t0 = time.monotonic()
        p = subprocess.Popen(train, cwd=ROOT)
        try:
            p.wait(timeout=minutes * 60 if minutes else None)
        except subprocess.TimeoutExpired:
            print(f"train-reference: {minutes:g} min are up: stopping at the next step boundary (it saves a checkpoint)")
            p.send_signal(signal.SIGINT)
            p.wait()
        except KeyboardInterrupt:
            p.wait()
        wall = time.monotonic() - t0
        if p.returncode not in (0, 130):
            print(f"train-reference: training failed (exit {p.returncode})")
            return p.returncode
    if not ckpt.is_file():
        print("train-reference: no checkpoint yet (stopped before the first one): nothing to export")
        return 1

    # ---- export what there is: --resume with --steps below the checkpoint's step trains nothing, writes
    # model.dmt from the EMA weights and says which step it loaded
    done = export_step(base)
    planned = int(flag(recipe, "--steps"))
    # ---- evaluate the exported weights (EVALS: n = 2000 for 03, the sweep for 06)
    evaluate = [*with_flag(base, "--steps", str(done)), "--sample-only", *EVALS[chapter_id]]
    if "--init" in recipe:  # a recipe that starts from a file: the evaluation samples the export instead
        evaluate = with_flag(evaluate, "--init", str(work / chapter_dir / "model.dmt"))
    print("+ " + " ".join(evaluate), flush=True)
    t1 = time.monotonic()
    rc, ev_lines = run_shown(evaluate)  # kept: reference/NN_name/eval.txt
    if rc != 0:
        raise subprocess.CalledProcessError(rc, evaluate)
    eval_s = time.monotonic() - t1
    metrics = json.loads((work / chapter_dir / "metrics.json").read_text())

    out_dir = provenance.REFERENCE / chapter_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    model = out_dir / "model.dmt"
    (work / chapter_dir / "model.dmt").replace(model)
    shown_eval = ["bin/solutions/" + chapter_dir, *evaluate[1:]]
    (out_dir / "eval.txt").write_text(("$ " + " ".join(shown_eval) + "\n" + "".join(ev_lines))
                                      .replace(str(ROOT) + "/", ""))  # paths as a student's checkout has them
    for fig in FIGURES[chapter_id]:  # what the lessons show of it
        if (work / chapter_dir / fig).is_file():
            (out_dir / fig).write_bytes((work / chapter_dir / fig).read_bytes())
    if not export_only:
        session = {"train_wall_s": round(wall, 1), "steps_after": done, "threads": threads,
                   "commit": provenance.git("rev-parse", "HEAD"), "machine": provenance.machine()}
        if started_from:
            session["started_from"] = started_from
        sessions.append(session)
    state_file.write_text(json.dumps(sessions, indent=2) + "\n")
    shown = lambda args: ["bin/solutions/" + chapter_dir, *[a.replace(str(ROOT) + "/", "") for a in args[1:]]]
    rec = provenance.write(model, ["./course", "train-reference", chapter_id, "--threads", str(threads)],
                           sum(s["train_wall_s"] for s in sessions), {
                               "recipe": recipe, "steps_done": done, "steps_planned": planned,
                               "finished": done >= planned, "sessions": sessions,
                               "train_command": shown(train), "eval_command": shown(evaluate),
                               "eval_wall_s": round(eval_s, 1), "eval": metrics.get("eval", {}),
                               "sample": metrics.get("sample", {}),
                               **({"sweep": metrics["sweep"]} if "sweep" in metrics else {})})
    if "sweep" in rec:  # chapter 06: a guidance sweep, one row per strength
        rows = rec["sweep"]["rows"]
        print(f"train-reference: {model.relative_to(ROOT)} at step {done} of {planned} "
              f"({'finished' if done >= planned else 'partial: run it again to continue'}), {rec['bytes']} bytes, "
              f"sha256 {rec['sha256'][:12]}...; sweep at n = {rec['sweep']['n']}: " + "; ".join(
                  f"w = {r['w']:g} FID {r['eval']['fid']:.2f}, accuracy {r['accuracy']:.3f}" for r in rows))
        return 0
    ev = rec["eval"]
    print(f"train-reference: {model.relative_to(ROOT)} at step {done} of {planned} "
          f"({'finished' if done >= planned else 'partial: run it again to continue'}), {rec['bytes']} bytes, "
          f"sha256 {rec['sha256'][:12]}...; FID {ev.get('fid', float('nan')):.2f} "
          f"[{ev.get('fid_ci', [0, 0])[0]:.2f}, {ev.get('fid_ci', [0, 0])[1]:.2f}] against a floor of "
          f"{ev.get('fid_floor', float('nan')):.2f} at n = {ev.get('n')}")
    return 0


def export_step(base: list[str]) -> int:
    """Writes model.dmt from the checkpoint (training nothing) and returns the checkpoint's step."""
    r = subprocess.run([*with_flag(base, "--steps", "1"), "--resume", "--train-only"], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    for line in r.stdout.splitlines():
        if line.startswith("loaded checkpoint ") and " at step " in line and r.returncode == 0:
            return int(line.rsplit(" at step ", 1)[1].split()[0])
    raise RuntimeError(f"cannot export the checkpoint (exit {r.returncode}):\n{r.stdout[-800:]}")


def table(chapter_id: str, chapter_dir: str, preset: str, threads: int, model: Path | None = None) -> int:
    """The chapter's full table on the reference model it reads -> reference/NN_name/: the program's
    output (table.txt), its metrics.json and figures, and table.json with the command, commit, machine,
    wall time and the sha256 of the model it sampled (which must be the committed model's: `model`
    may name a copy of it, e.g. the export in runs/reference before it is moved to reference/)."""
    if B.build(preset, [f"ch{chapter_id}_solutions"]).returncode != 0:
        return 1
    model = model or provenance.REFERENCE / "03_ddpm" / "model.dmt"
    model_sha = provenance.sha256(model)
    work = ROOT / "runs" / "reference-table"
    cmd = [str(B.bin_dir(preset) / "solutions" / chapter_dir), *TABLES[chapter_id], "--ckpt", str(model),
           "--threads", str(threads), "--out", str(work), "--seed", "0"]
    rc, lines, wall = run_timed(cmd)
    if rc != 0:
        print(f"train-reference: {chapter_dir} failed (exit {rc})")
        return rc
    text = "".join(lines)
    used = [l for l in lines if l.startswith(f"model: {model} ")]
    model_rec = json.loads((provenance.REFERENCE / "03_ddpm" / "model.json").read_text())
    if not used or model_rec["sha256"] != model_sha:
        print(f"train-reference: the table is not of the committed reference model (sampled {model}, sha256 "
              f"{model_sha[:12]}..., committed {model_rec['sha256'][:12]}...); nothing stored")
        return 1
    out_dir = provenance.REFERENCE / chapter_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    run_dir = work / chapter_dir
    (out_dir / "table.txt").write_text(("$ " + " ".join(["bin/solutions/" + chapter_dir, *cmd[1:]]) + "\n" + text)
                                       .replace(str(ROOT) + "/", ""))
    for name in ("metrics.json", "fid_vs_steps.png", "samples_by_steps.png"):
        if (run_dir / name).is_file():
            (out_dir / name).write_bytes((run_dir / name).read_bytes())
    rec = {"command": ["./course", "train-reference", chapter_id, "--threads", str(threads)],
           "program": ["bin/solutions/" + chapter_dir, *cmd[1:]], "commit": provenance.git("rev-parse", "HEAD"),
           "dirty": bool(provenance.git("status", "--porcelain", "--untracked-files=no")),
           "machine": provenance.machine(), "wall_s": round(wall, 1), "model_line": used[0].strip(),
           "model_sha256": model_sha, "model_steps": model_rec.get("steps_done"),
           "files": {n: provenance.sha256(out_dir / n) for n in ("table.txt", "metrics.json", "fid_vs_steps.png",
                                                                  "samples_by_steps.png") if (out_dir / n).is_file()}}
    (out_dir / "table.json").write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
    print(f"train-reference: wrote {out_dir.relative_to(ROOT)}/table.txt and table.json ({wall / 60:.1f} min)")
    return 0



@dataclass
class PartRun:
    """One reference run of a chapter program's part, done: where it wrote, what it printed, what it cost."""
    run_dir: Path
    out_dir: Path
    metrics: dict
    shown: list[str]  # the command as a reader would type it (paths relative to the repository)
    lines: list[str]
    wall: float
    commit: str       # HEAD when the run started, and whether tracked files differed from it
    dirty: bool


def run_part(what: str, chapter_id: str, chapter_dir: str, preset: str, threads: int, recipe: list[str],
             work_name: str) -> tuple[int, PartRun | None]:
    """Builds the chapter's program, runs `recipe` at `threads` threads into runs/<work_name>/ with seed 0, and
    returns the run (None with the exit code when the build or the run failed: nothing is stored then)."""
    if B.build(preset, [f"ch{chapter_id}_solutions"]).returncode != 0:
        return 1, None
    commit = provenance.git("rev-parse", "HEAD")
    dirty = bool(provenance.git("status", "--porcelain", "--untracked-files=no"))
    work = ROOT / "runs" / work_name
    cmd = [str(B.bin_dir(preset) / "solutions" / chapter_dir), *recipe, "--threads", str(threads), "--out",
           str(work), "--seed", "0"]
    rc, lines, wall = run_timed(cmd)
    if rc != 0:
        print(f"train-reference {what}: {chapter_dir} failed (exit {rc}); nothing stored")
        return rc, None
    run_dir = work / chapter_dir
    out_dir = provenance.REFERENCE / chapter_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    shown = ["bin/solutions/" + chapter_dir, *[a.replace(str(ROOT) + "/", "") for a in cmd[1:]]]
    return 0, PartRun(run_dir, out_dir, json.loads((run_dir / "metrics.json").read_text()), shown, lines, wall,
                      commit, dirty)


def store_output(r: PartRun, name: str, figures: tuple[str, ...]) -> None:
    """The run's whole output as reference/<chapter>/<name> (its command first), and its figures beside it."""
    (r.out_dir / name).write_text(("$ " + " ".join(r.shown) + "\n" + "".join(r.lines)).replace(str(ROOT) + "/", ""))
    for fig in figures:
        if (r.run_dir / fig).is_file():
            (r.out_dir / fig).write_bytes((r.run_dir / fig).read_bytes())


def classifier(chapter_id: str, chapter_dir: str, preset: str, threads: int) -> int:
    """Chapter 06's noise-aware classifier, trained from scratch in one run with its classifier-guidance sweep
    of chapter 03's reference model -> reference/06_guidance/classifier.dmt with classifier.json (the command,
    commit, machine, wall time, the sweep), cg_eval.txt (the program's output) and the figures. No resume: the
    run is about half an hour at 2 threads; an interrupted one stores nothing."""
    if chapter_id not in CLASSIFIER_RECIPES:
        print(f"train-reference --classifier: only chapter 06 has one (not {chapter_id})")
        return 2
    rc, r = run_part("--classifier", chapter_id, chapter_dir, preset, threads, CLASSIFIER_RECIPES[chapter_id],
                     "reference-classifier")
    if r is None:
        return rc
    metrics, shown, wall = r.metrics, r.shown, r.wall
    artefact = r.out_dir / "classifier.dmt"
    (r.run_dir / "classifier.dmt").replace(artefact)
    store_output(r, "cg_eval.txt", CLASSIFIER_FIGURES)
    cg = metrics.get("classifier_guidance", {})
    rec = provenance.write(artefact, ["./course", "train-reference", chapter_id, "--classifier", "--threads",
                                      str(threads)], wall,
                           {"program": shown, "threads": threads, "classifier": cg.get("classifier", {}),
                            "accuracy_against_t": cg.get("accuracy_against_t", {}), "sweeps": cg.get("sweeps", {}),
                            "guided_model": "reference/03_ddpm/model.dmt"})
    print(f"train-reference --classifier: {artefact.relative_to(ROOT)}, {rec['bytes']} bytes, sha256 "
          f"{rec['sha256'][:12]}..., {wall:.0f} s")
    for name, sweep in rec["sweeps"].items():
        print(f"  {name}: " + "; ".join(f"s = {r['scale']:g} FID {r['eval']['fid']:.2f}, accuracy {r['accuracy']:.3f}"
                                        for r in sweep["rows"]))
    return 0


def inpaint(chapter_id: str, chapter_dir: str, preset: str, threads: int) -> int:
    """Chapter 06's inpainting sweep of chapter 03's reference model -> reference/06_guidance/inpaint_eval.txt (the
    program's output), the figures, and inpaint.json (the command, commit, machine, wall time, the sha256 of the
    model it filled in with, the tables). It trains nothing; an interrupted run stores nothing."""
    if chapter_id not in INPAINT_RECIPES:
        print(f"train-reference --inpaint: only chapter 06 has one (not {chapter_id})")
        return 2
    model = provenance.REFERENCE / "03_ddpm" / "model.dmt"
    rc, r = run_part("--inpaint", chapter_id, chapter_dir, preset, threads, INPAINT_RECIPES[chapter_id],
                     "reference-inpaint")
    if r is None:
        return rc
    out_dir, wall = r.out_dir, r.wall
    store_output(r, "inpaint_eval.txt", INPAINT_FIGURES)
    rec = {"command": ["./course", "train-reference", chapter_id, "--inpaint", "--threads", str(threads)],
           "program": r.shown, "commit": r.commit, "dirty": r.dirty, "machine": provenance.machine(),
           "wall_s": round(wall, 1), "threads": threads, "model": "reference/03_ddpm/model.dmt",
           "model_sha256": provenance.sha256(model), "inpainting": r.metrics.get("inpainting", {}),
           "files": {n: provenance.sha256(out_dir / n) for n in ("inpaint_eval.txt", *INPAINT_FIGURES)
                     if (out_dir / n).is_file()}}
    (out_dir / "inpaint.json").write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
    print(f"train-reference --inpaint: wrote {out_dir.relative_to(ROOT)}/inpaint_eval.txt and inpaint.json "
          f"({wall / 60:.1f} min)")
    return 0


def text(chapter_id: str, chapter_dir: str, preset: str, threads: int) -> int:
    """Chapter 06's text-conditioned U-Net, trained from chapter 03's reference model in one run with its evaluation
    -> reference/06_guidance/text_model.dmt with text_model.json (the command, commit, machine, wall time, the
    tables), text_eval.txt (the program's output) and the figures. No resume: an interrupted run stores nothing."""
    if chapter_id not in TEXT_RECIPES:
        print(f"train-reference --text: only chapter 06 has one (not {chapter_id})")
        return 2
    rc, r = run_part("--text", chapter_id, chapter_dir, preset, threads, TEXT_RECIPES[chapter_id], "reference-text")
    if r is None:
        return rc
    artefact = r.out_dir / "text_model.dmt"
    (r.run_dir / "text_model.dmt").replace(artefact)
    store_output(r, "text_eval.txt", TEXT_FIGURES)
    t = r.metrics.get("text", {})
    rec = provenance.write(artefact, ["./course", "train-reference", chapter_id, "--text", "--threads", str(threads)],
                           r.wall, {"program": r.shown, "threads": threads, "run_commit": r.commit,
                                    "run_dirty": r.dirty, "train": t.get("train", {}),
                                    "held_out": t.get("held_out", []), "sweep": t.get("sweep", {}),
                                    "started_from_model": "reference/03_ddpm/model.dmt"})
    print(f"train-reference --text: {artefact.relative_to(ROOT)}, {rec['bytes']} bytes, sha256 "
          f"{rec['sha256'][:12]}..., {r.wall:.0f} s")
    return 0
