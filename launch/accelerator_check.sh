#!/usr/bin/env bash
# Checks to run once on a GPU (or TPU) machine, where the CPU test suite cannot
# look: the numerical tests that need no corpus (RNN-T losses against
# enumeration and each other, streaming == masked full-utterance encoder,
# stream context, beam search invariants, biasing attention masks) executed on
# the accelerator at the suite's matmul precision ("highest": tests/conftest.py
# sets JAX_DEFAULT_MATMUL_PRECISION, since the tests check the mathematics to
# ~1e-5 and TF32 rounds float32 products to ~1e-3), then once more under TF32
# (JAX's default on NVIDIA Ampere and later, what training uses) for
# information only: the list of what TF32 rounding alone moves past the
# tolerances. Then the RNN-T loss memory/time benchmark (naive, full, fused,
# pruned) and the training-step throughput of the small configs.
#
#   bash launch/accelerator_check.sh            # in an environment with jax[cuda]
#
# Reports: the pytest logs and versions in $REPORT_DIR; benchmark JSONs in
# $ASR_RESULTS_DIR (default for both: results/accelerator_check, which
# `python -m benchmarks.tables` renders as BUILD.md's accelerator_* tables).
# Each step runs even if an earlier one failed; the exit status is that of the
# first (highest-precision) test run.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # several pytest workers share one GPU
REPORT_DIR=${REPORT_DIR:-results/accelerator_check/logs}
export ASR_RESULTS_DIR=${ASR_RESULTS_DIR:-results/accelerator_check}
WORKERS=${PYTEST_WORKERS:-4}
mkdir -p "$REPORT_DIR"
$PY - <<'PY' | tee "$REPORT_DIR/versions.txt"
import jax, flax, optax
print("jax", jax.__version__, "flax", flax.__version__, "optax", optax.__version__)
print("backend", jax.default_backend(), "devices", jax.devices())
PY
TESTS="tests/losses tests/models/test_transducer.py tests/models/test_stream_context.py
  tests/decoding/test_beam.py tests/biasing/test_attention.py tests/biasing/test_context_graph.py"
# (None of these files builds the tiny corpus: that needs the TTS engines, checks
# the pipeline rather than accelerator numerics, and runs in CI.)
$PY -m pytest -q -p no:cacheprovider -n "$WORKERS" $TESTS -rfE 2>&1 | tee "$REPORT_DIR/tests_highest_precision.log"
status=${PIPESTATUS[0]}
JAX_DEFAULT_MATMUL_PRECISION=default $PY -m pytest -q -p no:cacheprovider -n "$WORKERS" $TESTS \
  -rfE 2>&1 | tee "$REPORT_DIR/tests_tf32_informational.log"
$PY -m benchmarks.rnnt_loss_memory ${LOSS_ARGS:-}
for cfg in ${THROUGHPUT_CONFIGS:-experiments/small.py experiments/medium.py}; do
  $PY -m benchmarks.train_throughput --config="$cfg" --steps="${THROUGHPUT_STEPS:-20}"
done
exit "$status"
