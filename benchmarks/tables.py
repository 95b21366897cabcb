r"""Regenerates the results tables in BUILD.md from ``results/*/*.json``.

  python -m benchmarks.tables [--build_md=BUILD.md] [--check]

Each table lives between ``<!-- BEGIN GENERATED: name -->`` and
``<!-- END GENERATED: name -->`` in BUILD.md and is rendered from the JSON
files that the benchmark ``name`` wrote (newest last). Tables are never typed
by hand: edit the renderer below instead. ``--check`` exits 1 if BUILD.md is
out of date.
"""

import argparse
import glob
import json
import os
import re
import sys

from benchmarks.common import RESULTS_DIR, REPO_ROOT


def _load(name: str) -> list[dict]:
  out = []
  for path in sorted(glob.glob(str(RESULTS_DIR / name / "*.json"))):
    with open(path) as f:
      d = json.load(f)
    d["_file"] = os.path.relpath(path, REPO_ROOT)
    out.append(d)
  return out


def _machine(d: dict) -> str:
  kind = d.get("jax", {}).get("device_kind", "?")
  cpus = d.get("machine", {}).get("cpu_count", "?")
  return f"{kind}" if kind != "cpu" else f"CPU x{cpus}"


def _prov(d: dict) -> str:
  commit = (d.get("git_commit") or "?")[:8] + ("+" if d.get("git_dirty") else "")
  return f"`{d['command']}` ({commit}, {d['date'][:10]})"


def corpus_build(rows: list[dict]) -> str:
  lines = ["| corpus | utterances | build time | tokenizers | size | workers | machine | command |",
           "|---|---|---|---|---|---|---|---|"]
  for d in rows:
    m = d["metrics"]
    if m.get("reused"):
      continue
    toks = ", ".join(k.split("_")[1] for k in m if k.startswith("tokenizer_"))
    lines.append(
        f"| {m['config']} | {m['num_utterances']:,} | {m['build_seconds'] / 60:.1f} min build, "
        f"{m['wall_seconds'] / 60:.1f} min total | {toks} | {m['dataset_bytes'] / 2**30:.2f} GiB "
        f"| {m['num_workers']} | {_machine(d)} | {_prov(d)} |")
  return "\n".join(lines)


def rnnt_loss_memory(rows: list[dict]) -> str:
  lines = ["| device | shape (B, T, U, V) | form | peak memory MiB | loss+grad time | memory vs fused | command |",
           "|---|---|---|---|---|---|---|"]
  for d in rows:
    c, m = d["config"], d["metrics"]
    shape = f"{c['batch']}, {c['frames']}, {c['labels']}, {c['vocab']}"
    fused = m["forms"]["fused"]["peak_bytes"]
    for form, f in m["forms"].items():
      t = f["time_s_median"]
      t_s = f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"
      lines.append(f"| {_machine(d)} | {shape} | {form} | {f['peak_bytes'] / 2**20:.0f} | {t_s} "
                   f"| {f['peak_bytes'] / fused:.1f}x | {_prov(d)} |")
  return "\n".join(lines)


def _pct(x):
  return "-" if x is None else f"{100 * x:.1f}"


def quickstart(rows: list[dict]) -> str:
  if not rows:
    return "(no results yet)"
  d = rows[-1]
  lines = [f"Model: `{d['config']['workdir'].split('/')[-1]}` (step {d['metrics']['rows'][0]['metrics'].get('step')}); "
           f"{_machine(d)}; {_prov(d)}", "",
           "| split | biasing | list | WER % | U-WER % | B-WER % | utts | RTF |",
           "|---|---|---|---|---|---|---|---|"]
  for r in d["metrics"]["rows"]:
    m = r["metrics"]
    n = "user list" if r["distractors"] is None else f"own + {r['distractors']}"
    lines.append(f"| {r['split']} | {r['biasing']} | {n} | {_pct(m['wer'])} | {_pct(m['u_wer'])} "
                 f"| {_pct(m['b_wer'])} | {m['num_utterances']} | {m['rtf']:.3f} |")
  return "\n".join(lines)


def training_runs(rows: list[dict]) -> str:
  lines = ["| run | params | steps | train min | utt/s | final loss | val WER % | val U-WER % | machine | command |",
           "|---|---|---|---|---|---|---|---|---|---|"]
  for d in rows:
    m = d["metrics"]
    lines.append(
        f"| {d['config']['experiment']} | {m['num_params'] / 1e6:.2f}M | {m['step']} | "
        f"{m['train_minutes']:.1f} | {m['utts_per_sec']:.1f} | {m['loss']:.3f} | "
        f"{_pct(m.get('val_wer'))} | {_pct(m.get('val_u_wer'))} | {_machine(d)} | {_prov(d)} |")
  return "\n".join(lines)


RENDERERS = {
    "corpus_build": corpus_build,
    "rnnt_loss_memory": rnnt_loss_memory,
    "training_runs": training_runs,
    "quickstart": quickstart,
}


def render(text: str) -> str:
  def sub(m):
    name = m.group(1)
    if name not in RENDERERS:
      raise KeyError(f"BUILD.md names unknown table {name!r}")
    body = RENDERERS[name](_load(name))
    return f"<!-- BEGIN GENERATED: {name} -->\n{body}\n<!-- END GENERATED: {name} -->"
  return re.sub(r"<!-- BEGIN GENERATED: (\w+) -->.*?<!-- END GENERATED: \1 -->", sub, text,
                flags=re.S)


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--build_md", default=str(REPO_ROOT / "BUILD.md"))
  ap.add_argument("--check", action="store_true")
  args = ap.parse_args()
  with open(args.build_md) as f:
    old = f.read()
  new = render(old)
  if args.check:
    sys.exit(0 if new == old else 1)
  with open(args.build_md, "w") as f:
    f.write(new)
  print(f"updated {args.build_md}")


if __name__ == "__main__":
  main()
