"""./course bench --profile: where the C++ and the Python training step spend their time.

Both sides record the same training steps with the legacy autograd profiler (LibTorch's
RecordProfile, PyTorch's torch.autograd.profiler.profile(use_kineto=False)), which write the same
chrome-trace events: one per ATen op or autograd node, with its start and duration. Here each op's
self time (its duration less that of the ops nested in it, on the same thread) is summed by name, and
the step's wall time splits into time inside ops and time between them (the framework's own work:
Python's interpreter and argument parsing, the optimizer's loops, dispatch). The table ranks the ops
by how much more time the C++ side spends in them."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Profile:
    wall_s: float                       # wall time of the profiled steps, as the program measured it
    steps: int
    self_us: dict[str, float] = field(default_factory=dict)   # op name -> summed self time (µs)
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def in_ops_s(self) -> float:
        return sum(self.self_us.values()) / 1e6


def read_trace(path: Path, wall_s: float, steps: int) -> Profile:
    raw = json.loads(path.read_text())
    events = raw["traceEvents"] if isinstance(raw, dict) else raw
    by_thread: dict[object, list[tuple[float, float, str]]] = {}
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            by_thread.setdefault(e.get("tid"), []).append((float(e["ts"]), float(e["dur"]), e["name"]))
    prof = Profile(wall_s, steps)
    for evs in by_thread.values():
        evs.sort(key=lambda x: (x[0], -x[1]))  # parents (earlier, longer) before their children
        stack: list[list] = []                  # [end, name, duration, time of its children]
        def close(entry):
            end, name, dur, child = entry
            prof.self_us[name] = prof.self_us.get(name, 0.0) + max(dur - child, 0.0)
            prof.calls[name] = prof.calls.get(name, 0) + 1
            if stack:
                stack[-1][3] += dur
        for ts, dur, name in evs:
            while stack and stack[-1][0] <= ts:
                close(stack.pop())
            stack.append([ts + dur, name, dur, 0.0])
        while stack:
            close(stack.pop())
    return prof


def table(cpp: Profile, py: Profile, top: int = 12) -> str:
    """Markdown: the split of the step, then the ops whose time differs most (ms per step)."""
    ms = lambda us, p: us / 1e3 / p.steps
    rows = [
        "| per training step | C++ | Python | C++ − Python |",
        "|---|---:|---:|---:|",
    ]
    for label, c, p in [("wall time (ms)", 1e3 * cpp.wall_s / cpp.steps, 1e3 * py.wall_s / py.steps),
                        ("inside ATen ops and autograd nodes (ms)", 1e3 * cpp.in_ops_s / cpp.steps,
                         1e3 * py.in_ops_s / py.steps),
                        ("between ops: framework, interpreter, optimizer loops (ms)",
                         1e3 * (cpp.wall_s - cpp.in_ops_s) / cpp.steps, 1e3 * (py.wall_s - py.in_ops_s) / py.steps)]:
        rows.append(f"| {label} | {c:.1f} | {p:.1f} | {c - p:+.1f} |")
    rows.append(f"| op calls | {sum(cpp.calls.values()) / cpp.steps:.0f} | {sum(py.calls.values()) / py.steps:.0f} | |")
    names = set(cpp.self_us) | set(py.self_us)
    diff = sorted(names, key=lambda n: -abs(ms(cpp.self_us.get(n, 0), cpp) - ms(py.self_us.get(n, 0), py)))
    rows += ["", "| op (self time, ms per step) | C++ | calls | Python | calls | C++ − Python |",
             "|---|---:|---:|---:|---:|---:|"]
    for n in diff[:top]:
        c, p = ms(cpp.self_us.get(n, 0), cpp), ms(py.self_us.get(n, 0), py)
        rows.append(f"| `{n}` | {c:.1f} | {cpp.calls.get(n, 0) / cpp.steps:.0f} | {p:.1f} | "
                    f"{py.calls.get(n, 0) / py.steps:.0f} | {c - p:+.1f} |")
    return "\n".join(rows)
