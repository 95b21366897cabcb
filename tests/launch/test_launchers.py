"""End to end through the absl launchers: train a tiny CATT model, then
evaluate (every biasing mode, manifests with bad lines), transcribe, draw
an attention map, train an end-pointer and stream."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*args, check=True):
  out = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True,
                       timeout=900, env={**os.environ, "JAX_PLATFORMS": "cpu"})
  if check and out.returncode != 0:
    raise AssertionError(f"{args[0]} failed:\n{out.stderr[-4000:]}")
  return out


@pytest.fixture(scope="module")
def workdir(tiny_data_dir, tmp_path_factory):
  wd = str(tmp_path_factory.mktemp("catt_tiny"))
  _run("launch.train", "--config=experiments/catt_tiny.py", f"--workdir={wd}",
       f"--config.data.data_dir={tiny_data_dir}", "--config.train.num_steps=30",
       "--config.train.eval_utterances=4", "--config.data.num_buckets=1", "--report=false")
  return wd


@pytest.fixture(scope="module")
def manifest_dir(tiny_data_dir, tmp_path_factory):
  from asr.data import manifest, sources
  out = str(tmp_path_factory.mktemp("export"))
  src = sources.open_source("tfds:voice_assistant/tiny:test", tiny_data_dir)
  path = manifest.export_split((src[i] for i in range(6)), out, "test")
  return out, path


@pytest.mark.parametrize("biasing", ["none", "shallow", "attention", "both"])
def test_evaluate_split_every_biasing_mode(workdir, tiny_data_dir, tmp_path, biasing):
  out = str(tmp_path / "r.json")
  res = _run("launch.evaluate", f"--workdir={workdir}", "--split=test", f"--output={out}",
             f"--biasing={biasing}", "--distractors=10", "--beam=2", "--limit=8",
             f"--data_dir={tiny_data_dir}")
  printed = json.loads(res.stdout.strip().splitlines()[-1])
  with open(out) as f:
    saved = json.load(f)
  for key in ("wer", "u_wer", "b_wer", "num_utterances", "num_skipped", "rtf"):
    assert key in printed and key in saved["metrics"]
  assert printed["num_utterances"] == 8 and printed["num_skipped"] == 0
  assert len(saved["utterances"]) == 8
  assert all(u["biasing_list_size"] >= 10 for u in saved["utterances"])
  assert all(set(u) >= {"id", "ref", "hyp"} for u in saved["utterances"])


def test_evaluate_manifest_reports_bad_lines(workdir, manifest_dir, tmp_path):
  out_dir, path = manifest_dir
  bad = str(tmp_path / "bad.jsonl")
  with open(path) as f:
    lines = f.readlines()
  entry = json.loads(lines[1])
  entry["audio_filepath"] = os.path.join(out_dir, "wavs", "test", "nope.wav")
  lines[1] = json.dumps(entry) + "\n"
  with open(bad, "w") as f:
    f.writelines(l if i == 1 else l.replace('"wavs/', f'"{out_dir}/wavs/') for i, l in enumerate(lines))
  res = _run("launch.evaluate", f"--workdir={workdir}", f"--manifest={bad}", "--beam=0", check=False)
  assert res.returncode != 0
  assert f"{bad}:2" in res.stderr and "nope.wav" in res.stderr
  out = str(tmp_path / "r.json")
  res = _run("launch.evaluate", f"--workdir={workdir}", f"--manifest={bad}", "--beam=0",
             "--skip_bad", f"--output={out}")
  metrics = json.loads(res.stdout.strip().splitlines()[-1])
  assert metrics["num_skipped"] == 1 and metrics["num_utterances"] == 5
  with open(out) as f:
    saved = json.load(f)
  assert saved["skipped"][0]["line"] == 2


def test_evaluate_greedy_ignores_the_configs_beam_search_settings(workdir, tiny_data_dir, tmp_path):
  """--beam=0 is plain greedy even when the config tunes eval.ilm_weight for
  beam search (it used to run a beam-1 search with internal-LM subtraction);
  an explicit --ilm_weight still applies."""
  import shutil
  wd = str(tmp_path / "wd")
  shutil.copytree(workdir, wd)
  with open(os.path.join(wd, "config.json")) as f:
    cfg = json.load(f)
  cfg["eval"]["ilm_weight"] = 0.5
  with open(os.path.join(wd, "config.json"), "w") as f:
    json.dump(cfg, f)
  common = (f"--workdir={wd}", "--split=test", "--limit=6", f"--data_dir={tiny_data_dir}")
  outs = {}
  for name, extra in [("greedy", ["--beam=0"]), ("beam1_ilm", ["--beam=1", "--ilm_weight=0.5"]),
                      ("beam2", ["--beam=2"]), ("greedy_raw", ["--beam=0", "--raw_params"])]:
    out = str(tmp_path / f"{name}.json")
    res = _run("launch.evaluate", *common, f"--output={out}", *extra)
    outs[name] = json.loads(res.stdout.strip().splitlines()[-1])
  assert outs["greedy"]["ilm_weight"] == 0.0 and outs["greedy"]["beam"] == 0
  assert outs["beam1_ilm"]["ilm_weight"] == 0.5
  assert outs["beam2"]["ilm_weight"] == 0.5  # beam search keeps the config's setting
  from asr.evaluation import evaluate
  from asr.training import state as state_lib
  config, model, params, norm, tok, _ = state_lib.restore_for_inference(wd)
  config.data.data_dir = tiny_data_dir
  utts = evaluate.load_utterances(config, state_lib.split_spec(config, "test"), tok, limit=6)
  ref = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=0)
  with open(tmp_path / "greedy.json") as f:
    hyps = [u["hyp"] for u in json.load(f)["utterances"]]
  assert hyps == [u["hyp"] for u in ref["utterances"]]
  # No averaging in this run: the raw parameters are the evaluated ones.
  assert outs["greedy_raw"]["raw_params"] and not outs["greedy"]["raw_params"]
  with open(tmp_path / "greedy_raw.json") as f:
    assert [u["hyp"] for u in json.load(f)["utterances"]] == hyps


@pytest.fixture(scope="module")
def lm_workdir(tiny_data_dir, tmp_path_factory):
  lm_wd = str(tmp_path_factory.mktemp("lm"))
  _run("launch.train_lm", "--config=experiments/lm_small.py", f"--workdir={lm_wd}",
       "--config.data.corpus=tiny", f"--config.data.data_dir={tiny_data_dir}",
       "--config.data.vocab_size=128", "--config.data.grammar_samples=200",
       "--config.data.grammar_users=10", "--config.data.eval_utterances=8",
       "--config.model.dim=16", "--config.model.mlp_dim=32", "--config.model.num_heads=2",
       "--config.train.num_steps=12", "--config.train.log_every=4")
  return lm_wd


def test_evaluate_with_lm_fusion(workdir, lm_workdir, tiny_data_dir, tmp_path):
  """--lm_workdir fuses a launch.train_lm model into the beam search: the
  printed metrics carry its weight and the hypotheses equal the library's
  fused decode."""
  lm_wd = lm_workdir
  out = str(tmp_path / "lm.json")
  res = _run("launch.evaluate", f"--workdir={workdir}", "--split=test", "--limit=6", "--beam=2",
             f"--data_dir={tiny_data_dir}", f"--lm_workdir={lm_wd}", "--lm_weight=0.4",
             "--ilm_weight=0.2", f"--output={out}")
  printed = json.loads(res.stdout.strip().splitlines()[-1])
  assert printed["lm_weight"] == 0.4 and printed["ilm_weight"] == 0.2
  from asr.evaluation import evaluate
  from asr.lm import fusion
  from asr.training import state as state_lib
  config, model, params, norm, tok, _ = state_lib.restore_for_inference(workdir)
  config.data.data_dir = tiny_data_dir
  utts = evaluate.load_utterances(config, state_lib.split_spec(config, "test"), tok, limit=6)
  ref = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=2, ilm_weight=0.2,
                                     lm=fusion.LMFusion.from_workdir(lm_wd, 0.4))
  with open(out) as f:
    assert [u["hyp"] for u in json.load(f)["utterances"]] == [u["hyp"] for u in ref["utterances"]]


def test_rescoring_benchmark_retunes_the_ctc_pass_with_the_lm(workdir, lm_workdir, tiny_data_dir):
  """benchmarks.rescoring with the device's CTC pass: besides lm and lm+ilm,
  the methods ctc (CTC weight re-tuned, no LM) and lm+ctc (jointly with the
  LM); on the tuning split the joint grid, which contains ctc's and the
  device's own setting, makes no more errors than either; the table renders."""
  import glob
  from benchmarks import common, tables
  before = set(glob.glob(str(common.RESULTS_DIR / "rescoring" / "*.json")))
  _run("benchmarks.rescoring", f"--asr_workdir={workdir}", f"--lm_workdir={lm_workdir}",
       f"--data_dir={tiny_data_dir}", "--beam=3", "--modes=none", "--limit=5",
       "--ctc_rescore_weight=0.5", "--ctc_rescore_bonus=1.0", "--weights=0,0.5",
       "--bonuses=0,1", "--ilm_weights=0", "--ctc_weights=0,0.5,1", "--ctc_bonuses=0,1")
  new = sorted(set(glob.glob(str(common.RESULTS_DIR / "rescoring" / "*.json"))) - before)
  assert len(new) == 1
  with open(new[0]) as f:
    d = json.load(f)
  rows = [r for r in d["metrics"]["rows"] if "methods" in r]
  assert {r["split"] for r in rows} == {"validation", "test"}
  for r in rows:
    assert set(r["methods"]) == {"lm", "lm+ilm", "ctc", "lm+ctc"}
  val = next(r for r in rows if r["split"] == "validation")
  errs = {m: v["rescored"]["errors"] if "errors" in v["rescored"] else
          v["rescored"]["wer"] * val["num_words"] for m, v in val["methods"].items()}
  one = val["one_best"]["wer"] * val["num_words"]
  assert errs["lm+ctc"] <= errs["ctc"] + 1e-6 <= one + 2e-6
  assert val["methods"]["ctc"]["lm_weight"] == 0.0
  assert "lm+ctc (CTC" in tables.rescoring([d])


def test_transcribe_prints_json_lines(workdir, manifest_dir, tmp_path):
  out_dir, path = manifest_dir
  with open(path) as f:
    entries = [json.loads(l) for l in f][:2]
  wavs = [os.path.join(out_dir, e["audio_filepath"]) for e in entries]
  ctx = tmp_path / "ctx.txt"
  ctx.write_text("\n".join(entries[0]["context"][:5] + ["zoe muller:3.0"]) + "\n")
  res = _run("launch.transcribe", f"--workdir={workdir}", f"--context_file={ctx}", "--beam=2",
             *wavs)
  lines = [json.loads(l) for l in res.stdout.strip().splitlines()]
  assert [l["audio"] for l in lines] == wavs
  for l in lines:
    assert isinstance(l["text"], str) and l["nbest"] and {"text", "score"} <= set(l["nbest"][0])


def test_visualize_attention_writes_png(workdir, manifest_dir, tmp_path):
  out_dir, path = manifest_dir
  with open(path) as f:
    entry = json.loads(f.readline())
  ctx = tmp_path / "ctx.txt"
  ctx.write_text("\n".join(entry["context"][:8]) + "\n")
  png = str(tmp_path / "map.png")
  res = _run("launch.visualize_attention", f"--workdir={workdir}",
             f"--audio={os.path.join(out_dir, entry['audio_filepath'])}",
             f"--context_file={ctx}", f"--output={png}", f"--start={entry['wake_end']}")
  info = json.loads(res.stdout.strip().splitlines()[-1])
  assert info["output"] == png
  with open(png, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert os.path.getsize(png) > 10_000


def test_stream_prints_json_lines(workdir, manifest_dir, tiny_data_dir, tmp_path):
  """launch.train_endpointer on the tiny corpus, then launch.stream with the
  learned and the rule end-pointer, one file after the other and batched."""
  ep = str(tmp_path / "endpointer")
  _run("launch.train_endpointer", "--config=experiments/endpointer.py", f"--workdir={ep}",
       f"--config.data.data_dir={tiny_data_dir}",
       "--config.data.train=tfds:voice_assistant/tiny:train",
       "--config.data.validation=tfds:voice_assistant/tiny:validation",
       "--config.data.max_train_utterances=32", "--config.data.max_val_utterances=16",
       "--config.train.steps=20", "--config.train.batch_size=8")
  with open(os.path.join(ep, "endpointer.json")) as f:
    th = json.load(f)["thresholds"]
  assert 0 < th["speculative"] <= th["final"] < 1
  out_dir, path = manifest_dir
  with open(path) as f:
    entries = [json.loads(l) for l in f][:2]
  wavs = [os.path.join(out_dir, e["audio_filepath"]) for e in entries]
  ctx = tmp_path / "ctx.txt"
  ctx.write_text("\n".join(entries[0]["context"][:5]) + "\n")
  for extra in (["--endpointer=learned"], ["--endpointer=rule", "--concurrent"]):
    res = _run("launch.stream", f"--workdir={workdir}", f"--context_file={ctx}", "--beam=2",
               f"--endpointer_dir={ep}", "--chunk_ms=100", "--prefix_s=0.3", *extra, *wavs)
    lines = [json.loads(l) for l in res.stdout.strip().splitlines()]
    for w in wavs:
      mine = [l for l in lines if l["audio"] == w]
      finals = [l for l in mine if l["event"] == "final_endpoint"]
      assert len(finals) == 1 and mine[-1] is finals[0]
      assert finals[0]["action"] in ("confirm", "reset_downstream", "start_downstream")
      assert all({"event", "stream", "t", "wall_s"} <= set(l) for l in mine)


def test_report_evaluates_every_mode_plus_greedy_and_draws_the_map(workdir, tiny_data_dir):
  """launch.report (the quickstart's last stage) on a CATT model."""
  import glob
  from benchmarks import common
  before = set(glob.glob(str(common.RESULTS_DIR / "quickstart" / "*.json")))
  out = _run("launch.report", f"--workdir={workdir}", f"--data_dir={tiny_data_dir}",
             "--splits=test", "--limit=3", "--beam=2", "--ilm_weight=0.3", "--max_symbols=2")
  new = sorted(set(glob.glob(str(common.RESULTS_DIR / "quickstart" / "*.json"))) - before)
  assert len(new) == 1
  with open(new[0]) as f:
    rows = json.load(f)["metrics"]["rows"]
  assert [r["biasing"] for r in rows] == ["none (greedy)", "none", "shallow", "attention", "both"]
  assert rows[0]["metrics"]["beam"] == 0 and rows[1]["metrics"]["beam"] == 2
  # The beam rows use the search settings (--ilm_weight over eval.ilm_weight); greedy none.
  assert [r["metrics"]["ilm_weight"] for r in rows] == [0.0, 0.3, 0.3, 0.3, 0.3]
  assert [r["metrics"]["max_symbols"] for r in rows] == [0, 2, 2, 2, 2]  # --max_symbols too
  assert all(r["metrics"]["num_utterances"] == 3 for r in rows)
  assert "| test | none (greedy) |" in out.stdout
  assert os.path.exists(os.path.join(workdir, "attention_map.png"))
  from benchmarks import tables
  assert "none (greedy)" in tables.quickstart(tables._load("quickstart"))  # pylint: disable=protected-access


def test_model_reports_table_keeps_the_latest_report_per_workdir():
  """benchmarks.tables.model_reports (launch.report --results=model_reports)."""
  from benchmarks import tables

  def report(workdir, wer):
    m = {"wer": wer, "u_wer": wer / 2, "b_wer": 0.9, "num_utterances": 5, "rtf": 0.01, "step": 7}
    return {"config": {"workdir": f"/x/workdirs/{workdir}"}, "machine": {}, "command": "c",
            "git_commit": "abc", "date": "2026-11-26",
            "metrics": {"rows": [{"split": "test", "biasing": "none", "distractors": 100,
                                  "metrics": m}]}}

  text = tables.model_reports([report("medium", 0.5), report("other", 0.4),
                               report("medium", 0.3)])
  assert text.count("Model: `medium`") == 1 and text.count("Model: `other`") == 1
  assert "| test | none | own + 100 | 30.0 |" in text and "50.0" not in text
  assert tables.model_reports([]) == "(no results yet)"


def test_decoding_benchmark_tunes_the_ilm_and_lm_weights(workdir, lm_workdir, tiny_data_dir):
  """benchmarks.decoding --ilm_weights --lm_weights: tuned internal-LM and
  LM-fusion rows, and their table."""
  import glob
  from benchmarks import common, tables
  before = set(glob.glob(str(common.RESULTS_DIR / "decoding" / "*.json")))
  _run("benchmarks.decoding", f"--workdir={workdir}", f"--data_dir={tiny_data_dir}", "--beams=2",
       "--label_bonuses=0,0.5", "--ilm_weights=0.2", "--limit=3", "--max_symbols=2",
       f"--lm_workdir={lm_workdir}", "--lm_weights=0.3")
  new = sorted(set(glob.glob(str(common.RESULTS_DIR / "decoding" / "*.json"))) - before)
  assert len(new) == 1
  with open(new[0]) as f:
    m = json.load(f)["metrics"]
  assert [(r["ilm_weight"], r["label_bonus"]) for r in m["ilm_tuning"]] == [(0.2, 0.0), (0.2, 0.5)]
  best = min(m["ilm_tuning"], key=lambda r: r["wer"])
  rows = {r["search"]: r for r in m["rows"]}
  assert rows["modified beam 2 + ILM"]["ilm_weight"] == 0.2
  assert rows["modified beam 2 + ILM"]["label_bonus"] == best["label_bonus"]
  assert rows["greedy"]["ilm_weight"] == 0.0 and rows["modified beam 2"]["ilm_weight"] == 0.0
  assert [(r["lm_weight"], r["ilm_weight"], r["label_bonus"]) for r in m["lm_tuning"]] == [
      (0.3, 0.0, 0.0), (0.3, 0.0, 0.5), (0.3, 0.2, 0.0), (0.3, 0.2, 0.5)]
  best = min(m["lm_tuning"], key=lambda r: r["wer"])
  lm_row = rows["modified beam 2 + LM"]
  assert (lm_row["lm_weight"], lm_row["ilm_weight"], lm_row["label_bonus"]) == (
      0.3, best["ilm_weight"], best["label_bonus"])
  assert rows["modified beam 2"]["lm_weight"] == 0.0
  table = tables.decoding(tables._load("decoding"))  # pylint: disable=protected-access
  assert "| modified beam 2 + ILM |" in table and "| modified beam 2 + LM |" in table


def test_memorization_benchmark(workdir, lm_workdir, tiny_data_dir):
  """benchmarks.memorization: per split the internal-LM perplexity (equal to
  asr.lm.ilm's scores), the LM's, greedy WER, and its table."""
  import glob
  from benchmarks import common, tables
  before = set(glob.glob(str(common.RESULTS_DIR / "memorization" / "*.json")))
  _run("benchmarks.memorization", f"--workdir={workdir}", f"--data_dir={tiny_data_dir}",
       "--splits=train,test", "--limit=4", f"--lm_workdir={lm_workdir}")
  new = sorted(set(glob.glob(str(common.RESULTS_DIR / "memorization" / "*.json"))) - before)
  assert len(new) == 1
  with open(new[0]) as f:
    rows = json.load(f)["metrics"]["rows"]
  assert [r["split"] for r in rows] == ["train", "test"]
  from asr.evaluation import evaluate
  from asr.lm import ilm
  from asr.training import state as state_lib
  config, model, params, norm, tok, _ = state_lib.restore_for_inference(workdir)
  config.data.data_dir = tiny_data_dir
  utts = evaluate.load_utterances(config, state_lib.split_spec(config, "test"), tok, limit=4)
  seqs = [tok.encode(u.text) for u in utts]
  want = float(np.exp(-np.sum(ilm.ilm_scores(model, params, seqs)) / sum(map(len, seqs))))
  assert rows[1]["ilm_ppl_per_piece"] == pytest.approx(want, rel=1e-4)
  greedy = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=0)["metrics"]
  assert rows[1]["wer"] == pytest.approx(greedy["wer"])
  assert all(r["lm_ppl_per_piece"] > 1 and r["num_utterances"] == 4 for r in rows)
  table = tables.memorization(tables._load("memorization"))  # pylint: disable=protected-access
  assert "| train |" in table and "| test |" in table


def test_ctc_rescoring_benchmark_and_evaluate_flag(workdir, tiny_data_dir, tmp_path):
  """benchmarks.ctc_rescoring: the tuned (weight, bonus) is the grid's best on
  the tuning split, the rescored WER of the evaluation split equals the
  library path's (launch.evaluate --ctc_rescore_weight/--ctc_rescore_bonus
  too), and its table renders."""
  import glob
  from benchmarks import common, tables
  before = set(glob.glob(str(common.RESULTS_DIR / "ctc_rescoring" / "*.json")))
  _run("benchmarks.ctc_rescoring", f"--workdir={workdir}", f"--data_dir={tiny_data_dir}",
       "--beams=3", "--limit=5", "--eval_splits=test", "--weights=0,0.5,2", "--bonuses=0,1")
  new = sorted(set(glob.glob(str(common.RESULTS_DIR / "ctc_rescoring" / "*.json"))) - before)
  assert len(new) == 1
  with open(new[0]) as f:
    d = json.load(f)
  grid = d["metrics"]["grids"]["3"]
  assert len(grid) == 6
  rows = {r["split"]: r for r in d["metrics"]["rows"]}
  assert set(rows) == {"validation", "test"}
  best = min(g["errors"] for g in grid)
  val = rows["validation"]
  picked = [g for g in grid if (g["weight"], g["length_bonus"]) == (val["weight"],
                                                                     val["length_bonus"])]
  assert picked[0]["errors"] == best
  assert sum(u["rescored_errors"] for u in val["per_utterance"]) == best
  test = rows["test"]
  assert test["oracle"]["wer"] <= min(test["first_pass"]["wer"], test["rescored"]["wer"]) + 1e-9
  np.testing.assert_allclose(test["library"]["wer"], test["rescored"]["wer"], atol=1e-9)
  out = str(tmp_path / "r.json")
  res = _run("launch.evaluate", f"--workdir={workdir}", "--split=test", "--limit=5",
             f"--data_dir={tiny_data_dir}", "--beam=3", f"--output={out}",
             f"--ctc_rescore_weight={test['weight']}", f"--ctc_rescore_bonus={test['length_bonus']}")
  m = json.loads(res.stdout.strip().splitlines()[-1])
  assert m["ctc_rescore_weight"] == test["weight"]
  np.testing.assert_allclose(m["wer"], test["rescored"]["wer"], atol=1e-9)
  table = tables.ctc_rescoring(tables._load("ctc_rescoring"))  # pylint: disable=protected-access
  assert "| validation (tuning) | 3 |" in table and "| test | 3 |" in table
