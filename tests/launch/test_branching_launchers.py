"""End to end: train a tiny branching model with stream context (a few steps),
then the branching sweep benchmark, the stream-context benchmark and the
router plot launcher. Slow (~2-3 min on 2 busy cores): several interpreters."""

import glob
import json
import os
import subprocess
import sys

import pytest
import soundfile as sf

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*args):
  out = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True,
                       timeout=900, env={**os.environ, "JAX_PLATFORMS": "cpu"})
  if out.returncode != 0:
    raise AssertionError(f"{args[0]} failed:\n{out.stderr[-4000:]}")
  return out


@pytest.fixture(scope="module")
def workdir(tiny_data_dir, tmp_path_factory):
  wd = str(tmp_path_factory.mktemp("branching_tiny"))
  _run("launch.train", "--config=experiments/branching_tiny.py", f"--workdir={wd}",
       f"--config.data.data_dir={tiny_data_dir}", "--config.train.num_steps=4",
       "--config.train.eval_utterances=2", "--config.data.max_train_utterances=24",
       "--config.data.stream_context.enabled=true", "--config.data.num_buckets=1",
       "--report=false")
  return wd


def test_branching_benchmark_writes_sweep(workdir, tiny_data_dir):
  from benchmarks import common
  before = set(glob.glob(str(common.RESULTS_DIR / "branching" / "*.json")))
  _run("benchmarks.branching", f"--workdirs={workdir}", "--thresholds=0.0,0.5,1.0", "--limit=4",
       "--beam=1", "--timing_utterances=2", f"--data_dir={tiny_data_dir}")
  new = sorted(set(glob.glob(str(common.RESULTS_DIR / "branching" / "*.json"))) - before)
  assert len(new) == 1 and os.path.exists(new[0][:-5] + ".png")
  with open(new[0]) as f:
    rows = json.load(f)["metrics"]["rows"]
  assert [r["threshold"] for r in rows] == [0.0, 0.5, 1.0]
  # threshold 0: every chunk expensive; 1: none (p < 1).
  assert rows[0]["frac_expensive"] == 1.0 and rows[2]["frac_expensive"] == 0.0
  for r in rows:  # word errors by position: every reference word in exactly one place
    pos = r["errors_by_position"]
    assert set(pos) == {"first", "middle", "last"}
    assert pos["first"][1] == r["num_utterances"] and all(e >= 0 for e, _ in pos.values())
  assert rows[0]["compute_saving"] == pytest.approx(0.0, abs=1e-6)
  assert rows[2]["compute_saving"] > 0.2 and rows[2]["analytic_compute_saving"] > 0.2
  assert rows[2]["timing"]["router"]["expensive_chunks"] == 0
  from benchmarks import tables
  assert "| " in tables.branching(tables._load("branching"))  # pylint: disable=protected-access


def test_stream_context_benchmark(workdir, tiny_data_dir):
  from benchmarks import common, tables
  _run("benchmarks.stream_context", f"--workdir={workdir}", f"--baseline={workdir}",
       "--splits=test", "--limit=3", "--beam=2", "--max_symbols=2", f"--data_dir={tiny_data_dir}")
  last = tables._load("stream_context")[-1]  # pylint: disable=protected-access
  assert last["config"]["max_symbols"] == 2
  rows = last["metrics"]["rows"]
  assert {r["model"] for r in rows} == {"baseline", "context", "context_model_without_context"}
  ctx = [r for r in rows if r["model"] == "context"][0]
  assert ctx["utterances_with_context"] == 3
  # The baseline here is the same model without its context: the withheld
  # run equals it exactly, utterance by utterance.
  wo = [r for r in rows if r["model"] == "context_model_without_context"][0]
  assert wo["bootstrap"]["rel_change"] == 0 and wo["bootstrap"]["ci_high"] == 0
  assert ctx["bootstrap"]["ci_low"] <= ctx["bootstrap"]["rel_change"] <= ctx["bootstrap"]["ci_high"]
  table = tables.stream_context(tables._load("stream_context"))  # pylint: disable=protected-access
  assert "test" in table and "paired bootstrap" in table
  assert "beam 2 (time-synchronous, 2 labels per frame)" in table
  # --baseline_context decodes the baseline with its own context: the same
  # model on both sides then agrees utterance by utterance.
  _run("benchmarks.stream_context", f"--workdir={workdir}", f"--baseline={workdir}",
       "--splits=test", "--limit=3", "--beam=2", f"--data_dir={tiny_data_dir}",
       "--baseline_context")
  last = tables._load("stream_context")[-1]  # pylint: disable=protected-access
  assert last["config"]["baseline_context"] and last["config"]["align"] == "chunk"
  rows = {r["model"]: r for r in last["metrics"]["rows"]}
  assert rows["baseline"]["wer"] == rows["context"]["wer"]
  assert rows["context"]["bootstrap"]["rel_change"] == 0
  assert rows["baseline"]["utterances_with_context"] == 3
  table = tables.stream_context(tables._load("stream_context"))  # pylint: disable=protected-access
  assert "decoded with its own context" in table and "rounded to whole chunks" in table


def test_visualize_router_writes_png(workdir, tiny_data_dir, tmp_path):
  from asr.data import sources
  ex = sources.open_source("tfds:voice_assistant/tiny:test", tiny_data_dir)[0]
  wav = str(tmp_path / "a.wav")
  sf.write(wav, ex["audio"], 16000)
  out = str(tmp_path / "routes.png")
  res = _run("launch.visualize_router", f"--workdir={workdir}", f"--audio={wav}",
             f"--output={out}", f"--wake_end={ex['wake_end']}", "--beam=2")
  printed = json.loads(res.stdout.strip().splitlines()[-1])
  assert os.path.getsize(out) > 1000 and printed["chunks"] > 0
  assert 0.0 <= printed["frac_expensive"] <= 1.0
