"""Evaluation suites: several splits x biasing modes x list sizes, one model.

Used by the quickstart report and the benchmark scripts, so every published
table comes from the same code path as ``launch.evaluate``.
"""

import dataclasses
import logging
from typing import Sequence

from asr.data import sources
from asr.evaluation import evaluate
from asr.training import state as state_lib


@dataclasses.dataclass
class Row:
  split: str
  biasing: str
  distractors: int | None
  metrics: dict


def run_suite(workdir: str, splits: Sequence[str], modes: Sequence[str] = ("none",),
              distractors: Sequence[int | None] = (None,), beam: int | None = None,
              data_dir: str | None = None, limit: int | None = None,
              context_score: float = 2.0, step: int | None = None,
              greedy_row: bool = False, ilm_weight: float | None = None,
              max_symbols: int | None = None, ctc_rescore_weight: float | None = None,
              ctc_rescore_bonus: float | None = None) -> list[Row]:
  """Evaluates every (split, N, mode); ``greedy_row`` adds, per split, the
  no-biasing greedy decode (``biasing`` = "none (greedy)"). Beam runs use the
  config's ``eval`` search settings; ``ilm_weight`` overrides its
  ``eval.ilm_weight`` (internal-LM subtraction, BeamSearch), ``max_symbols``
  its ``eval.max_symbols`` (0 = modified search, >= 1 = time-synchronous),
  ``ctc_rescore_weight`` / ``ctc_rescore_bonus`` its CTC rescoring of the beam
  (:mod:`asr.decoding.ctc_rescore`)."""
  config, model, params, norm, tok, step = state_lib.restore_for_inference(workdir, step)
  if data_dir:
    config.data.data_dir = data_dir
  beam = config.eval.beam if beam is None else beam
  rows = []
  for split in splits:
    spec = state_lib.split_spec(config, split)
    utts = evaluate.load_utterances(config, spec, tok, limit=limit)
    pool = None
    if any(n is not None for n in distractors):
      pool = sources.name_pool(sources.open_source(spec, config.data.data_dir))
    runs = [(n, mode, beam) for n in distractors for mode in modes]
    if greedy_row:
      runs.insert(0, (distractors[0], "none", 0))
    for n, mode, b in runs:
      # Beam runs use the config's tuned search settings (eval.label_bonus,
      # eval.max_symbols, eval.ilm_weight); the greedy row has none.
      search = evaluate.search_settings(config, b)
      if b > 1 and ilm_weight is not None:
        search["ilm_weight"] = ilm_weight
      if b > 1 and max_symbols is not None:
        search["max_symbols"] = max_symbols
      if b > 1 and ctc_rescore_weight is not None:
        search["ctc_rescore_weight"] = ctc_rescore_weight
      if b > 1 and ctc_rescore_bonus is not None:
        search["ctc_rescore_bonus"] = ctc_rescore_bonus
      res = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=b,
                                         batch_frames=config.eval.batch_frames, biasing=mode,
                                         distractors=n, pool=pool, context_score=context_score,
                                         **search)
      m = res["metrics"]
      m.update(num_utterances=len(utts), step=step)
      logging.info("%s biasing=%s N=%s beam=%s: wer=%.4f u_wer=%.4f b_wer=%s", split, mode, n, b,
                   m["wer"], m["u_wer"], m["b_wer"])
      rows.append(Row(split, "none (greedy)" if b <= 1 and mode == "none" else mode, n, m))
  return rows


def markdown_table(rows: Sequence[Row]) -> str:
  def pct(x):
    return "-" if x is None else f"{100 * x:.1f}"
  lines = ["| split | biasing | N | WER % | U-WER % | B-WER % | utts | RTF |",
           "|---|---|---|---|---|---|---|---|"]
  for r in rows:
    m = r.metrics
    lines.append(f"| {r.split} | {r.biasing} | {'user list' if r.distractors is None else r.distractors} "
                 f"| {pct(m['wer'])} | {pct(m['u_wer'])} | {pct(m['b_wer'])} | {m['num_utterances']} "
                 f"| {m['rtf']:.3f} |")
  return "\n".join(lines)
