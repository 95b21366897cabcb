r"""Regenerates the results tables in BUILD.md from ``results/*/*.json``.

  python -m benchmarks.tables [--build_md=BUILD.md] [--check] [--only=name,name]

Each table lives between ``<!-- BEGIN GENERATED: name -->`` and
``<!-- END GENERATED: name -->`` in BUILD.md and is rendered from the JSON
files that the benchmark ``name`` wrote (newest last). Tables are never typed
by hand: edit the renderer below instead. ``--check`` exits 1 if BUILD.md is
out of date.

``results/`` is git-ignored and machine-local: a fresh clone has none, so a
table whose folder holds no JSON is left as committed (and named on stderr)
rather than emptied; once its benchmark runs again on this machine, the table
is regenerated from the JSONs present. Tables of one row per run
(``ROW_TABLES``) keep their committed rows of other provenance, and tables of
one block per model (``BLOCK_TABLES``) their blocks of commands not rerun here;
the quickstart table is the latest run only. ``--only`` names the tables to
regenerate and leaves the rest as committed. ``accelerator_*`` tables read
``results/accelerator_check/<benchmark>/`` (what ``launch/accelerator_check.sh``
writes on a GPU/TPU machine), so they never mix with the CPU rows.
"""

import argparse
import glob
import json
import os
import re
import sys

from benchmarks.common import RESULTS_DIR, REPO_ROOT


# Tables drawn from another table's results folder.
ALIASES = {"endpointing_summary": "endpointing", "branching_operating_points": "branching"}


def _load(name: str) -> list[dict]:
  out = []
  name = ALIASES.get(name, name)
  folder = (RESULTS_DIR / "accelerator_check" / name[len("accelerator_"):]
            if name.startswith("accelerator_") else RESULTS_DIR / name)
  for path in sorted(glob.glob(str(folder / "*.json"))):
    with open(path) as f:
      d = json.load(f)
    d["_file"] = os.path.relpath(path, REPO_ROOT)
    out.append(d)
  return out


def _machine(d: dict) -> str:
  kind = d.get("jax", {}).get("device_kind", "?")
  cpus = d.get("machine", {}).get("cpu_count", "?")
  pinned = d.get("machine", {}).get("cpu_affinity", cpus)  # fewer: run under taskset
  if kind != "cpu":
    return f"{kind}"
  return f"CPU x{cpus}" if pinned == cpus else f"CPU x{pinned} (pinned, of {cpus})"


def _latest(rows: list[dict], key) -> dict:
  """The last result (rows are in date order) per key(config), in first-seen order."""
  latest = {}
  for d in rows:
    latest[key(d["config"])] = d
  return latest


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


def train_throughput(rows: list[dict]) -> str:
  """Synthetic-batch training-step throughput (benchmarks.train_throughput)."""
  lines = ["| config | loss | device | params | global batch | compile s | step ms | utt/s | audio s/s | command |",
           "|---|---|---|---|---|---|---|---|---|---|"]
  for d in rows:
    m = d["metrics"]
    lines.append(f"| `{d['config']['config'].split('/')[-1][:-3]}` | {d['config'].get('loss_impl', 'fused')} "
                 f"| {_machine(d)} | {m['num_params'] / 1e6:.2f}M "
                 f"| {m['global_batch']} | {m['compile_seconds']:.0f} | {m['step_seconds'] * 1000:.1f} "
                 f"| {m['utts_per_sec']:,.0f} | {m['audio_sec_per_sec']:,.0f} | {_prov(d)} |")
  return "\n".join(lines)


def decoding(rows: list[dict]) -> str:
  """The latest decoding benchmark per workdir: greedy, beam, beam + tuned length reward."""
  if not rows:
    return "(no results yet)"
  latest = _latest(rows, lambda c: c["workdir"])
  out = []
  for workdir, d in latest.items():
    c, m = d["config"], d["metrics"]
    tuned = ", ".join(f"beam {b}: {v:g}" for b, v in m["tuned"].items())
    out += [f"Model `{workdir}` (step {c['step']}); reward tuned on `{c['tune_split']}` ({tuned}); "
            f"{_machine(d)}; {_prov(d)}", "",
            "| split | search | label bonus | ILM weight | LM weight | WER % | U-WER % | B-WER % | sub % | del % | ins % | RTF | utts |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in m["rows"]:
      out.append(f"| {r['split']} | {r['search']} | {r['label_bonus']:g} | {r.get('ilm_weight', 0):g} "
                 f"| {r.get('lm_weight', 0):g} "
                 f"| {_pct(r['wer'])} "
                 f"| {_pct(r['u_wer'])} | {_pct(r['b_wer'])} | {_pct(r['sub'])} | {_pct(r['del'])} "
                 f"| {_pct(r['ins'])} | {r['rtf']:.3f} | {r['num_utterances']} |")
    out.append("")
  return "\n".join(out).rstrip()


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


def model_reports(rows: list[dict]) -> str:
  """The latest launch.report --results=model_reports per workdir, one table each."""
  latest = _latest(rows, lambda c: c["workdir"])
  if not latest:
    return "(no results yet)"
  return "\n\n".join(quickstart([d]) for d in latest.values())


def training_runs(rows: list[dict]) -> str:
  lines = ["| run | params | steps | train min | utt/s | final loss | val WER % | val U-WER % | machine | command |",
           "|---|---|---|---|---|---|---|---|---|---|"]
  for d in rows:
    m = d["metrics"]
    lines.append(
        f"| {d['config']['experiment']} | {m['num_params'] / 1e6:.2f}M | "
        f"{(str(m['start_step']) + '-') if m.get('start_step') else ''}{m['step']} | "
        f"{m['train_minutes']:.1f} | {m['utts_per_sec']:.1f} | {m['loss']:.3f} | "
        f"{_pct(m.get('val_wer'))} | {_pct(m.get('val_u_wer'))} | {_machine(d)} | {_prov(d)} |")
  return "\n".join(lines)


def _rel_pct(x, digits=0):
  return "-" if x is None else f"{100 * x:+.{digits}f} %"


def biasing(rows: list[dict]) -> str:
  """The latest biasing benchmark of each workdir (Le et al. protocol)."""
  if not rows:
    return "(no results yet)"
  latest = _latest(rows, lambda c: (c["workdir"], c["split"], c.get("pointer_preselect", 0),
                                    c.get("pointer_rank") or "spelling",
                                    c.get("shallow_preselect", 0), c.get("pointer_window"),
                                    c.get("attention_list", "all"),
                                    c.get("preselect_min_score"), c.get("pointer_verify", 0),
                                    c.get("verify_joint", 0), c.get("verify_margin", 0.0),
                                    tuple(c.get("modes") or ()),
                                    json.dumps(c.get("kws_cohort"), sort_keys=True)))
  out = []
  for key, d in latest.items():
    (workdir, split, preselect, rank, shallow_k, window, att_list, min_score, verify, joint,
     margin, _, _) = key
    c, m = d["config"], d["metrics"]
    tune = ""
    how = {"spelling": "spelled most like the first pass's 1-best",
           "phonetic": "sounding most like the first pass's N-best",
           "ctc": "best matched by CTC keyword spotting on the audio"}[rank]
    if min_score is not None:
      how += f" (per-wordpiece keyword score >= {min_score:g})"
    if c.get("kws_cohort"):
      k = c["kws_cohort"]
      how += (f", ranked by scores calibrated against {k['utterances']} training utterances "
              f"(cohort weight {k['weight']:g}, power {k['power']:g})")
    if preselect:
      tune += (f"; {'' if rank == 'ctc' else 'two-pass '}pointer: its tree holds the "
               f"{preselect} phrases {how} (attention and both rows)")
      if window is not None:
        tune += f", active within {window} encoder frames of their keyword segments"
      if att_list != "all":
        tune += f"; the attention sees {'them' if att_list == 'preselected' else 'no list'}"
      if verify:
        alone = "the best phrase" if verify == 1 else f"each of the {verify} best phrases"
        tune += (f"; list verification: the empty tree, {alone} alone"
                 f"{f' and the {joint} best together' if joint > 1 else ''}, the most "
                 f"probable hypothesis kept (a phrase must gain more than {margin:g} nats)")
    if shallow_k:
      tune += f"; shallow fusion over the {shallow_k} phrases {how}"
    if any(m in ("shallow", "both") for m in c.get("modes") or ()) and not c.get(
        "context_score_tuning") and c.get("context_score") is not None:
      tune += f"; shallow-fusion bonus {c['context_score']:g} per token"
      if verify and "both" in c["modes"]:
        tune += " (both rows: over each tried tree's phrases)"
    if c.get("context_score_tuning"):
      tune = (f"; shallow-fusion bonus {c['context_score']} per token, chosen on validation from "
              + ", ".join(f"{t['context_score']:g} (WER {_pct(t['wer'])})"
                          for t in c["context_score_tuning"]))
    out.append(f"Model `{workdir}` (step {c.get('step')}), split `{split}`, beam {c['beam']}"
               f"{tune}; {_machine(d)}; {_prov(d)}\n")
    out.append("| N | biasing | WER % | U-WER % | B-WER % | B-WER vs none | U-WER vs none "
               "| U-WER, no-entity utts % | utts | RTF |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in m["rows"]:
      out.append(f"| {r['distractors']} | {r['biasing']} | {_pct(r['wer'])} | {_pct(r['u_wer'])} "
                 f"| {_pct(r['b_wer'])} | {_rel_pct(r.get('b_wer_rel'))} "
                 f"| {_rel_pct(r.get('u_wer_rel'))} | {_pct(r['no_entity_u_wer'])} "
                 f"| {r['num_utterances']} | {r['rtf']:.3f} |")
    st = m.get("streaming_rtf") or {}
    if "skipped" in st:
      out.append(f"\nStreaming RTF: not measured ({st['skipped']}).\n")
    elif st:
      out.append(f"\nStreaming, batch 1, 100 ms chunks, {st['no_list']['audio_seconds']:.0f} s of "
                 f"audio: RTF {st['no_list']['rtf']:.3f} without a list, {st['list']['rtf']:.3f} "
                 f"with a {st['list_size']}-phrase list.\n")
  return "\n".join(out).rstrip()


def preselect(rows: list[dict]) -> str:
  """Preselection rankings' recall of the spoken name (benchmarks.preselect),
  one table per command's latest run."""
  latest = {}
  for d in rows:
    latest[d["command"]] = d
  out = []
  for d in latest.values():
    c, m = d["config"], d["metrics"]
    ks = [str(k) for k in c["ks"]]
    out.append(f"Model `{c['workdir']}` (step {c.get('step')}), split `{c['split']}`, "
               f"{m['rows'][0]['num_utterances']} utterances; {_machine(d)}; {_prov(d)}\n")
    out.append("| N | ranking | names | " + " | ".join(f"top {k} %" for k in ks)
               + " | MRR | s / utt |")
    out.append("|---|---|---|" + "---|" * len(ks) + "---|---|")
    for r in m["rows"]:
      out.append(f"| {r['distractors']} | {r['method']} | {r['names']} | "
                 + " | ".join(_pct(r["recall"][k]) for k in ks)
                 + f" | {r['mrr']:.3f} | {r['seconds_per_utterance']:.3f} |")
    out.append("")
  return "\n".join(out).rstrip()


def lm_training(rows: list[dict]) -> str:
  """Rescoring language models (launch.train_lm)."""
  lines = ["| run | params | steps | train min | train sentences | loss first → last "
           "| val ppl / piece | val ppl / word | machine | command |",
           "|---|---|---|---|---|---|---|---|---|---|"]
  for d in rows:
    m = d["metrics"]
    lines.append(
        f"| {d['config']['experiment']} | {m['num_params'] / 1e6:.2f}M | {m['step']} | "
        f"{m['train_minutes']:.1f} | {m['num_train_sentences']:,} | {m['first_loss']:.2f} → "
        f"{m['final_loss']:.2f} | {m.get('val_ppl_piece', float('nan')):.2f} | "
        f"{m.get('val_ppl_word', float('nan')):.1f} | {_machine(d)} | {_prov(d)} |")
  return "\n".join(lines)


def memorization(rows: list[dict]) -> str:
  """Internal-LM perplexity and greedy WER on training vs held-out requests, per run."""
  out = []
  for d in rows:
    c, m = d["config"], d["metrics"]
    raw = ", raw parameters" if c.get("raw_params") else ""
    lm = f", LM `{c['lm_workdir']}`" if c.get("lm_workdir") else ""
    out += [f"Model `{c['workdir']}` (step {c['step']}{raw}){lm}; first {c['limit']} utterances "
            f"per split; greedy; {_machine(d)}; {_prov(d)}", "",
            "| split | ILM ppl / piece | LM ppl / piece | WER % | U-WER % | B-WER % | utts |",
            "|---|---|---|---|---|---|---|"]
    for r in m["rows"]:
      lm_ppl = f"{r['lm_ppl_per_piece']:.2f}" if r.get("lm_ppl_per_piece") else "-"
      out.append(f"| {r['split']} | {r['ilm_ppl_per_piece']:.2f} | {lm_ppl} | {_pct(r['wer'])} "
                 f"| {_pct(r['u_wer'])} | {_pct(r['b_wer'])} | {r['num_utterances']} |")
    out.append("")
  return "\n".join(out).rstrip()


def _rel1(reduction):
  """A relative WER reduction as a signed relative change with one decimal."""
  return "-" if reduction is None else f"{-100 * reduction + 0.0:+.1f} %"


def rescoring(rows: list[dict]) -> str:
  """The latest lattice-rescoring benchmark per (ASR workdir, LM workdir, beam)."""
  if not rows:
    return "(no results yet)"
  latest = _latest(rows, lambda c: (c["asr_workdir"], c["lm_workdir"], c["beam"],
                                    c.get("first_pass_ilm_weight", 0.0), c.get("max_symbols", 0),
                                    c.get("ctc_rescore_weight", 0.0),
                                    c.get("ctc_rescore_bonus", 0.0)))
  out = []
  for (asr, lm, beam, fp_ilm, max_symbols, ctc_w, ctc_b), d in latest.items():
    c, m = d["config"], d["metrics"]
    lm_m = m.get("lm", {})
    first = (f" (time-synchronous, {max_symbols} labels per frame)" if max_symbols else "")
    first += f" with ILM subtraction {fp_ilm:g} in the search" if fp_ilm else ""
    first += (f", rescored on the device with the CTC head (weight {ctc_w:g}, bonus {ctc_b:g})"
              if ctc_w else "")
    out.append(f"ASR `{asr.split('/')[-1]}`, LM `{lm.split('/')[-1]}` (val perplexity "
               f"{lm_m.get('val_ppl_piece', float('nan')):.2f} per piece), beam {beam}{first} = N-best, "
               f"shallow-fusion lists own + {c['distractors']}; weights tuned on "
               f"`{c['tune_split']}`; {_machine(d)}; {_prov(d)}\n")
    out.append("| split | biasing | rescoring | 1-best WER % | rescored WER % | rel. change "
               "| U-WER % 1-best → resc. | B-WER % 1-best → resc. | oracle WER % lattice / N-best "
               "| LM weight | ILM weight | length bonus | utts |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    sizes = []
    for r in m["rows"]:
      if r.get("kind") == "grid":
        continue
      o = r["one_best"]
      tuned = " (tuning)" if r["split"] == r["tuned_on"] else ""
      for name, v in r["methods"].items():
        s = v["rescored"]
        if "ctc_weight" in v:  # the joint methods re-weight the device's CTC pass
          name = f"{name} (CTC {v['ctc_weight']:g} / {v['ctc_bonus']:g})"
        out.append(f"| {r['split']}{tuned} | {r['biasing']} | {name} | {_pct(o['wer'])} | {_pct(s['wer'])} "
                   f"| {_rel1(v['relative_wer_reduction'])} "
                   f"| {_pct(o['u_wer'])} → {_pct(s['u_wer'])} | {_pct(o['b_wer'])} → {_pct(s['b_wer'])} "
                   f"| {_pct(r['oracle_wer_lattice'])} / {_pct(r['oracle_wer_nbest'])} "
                   f"| {v['lm_weight']:g} | {v['ilm_weight']:g} | {v['length_bonus']:g} | {r['num_utterances']} |")
      if r["split"] != r["tuned_on"]:
        sizes.append(r)
    out.append("\n| split | biasing | paths / utt | states / utt | arcs / utt | N-best words / utt "
               "| JSON B / utt | gzip B / utt | OpenFst text B / utt | audio B / utt (16-bit 16 kHz) "
               "| gzip / audio | names in 1-best / N-best / refs |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sizes:
      l = r["lattice"]
      e = r.get("entity_mentions")
      names = f"{e['in_one_best']} / {e['in_nbest']} / {e['total']}" if e else "-"
      out.append(f"| {r['split']} | {r['biasing']} | {l['paths_per_utt']:.1f} | {l['states_per_utt']:.1f} "
                 f"| {l['arcs_per_utt']:.1f} | {l['nbest_words_per_utt']:.1f} | {l['json_bytes_per_utt']:.0f} "
                 f"| {l['gzip_bytes_per_utt']:.0f} | {l['openfst_text_bytes_per_utt']:.0f} "
                 f"| {l['audio_bytes_per_utt']:,.0f} | {100 * l['gzip_fraction_of_audio']:.2f} % "
                 f"| {names} |")
    out.append("")
  return "\n".join(out).rstrip()


def _ms(x):
  return "-" if x is None else f"{1000 * x:.0f}"


def endpointing(rows: list[dict]) -> str:
  """The latest end-pointing benchmark per (recognizer, end-of-query model)."""
  if not rows:
    return "(no results yet)"
  latest = _latest(rows, lambda c: (c["workdir"], c["endpointer_dir"]))
  return "\n\n".join(_endpointing_one(d) for d in latest.values())


def endpointing_summary(rows: list[dict]) -> str:
  """One row per (recognizer, end-of-query model, split) of the latest runs:
  the speculative operating point and what the issue's targets read."""
  lines = ["| recognizer | end-of-query model | speculative point | final | split "
           "| speculative lead median ms | revised % | speculated % | final latency median ms "
           "| final cut-off % | perceived median ms | perceived, final only | rule latency median ms "
           "| rule cut-off % | command |", "|" + "---|" * 15]
  latest = _latest(rows, lambda c: (c["workdir"], c["endpointer_dir"]))
  for d in latest.values():
    c = d["config"]
    for split, r in d["metrics"]["splits"].items():
      l, u = r["learned"], r["rule"]
      th = l.get("thresholds", c["thresholds"])
      frame_ms = 10 * th.get("pool", 8)  # end-of-query frame (holds and gates count them)
      point = f"P >= {th['speculative']:.4g}"
      if th.get("lookahead_frames"):
        point += f", look-ahead {10 * th['lookahead_frames']} ms"
      if th.get("stable_frames"):
        point += f", stable {frame_ms * th['stable_frames']} ms"
      if th.get("min_completion"):
        point += f", LM P(end) >= {th['min_completion']:g}"
      hold = th.get("final_hold_frames", 0)
      final = f"P >= {th['final']:.4g}" + (f" held {frame_ms * hold} ms" if hold else "")
      if frame_ms != 80:
        final += f" ({frame_ms} ms frames)"
      name = lambda w: f"`{w.rstrip('/').split('/')[-1]}`"
      lines.append(
          f"| {name(c['workdir'])} | {name(c['endpointer_dir'])} | {point} | {final} | {split} "
          f"| {_ms(l['speculative_advance_median_s'])} | {_pct(l['revised_rate'])} "
          f"| {_pct(l['speculative_rate'])} | {_ms(l['final_latency_median_s'])} "
          f"| {_pct(l['final_cutoff_rate'])} | {_ms(l['perceived_speculative_median_s'])} "
          f"| {_ms(l['perceived_no_speculative_median_s'])} | {_ms(u['final_latency_median_s'])} "
          f"| {_pct(u['final_cutoff_rate'])} | {_prov(d)} |")
  return "\n".join(lines)


def _endpointing_one(d: dict) -> str:
  c = d["config"]
  th = c["thresholds"]
  first = next(iter(d["metrics"]["splits"].values()))
  hold = first.get("learned", {}).get("thresholds", {}).get("final_hold_frames", 0)
  frame_ms = 10 * th.get("pool", 8)  # end-of-query frame (holds and gates count them)
  held = f" held {frame_ms * hold} ms" if hold else ""
  if frame_ms != 80:
    held += f", {frame_ms} ms frames"
  lines = [f"Recognizer `{c['workdir']}` (step {c['step']}), end-of-query model `{c['endpointer_dir']}` "
           f"(speculative P >= {th['speculative']:.4g}, final P >= {th['final']:.4g}{held}); "
           f"{c['limit']} streams per split, lengthened to end of speech + {c['after_end_s']:g} s; "
           f"downstream {c['downstream_ms']:.0f} ms; {_machine(d)}; {_prov(d)}", "",
           "| split | end-pointer | latency median ms | latency P90 ms | fired early % | cut-off % "
           "| revised % | perceived median ms | perceived P90 ms | WER % |",
           "|---|---|---|---|---|---|---|---|---|---|"]
  for split, r in d["metrics"]["splits"].items():
    l, u = r["learned"], r["rule"]
    for key in ("learned_acoustic", "learned"):
      if key not in r:
        continue
      v = r[key]
      th = v.get("thresholds", {}).get("speculative", c["thresholds"]["speculative"])
      la = v.get("thresholds", {}).get("lookahead_frames", 0)
      how = ("tuned on revisions" if key == "learned" and "learned_acoustic" in r
             else "tuned on early firing")
      if la:
        how += f", {10 * la} ms quiet look-ahead"
      st = v.get("thresholds", {}).get("stable_frames", 0)
      if st:
        how += f", result stable {frame_ms * st} ms"
      mc = v.get("thresholds", {}).get("min_completion", 0.0)
      if mc:
        how += f", LM P(end) >= {mc:g}"
      if key == "learned" and v.get("speculative_rate", 1.0) < 1.0:
        how += f"; speculated on {_pct(v['speculative_rate'])} % of streams"
      if key == "learned" and v.get("speculative_advance_median_s") is not None:
        how += f"; {_ms(v['speculative_advance_median_s'])} ms before the final (median)"
      lines.append(
          f"| {split} | learned, speculative P >= {th:.4g} ({how}) "
          f"| {_ms(v['speculative_latency_median_s'])} "
          f"| {_ms(v['speculative_latency_p90_s'])} | {_pct(v['speculative_early_rate'])} | - "
          f"| {_pct(v['revised_rate'])} | {_ms(v['perceived_speculative_median_s'])} "
          f"| {_ms(v['perceived_speculative_p90_s'])} | - |")
    for name, m in ((f"learned, final{held}", l), ("rule (sherpa-onnx defaults)", u)):
      lines.append(
          f"| {split} | {name} | {_ms(m['final_latency_median_s'])} | {_ms(m['final_latency_p90_s'])} "
          f"| {_pct(m['final_early_rate'])} | {_pct(m['final_cutoff_rate'])} | - "
          f"| {_ms(m['perceived_no_speculative_median_s'])} "
          f"| {_ms(m['perceived_no_speculative_p90_s'])} | {_pct(m['wer_endpointed'])} |")
  return "\n".join(lines)


def streaming_speed(rows: list[dict]) -> str:
  if not rows:
    return "(no results yet)"
  lines = ["| system | RTF (1 core, wall) | RTF (CPU time) | chunk latency median ms | P99 ms | WER % "
           "| chunk ms | audio s | machine | command |", "|---|---|---|---|---|---|---|---|---|---|"]
  cmvn = []
  for d in rows[-1:]:  # the latest run
    c, m = d["config"], d["metrics"]
    names = (("ours", f"`{c['workdir'].rstrip('/').split('/')[-1]}` streaming, beam {c['beam']}"),
             ("eoq", "end-of-query model alone"),
             ("pocketsphinx", f"pocketsphinx {m.get('pocketsphinx', {}).get('version', '')} en-us"))
    for key, name in names:
      if key not in m:
        continue
      r = m[key]
      cpu = f"{r['rtf_cpu']:.3f}" if "rtf_cpu" in r else "-"
      lines.append(f"| {name} | {r['rtf']:.3f} | {cpu} | {r['chunk_latency_median_ms']:.1f} "
                   f"| {r['chunk_latency_p99_ms']:.1f} | {_pct(r.get('wer'))} | {c['chunk_ms']:.0f} "
                   f"| {r['audio_seconds']:.0f} | {_machine(d)} | {_prov(d)} |")
  with_cmvn = [d for d in rows if d["metrics"].get("cmvn")]
  for d in with_cmvn[-1:]:  # the latest measurement (earlier ones used other CMVN blocks)
    c, m = d["config"], d["metrics"]
    for split, r in m["cmvn"].items():
      cmvn.append(f"| {split} | {_pct(r['utterance']['wer'])} | {_pct(r['causal']['wer'])} "
                  f"| {c.get('cmvn_block', 32)} "
                  f"| {100 * r['wer_delta_abs']:+.1f} | {r['causal']['num_utterances']} | {_prov(d)} |")
  if cmvn:
    lines += ["", "| split | WER % whole-utterance CMVN (offline) | WER % causal CMVN (streaming) "
              "| causal block (frames) | change (points) | utts | command |",
              "|---|---|---|---|---|---|---|"] + cmvn
  return "\n".join(lines)


def branching(rows: list[dict]) -> str:
  """The latest branching sweep per (workdirs, reference, crop, split, swept
  thresholds): compute against WER per lambda / threshold. A sweep at other
  thresholds or on another split is another table, not a replacement."""
  if not rows:
    return "(no results yet)"
  latest = _latest(rows, lambda c: (
      tuple(c["workdirs"]), c.get("reference"), c.get("trailing_s"), c.get("split"),
      tuple(c.get("thresholds") or ()), tuple(c.get("backfill_thresholds") or ()),
      tuple(c.get("hold_thresholds") or ()), c.get("oracle")))
  out = []
  for d in latest.values():
    c, m = d["config"], d["metrics"]
    ref = m.get("reference")
    crop = ("everything after the wake word" if c.get("trailing_s") is None
            else f"requests cropped to {c['trailing_s']:g} s after the end of speech")
    out += [f"Split `{c['split']}` ({crop}), beam {c['beam']}; {_machine(d)}; {_prov(d)}", ""]
    if ref:
      out.insert(-1, f"Reference `{c['reference']}`: WER {_pct(ref['wer'])} %, "
                 f"{ref['compiled_flops_per_s'] / 1e6:.1f} MFLOPs per audio second"
                 + "".join(f", {ref[f'{pre}ms_per_audio_s']:.1f} ms per audio second ({name})"
                           for pre, name in (("", "host loop"), ("loop_", "compiled loop"))
                           if f"{pre}ms_per_audio_s" in ref) + ".")
    boot = any("bootstrap" in r for r in m["rows"])
    cross = any("cross_chunk" in r for r in m["rows"])
    sp = any("frac_expensive_speech" in r for r in m["rows"])
    loop = any("loop_ms_per_audio_s" in r for r in m["rows"])
    out += ["| model " + ("| expensive blocks " if cross else "")
            + "| λ | threshold | expensive chunks % "
            + ("| speech / other chunks expensive % " if sp else "")
            + "| MFLOPs / audio s | compute saving "
            "| ms / audio s (all expensive) | wall saving "
            + ("| compiled loop: ms / audio s (all expensive), wall saving " if loop else "")
            + "| WER % | WER vs reference "
            + ("| 95 % interval (paired bootstrap) " if boot else "") + "| utts |",
            "|---|" + ("---|" if cross else "") + ("---|" if sp else "")
            + "---|---|---|---|---|---|---|---|---|"
            + ("---|" if loop else "") + ("---|" if boot else "") + "---|"]
    for r in m["rows"]:
      b = r.get("bootstrap")
      out.append(
          f"| `{r['workdir'].rstrip('/').split('/')[-1]}` "
          + (f"| {'cross-chunk' if r.get('cross_chunk') else 'chunk-local'} " if cross else "")
          + f"| {r['lambda']:g}" + (f" (budget {r['cost_target']:g})" if r.get("cost_target") else "")
          + f" | {r['threshold']:g}"
          + (f" (backfill > {r['backfill_threshold']:g})" if r.get("backfill_threshold") else "")
          + (f" (hold > {r['hold_threshold']:g})" if r.get("hold_threshold") else "")
          # a diagnostic's WER (branching.oracle: outputs, keys or uncertain_keys)
          + (f" (oracle: {r['oracle']})" if r.get("oracle") else "")
          + " "
          f"| {_pct(r['frac_expensive'])}"
          # onset_backfill: chunks re-run through the expensive branch at onsets
          + (f" (+{_pct(r['frac_backfill'])} backfilled) " if r.get("frac_backfill") else " ")
          + ((f"| {_pct(r['frac_expensive_speech'])} / {_pct(r['frac_expensive_nonspeech'])} "
              if "frac_expensive_speech" in r else "| - ") if sp else "")
          + f"| {r['compiled_flops_per_s'] / 1e6:.1f} "
          f"| {_pct(r['compute_saving'])} % " + _wall_cells(r, "")
          + (_wall_cells(r, "loop_", merged=True) if loop else "")
          + f"| {_pct(r['wer'])} | {_rel_pct(r.get('wer_rel_reference'))} "
          + ((f"| {_rel_pct(b['ci_low'])} .. {_rel_pct(b['ci_high'])} " if b else "| - ")
             if boot else "")
          + f"| {r['num_utterances']} |")
    out.append("")
  return "\n".join(out).rstrip()


def _wall_cells(r: dict, pre: str, merged: bool = False) -> str:
  """A branching row's batch-1 wall time: ``pre`` "" = the host loop's fields,
  "loop_" = the compiled loop's (benchmarks.branching --timing_modes); two
  cells "ms (all expensive) | saving", or one with ``merged``; "-" if not timed."""
  if f"{pre}ms_per_audio_s" not in r:
    return "| - " if merged else "| - | - "
  ref = r.get(f"{pre}wall_saving_vs_reference")  # timed interleaved with the reference
  saving = f"{_pct(r[f'{pre}wall_saving'])} %" + (f" (vs ref. {_pct(ref)} %)" if ref is not None else "")
  ms = f"{r[f'{pre}ms_per_audio_s']:.1f} ({r[f'{pre}ms_per_audio_s_all_expensive']:.1f})"
  return f"| {ms}, {saving} " if merged else f"| {ms} | {saving} "


# The branching encoder's compute target (issue 5): at least this much less
# encoder compute for at most this relative WER increase over the plain anchor.
TARGET_SAVING, TARGET_WER_REL = 0.40, 0.03


def branching_operating_points(rows: list[dict]) -> str:
  """Each branching model at the threshold chosen on validation: the smallest
  swept threshold whose validation compute saving reaches ``TARGET_SAVING``,
  read on test (threshold sweeps with a reference only; backfill, hold and
  oracle sweeps are left out). One row per model, then the mean over the
  seeds of a family (workdirs that differ only in a ``_seedN`` suffix) where
  two or more have a chosen point."""
  by = {}  # (workdir, reference, trailing_s) -> {split: {threshold: (row, result)}}
  for d in rows:  # date order: a later sweep's row replaces an earlier one's
    c = d["config"]
    if (c.get("backfill_thresholds") or c.get("hold_thresholds") or c.get("oracle")
        or not c.get("reference")):
      continue
    for r in d["metrics"]["rows"]:
      key = (r["workdir"].rstrip("/"), c["reference"].rstrip("/"), c.get("trailing_s"))
      by.setdefault(key, {}).setdefault(c["split"], {})[r["threshold"]] = (r, d)
  points = []  # (family, trailing_s, name, reference, chosen threshold, val, test)
  for (wd, ref, trailing), splits in by.items():
    val, test = splits.get("validation"), splits.get("test")
    if val and test:
      ok = sorted(t for t, (r, _) in val.items() if r["compute_saving"] >= TARGET_SAVING)
      name = wd.split("/")[-1]
      points.append((re.sub(r"_seed\d+$", "", name), str(trailing), name, ref,
                     next((t for t in ok if t in test), None), val, test))
  if not points:
    return "(no model has both a validation and a test sweep)"
  meets = lambda r: r["compute_saving"] >= TARGET_SAVING and r["wer_rel_reference"] <= TARGET_WER_REL
  out = ["| model | reference | threshold (chosen on validation) | validation: saving, WER vs ref. "
         "| test: saving | test: WER vs ref. (95 % interval) | meets target | test sweep |",
         "|---|---|---|---|---|---|---|---|"]
  points.sort(key=lambda p: p[:3])
  for i, (family, trailing, name, ref, chosen, val, test) in enumerate(points):
    crop = "" if trailing == "None" else f" (cropped {float(trailing):g} s)"
    if chosen is None:
      out.append(f"| `{name}`{crop} | `{ref.split('/')[-1]}` | none reaches "
                 f"{100 * TARGET_SAVING:.0f} % | - | - | - | no | - |")
    else:
      v, (t, d) = val[chosen][0], test[chosen]
      b = t.get("bootstrap")
      out.append(f"| `{name}`{crop} | `{ref.split('/')[-1]}` | {chosen:g} "
                 f"| {_pct(v['compute_saving'])} %, {_rel_pct(v.get('wer_rel_reference'), 1)} "
                 f"| {_pct(t['compute_saving'])} % | {_rel_pct(t.get('wer_rel_reference'), 1)}"
                 + (f" ({_rel_pct(b['ci_low'], 1)} .. {_rel_pct(b['ci_high'], 1)})" if b else "")
                 + f" | {'yes' if meets(t) else 'no'} | {_prov(d)} |")
    if i + 1 < len(points) and points[i + 1][:2] == (family, trailing):
      continue
    # The family's last model: the mean over its seeds with a chosen point.
    ts = [p[6][p[4]][0] for p in points if p[:2] == (family, trailing) and p[4] is not None]
    if len(ts) >= 2:
      mean = {k: sum(t[k] for t in ts) / len(ts) for k in ("compute_saving", "wer_rel_reference")}
      out.append(f"| **`{family}`{crop}: mean of {len(ts)} seeds** | - | - | - "
                 f"| {_pct(mean['compute_saving'])} % | {_rel_pct(mean['wer_rel_reference'], 1)} "
                 f"| {sum(map(meets, ts))} of {len(ts)} seeds; the mean: "
                 f"{'yes' if meets(mean) else 'no'} | mean over the seeds of `{family}`{crop} |")
  return "\n".join(out)


def stream_context(rows: list[dict]) -> str:
  """The latest stream-context comparison per (workdir, baseline, beam)."""
  if not rows:
    return "(no results yet)"
  latest = _latest(rows, lambda c: (c["workdir"], c["baseline"], c["beam"],
                                    c.get("max_symbols", 0), c.get("ctc_rescore_weight", 0.0),
                                    c.get("ctc_rescore_bonus", 0.0),
                                    c.get("baseline_context", False)))
  out = []
  for (workdir, baseline, _, max_symbols, ctc_w, ctc_b, base_ctx), d in latest.items():
    c = d["config"]
    search = f" (time-synchronous, {max_symbols} labels per frame)" if max_symbols else ""
    if ctc_w:
      search += f", rescored with the CTC head (weight {ctc_w:g}, bonus {ctc_b:g})"
    align = ""
    if "align" in c:  # results before the option: whole chunks
      secs = [r["context_seconds"] for r in d["metrics"]["rows"] if r["model"] == "context"]
      align = f", rounded to whole {'encoder frames' if c['align'] == 'frame' else 'chunks'}"
      if secs:
        lo, hi = f"{min(secs):.2f}", f"{max(secs):.2f}"
        align += f" (mean {lo} s)" if lo == hi else f" (mean {lo}-{hi} s by split)"
    versus = " decoded with its own context" if base_ctx else ""
    out.append(f"Model `{workdir}` (step {c.get('step')}) against `{baseline}`{versus} (step "
               f"{c.get('baseline_step')}), context up to {c.get('max_seconds')} s{align}, beam "
               f"{c['beam']}{search}; {_machine(d)}; {_prov(d)}\n")
    boot = any("bootstrap" in r for r in d["metrics"]["rows"])
    edits = any("ins" in r for r in d["metrics"]["rows"])
    out.append("| split | model | WER % | U-WER % | B-WER % "
               + ("| sub / del / ins % " if edits else "") + "| WER vs baseline "
               + ("| 95 % interval (paired bootstrap) " if boot else "") + "| utts |")
    out.append("|---|---|---|---|---|" + ("---|" if edits else "") + "---|"
               + ("---|" if boot else "") + "---|")
    for r in d["metrics"]["rows"]:
      ci = ""
      if boot:
        bs = r.get("bootstrap")
        ci = (f"| {100 * bs['ci_low']:+.1f} % .. {100 * bs['ci_high']:+.1f} % " if bs else "| - ")
      rel = r["wer_rel_baseline"]
      rel_s = _rel_pct(rel) if not boot else f"{100 * rel:+.1f} %"
      ed = (f"| {_pct(r['sub'])} / {_pct(r['del'])} / {_pct(r['ins'])} " if edits else "")
      out.append(f"| {r['split']} | {r['model'].replace('_', ' ')} | {_pct(r['wer'])} "
                 f"| {_pct(r['u_wer'])} | {_pct(r['b_wer'])} {ed}| {rel_s} {ci}"
                 f"| {r['num_utterances']} |")
    out.append("")
  return "\n".join(out).rstrip()


def emission_delay(rows: list[dict]) -> str:
  """The latest emission-delay comparison per (workdirs, split, beam)."""
  if not rows:
    return "(no results yet)"
  latest = _latest(rows, lambda c: (tuple(c["workdirs"]), c["split"], c["beam"]))
  out = []
  for (_, split, beam), d in latest.items():
    out.append(f"Split `{split}`, {'greedy' if beam <= 1 else f'modified beam {beam}'}; "
               f"{_machine(d)}; {_prov(d)}\n")
    out.append("| model | step | FastEmit lambda | chunk ms | last token delay ms median / P90 "
               "| first token delay ms median / P90 | complete by end + 0 / 100 / 200 / 300 ms "
               "| WER % | U-WER % | B-WER % | utts |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    ms = lambda x: "-" if x is None else f"{x:.0f}"
    for r in d["metrics"]["rows"]:
      cb = " / ".join(_pct(r["complete_by"][k]) for k in ("0", "100", "200", "300"))
      out.append(f"| `{r['workdir']}` | {r['step']} | {r['fastemit_lambda']:g} | {r['chunk_ms']} "
                 f"| {ms(r['last_delay_ms_median'])} / {ms(r['last_delay_ms_p90'])} "
                 f"| {ms(r['first_delay_ms_median'])} / {ms(r['first_delay_ms_p90'])} "
                 f"| {cb} | {_pct(r['wer'])} | {_pct(r['u_wer'])} | {_pct(r['b_wer'])} "
                 f"| {r['num_utterances']} |")
    out.append("")
  return "\n".join(out).rstrip()


def ctc_rescoring(rows: list[dict]) -> str:
  """The latest CTC-rescoring benchmark per (workdir, beams): first pass
  against the beam rescored with the CTC head, weights tuned on validation."""
  if not rows:
    return "(no results yet)"
  latest = _latest(rows, lambda c: (c["workdir"], tuple(c["beams"])))
  out = []
  for (workdir, _), d in latest.items():
    c = d["config"]
    s = c.get("search", {})
    out += [f"Model `{workdir}` (step {c.get('step')}); first pass: "
            + ("time-synchronous search, " + f"{s.get('max_symbols')} labels per frame"
               if s.get("max_symbols") else "modified beam search")
            + f", ILM weight {s.get('ilm_weight', 0):g}, no biasing; weight and bonus tuned on "
            f"`{c['tune_split']}`; {_machine(d)}; {_prov(d)}", "",
            "| split | beam | first pass WER % (U / B) | rescored WER % (U / B) | WER change "
            "| 95 % interval (paired bootstrap) | N-best oracle WER % | CTC greedy WER % "
            "| weight | bonus | changed utts | library path WER % | utts |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in d["metrics"]["rows"]:
      f, q = r["first_pass"], r["rescored"]
      bs = r.get("bootstrap")
      rel = (q["wer"] - f["wer"]) / f["wer"] if f["wer"] else 0.0
      ci = f"{100 * bs['ci_low']:+.1f} % .. {100 * bs['ci_high']:+.1f} %" if bs else "-"
      lib = _pct(r["library"]["wer"]) if "library" in r else "-"
      split = r["split"] + (" (tuning)" if r["split"] == r["tuned_on"] else "")
      out.append(f"| {split} | {r['beam']} | {_pct(f['wer'])} ({_pct(f['u_wer'])} / "
                 f"{_pct(f['b_wer'])}) | {_pct(q['wer'])} ({_pct(q['u_wer'])} / {_pct(q['b_wer'])}) "
                 f"| {100 * rel:+.1f} % | {ci} | {_pct(r['oracle']['wer'])} "
                 f"| {_pct(r['ctc_greedy']['wer'])} | {r['weight']:g} | {r['length_bonus']:g} "
                 f"| {r['changed_utterances']} | {lib} | {r['num_utterances']} |")
    out.append("")
  return "\n".join(out).rstrip()


RENDERERS = {
    "ctc_rescoring": ctc_rescoring,
    "emission_delay": emission_delay,
    "endpointing": endpointing,
    "endpointing_summary": endpointing_summary,
    "streaming_speed": streaming_speed,
    "corpus_build": corpus_build,
    "rnnt_loss_memory": rnnt_loss_memory,
    "training_runs": training_runs,
    "train_throughput": train_throughput,
    "decoding": decoding,
    "quickstart": quickstart,
    "model_reports": model_reports,
    "biasing": biasing,
    "lm_training": lm_training,
    "rescoring": rescoring,
    "branching": branching,
    "branching_operating_points": branching_operating_points,
    "stream_context": stream_context,
    "accelerator_rnnt_loss_memory": rnnt_loss_memory,
    "accelerator_train_throughput": train_throughput,
    "mid_reports": model_reports,
    "preselect": preselect,
    "memorization": memorization,
}

# Tables with one row per result (or a few, one per measured form), each
# ending in its provenance cell: regenerating one merges the committed rows
# whose results this machine lacks (an earlier session's, another machine's)
# with the rows of the JSONs present, instead of dropping them. A committed
# row whose provenance cell (command, commit, date) matches a present JSON's
# is replaced by that JSON's row.
ROW_TABLES = {"endpointing_summary", "corpus_build", "rnnt_loss_memory", "training_runs", "train_throughput",
              "lm_training", "accelerator_rnnt_loss_memory", "accelerator_train_throughput",
              "branching_operating_points"}


# Tables of one block per model (or workdir, split, ...), each block headed by
# a line that names the benchmark's command: regenerating one keeps the
# committed blocks whose command no present JSON ran (a rerun of the same
# command replaces its block).
BLOCK_TABLES = {"ctc_rescoring", "decoding", "endpointing", "streaming_speed", "model_reports", "mid_reports",
                "biasing", "rescoring", "branching", "stream_context", "emission_delay", "preselect",
                "memorization"}


def _blocks(body: str) -> list[tuple[str | None, str]]:
  """[(command or None, text)]: a block starts at a paragraph whose first line names
  a `python -m ...` command; other paragraphs belong to the block before them."""
  out = []
  for para in re.split(r"\n\n(?=[^|\n])", body.strip("\n")):
    m = re.search(r"`(python -m [^`]*)`", para.split("\n", 1)[0])
    if m or not out:
      out.append((m.group(1) if m else None, para))
    else:
      out[-1] = (out[-1][0], out[-1][1] + "\n\n" + para)
  return out


def merge_blocks(old_body: str, new_body: str) -> str:
  """``new_body``'s blocks after ``old_body``'s blocks of commands not rerun."""
  new = _blocks(new_body)
  ran = {c for c, _ in new}
  kept = [b for c, b in _blocks(old_body) if c is not None and c not in ran]
  return "\n\n".join(kept + [b for _, b in new])


def _provenance_cell(row: str) -> str:
  return row.rstrip().rstrip("|").rsplit("|", 1)[-1].strip()


def _first_cell(row: str) -> str:
  """The row's first cell; a family's "mean of N seeds" row is one row whatever N."""
  return re.sub(r"mean of \d+ seeds", "mean", row.strip().strip("|").split("|", 1)[0].strip())


# ROW_TABLES whose rows are identified by their first cell (one row per model,
# whichever sweep it was read from) rather than by their provenance cell.
ROW_KEYS = {"branching_operating_points": _first_cell}


def merge_rows(old_body: str, new_body: str, key=_provenance_cell) -> str:
  """``new_body`` (header + rows) with ``old_body``'s rows of other ``key``
  (default: provenance) first."""
  old_rows = [l for l in old_body.splitlines()[2:] if l.startswith("|")]
  new_lines = new_body.splitlines()
  new_keys = {key(l) for l in new_lines[2:] if l.startswith("|")}
  kept = [l for l in old_rows if key(l) not in new_keys]
  return "\n".join(new_lines[:2] + kept + new_lines[2:])


def render(text: str, only=None) -> str:
  """Regenerates the GENERATED blocks of ``text`` (those named in ``only``, if given)."""
  def sub(m):
    name = m.group(1)
    if name not in RENDERERS:
      raise KeyError(f"BUILD.md names unknown table {name!r}")
    if only is not None and name not in only:
      return m.group(0)
    rows = _load(name)
    if not rows:
      print(f"tables: no results for {name!r} on this machine; kept as committed", file=sys.stderr)
      return m.group(0)
    body = RENDERERS[name](rows)
    old = m.group(0).split("\n", 1)[1].rsplit("\n", 1)[0]
    if name in ROW_TABLES and old.startswith("|"):
      body = merge_rows(old, body, ROW_KEYS.get(name, _provenance_cell))
    elif name in BLOCK_TABLES:
      body = merge_blocks(old, body)
    return f"<!-- BEGIN GENERATED: {name} -->\n{body}\n<!-- END GENERATED: {name} -->"
  return re.sub(r"<!-- BEGIN GENERATED: (\w+) -->.*?<!-- END GENERATED: \1 -->", sub, text,
                flags=re.S)


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--build_md", default=str(REPO_ROOT / "BUILD.md"))
  ap.add_argument("--check", action="store_true")
  ap.add_argument("--only", default=None,
                  help="comma-separated table names to regenerate (default: all with results)")
  args = ap.parse_args()
  only = None
  if args.only:
    only = set(args.only.split(","))
    unknown = only - set(RENDERERS)
    if unknown:
      ap.error(f"unknown tables {sorted(unknown)}; known: {sorted(RENDERERS)}")
  with open(args.build_md) as f:
    old = f.read()
  new = render(old, only)
  if args.check:
    sys.exit(0 if new == old else 1)
  with open(args.build_md, "w") as f:
    f.write(new)
  print(f"updated {args.build_md}")


if __name__ == "__main__":
  main()
