"""runs/index.html: one page over every chapter's figures, videos and metrics."""
from __future__ import annotations

import html
import json
from pathlib import Path

from .manifest import Manifest

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{color:#234876} h2{border-bottom:2px solid #234876;padding-bottom:.2rem;margin-top:2.5rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:1rem}
figure{margin:0;background:#fafafa;border:1px solid #ddd;border-radius:6px;padding:.5rem}
figure img,figure video{width:100%;image-rendering:pixelated} figcaption{font-size:.85rem;color:#555}
pre{background:#f4f4f4;padding:.6rem;border-radius:6px;overflow:auto;font-size:.8rem;max-height:24rem}
.meta{color:#666;font-size:.9rem}
"""


def write(manifest: Manifest, runs: Path, timings: dict[str, float] | None = None) -> Path:
    parts = [f"<!doctype html><meta charset=utf-8><title>{html.escape(manifest.title)} — gallery</title>",
             f"<style>{CSS}</style><h1>{html.escape(manifest.title)}: gallery</h1>",
             "<p class=meta>What each chapter program wrote under <code>runs/</code>. "
             "Regenerate with <code>./course tour</code>.</p>"]
    for ch in manifest.chapters:
        d = runs / ch.dir
        if not d.is_dir():
            continue
        took = f" — {timings[ch.id]:.1f} s" if timings and ch.id in timings else ""
        parts.append(f"<h2>{ch.id} · {html.escape(ch.title)}<span class=meta>{took}</span></h2><div class=grid>")
        for f in sorted(d.iterdir()):
            rel = html.escape(f"{ch.dir}/{f.name}")
            if f.suffix == ".png":
                parts.append(f"<figure><a href='{rel}'><img src='{rel}' loading=lazy></a>"
                             f"<figcaption>{html.escape(f.name)}</figcaption></figure>")
            elif f.suffix == ".mp4":
                parts.append(f"<figure><video src='{rel}' controls loop muted></video>"
                             f"<figcaption>{html.escape(f.name)}</figcaption></figure>")
        parts.append("</div>")
        metrics = d / "metrics.json"
        if metrics.is_file():
            try:
                text = json.dumps(json.loads(metrics.read_text()), indent=2)
            except json.JSONDecodeError as e:
                text = f"metrics.json is not valid JSON: {e}"
            parts.append(f"<details><summary>metrics.json</summary><pre>{html.escape(text)}</pre></details>")
    out = runs / "index.html"
    out.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return out
