#!/usr/bin/env bash
# Checks to run once on a GPU (or TPU) machine, where the CPU test suite cannot
# look: the numerical tests that need no corpus (RNN-T losses against
# enumeration and each other, streaming == masked full-utterance encoder,
# stream context, beam search invariants, biasing attention masks) executed on
# the accelerator, first at JAX's default matmul precision (TF32 on NVIDIA
# Ampere and later) and, if anything fails there, again at "highest" (so a
# failure that is only TF32 rounding is told apart from a real one); then the
# RNN-T loss memory/time benchmark (naive, full, fused, pruned) and the
# training-step throughput of the GPU configs.
#
#   bash launch/accelerator_check.sh            # in an environment with jax[cuda]
#
# Reports: the pytest logs and versions in $REPORT_DIR (default
# results/accelerator_check); benchmark JSONs in results/ (or $ASR_RESULTS_DIR)
# as usual. Each step runs even if an earlier one failed; the exit status is
# that of the default-precision test run.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # several pytest workers share one GPU
REPORT_DIR=${REPORT_DIR:-results/accelerator_check}
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
$PY -m pytest -q -p no:cacheprovider -n "$WORKERS" $TESTS -rfE 2>&1 | tee "$REPORT_DIR/tests_default_precision.log"
status=${PIPESTATUS[0]}
if [ "$status" != 0 ]; then
  JAX_DEFAULT_MATMUL_PRECISION=highest $PY -m pytest -q -p no:cacheprovider -n "$WORKERS" $TESTS \
    -rfE 2>&1 | tee "$REPORT_DIR/tests_highest_precision.log"
fi
$PY -m benchmarks.rnnt_loss_memory ${LOSS_ARGS:-}
for cfg in ${THROUGHPUT_CONFIGS:-experiments/small.py experiments/medium.py}; do
  $PY -m benchmarks.train_throughput --config="$cfg" --steps="${THROUGHPUT_STEPS:-20}"
done
exit "$status"
