"""launch.train_lm through its absl flags on the tiny corpus (a few seconds of training)."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_train_lm_launcher(tiny_data_dir, tmp_path):
  wd = tmp_path / "lm"
  args = [sys.executable, "-m", "launch.train_lm", "--config=experiments/lm_small.py", f"--workdir={wd}",
          "--config.data.corpus=tiny", f"--config.data.data_dir={tiny_data_dir}",
          "--config.data.vocab_size=128", "--config.data.grammar_samples=200",
          "--config.data.grammar_users=10", "--config.data.eval_utterances=8",
          "--config.model.dim=16", "--config.model.mlp_dim=32", "--config.model.num_heads=2",
          "--config.train.num_steps=12", "--config.train.log_every=4"]
  out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "JAX_PLATFORMS": "cpu"})
  assert out.returncode == 0, out.stderr[-3000:]
  summary = json.loads((wd / "summary.json").read_text())
  assert summary["step"] == 12 and summary["final_loss"] < summary["first_loss"]
  assert (wd / "tokenizer.model").exists() and (wd / "checkpoints" / "12").exists()
  # The run summary went to ASR_RESULTS_DIR (a temporary folder under tests).
  results = os.path.join(os.environ["ASR_RESULTS_DIR"], "lm_training")
  assert any(f.endswith(".json") for f in os.listdir(results))
