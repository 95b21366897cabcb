"""Shared fixtures: one tiny corpus per test session (built in ~20 s)."""

import os
import sys

import pytest

TINY = "tiny"

# Compile time, not compute, dominates this suite's tiny programs (and the
# launcher tests compile the same programs in several interpreters). Before
# JAX is imported here or in any subprocess: a compilation cache shared by the
# run's processes (a fresh folder per run unless JAX_COMPILATION_CACHE_DIR is
# set), and XLA's CPU backend without LLVM's optimization passes (about a
# quarter off the compile; float32 results move by rounding only) and with its
# classic elemental fusion emitters instead of the MLIR ones (another 15-20 %
# off a training step's compile; same operations, same rounding tolerances).
_TMP = os.environ.get("TMPDIR", "/tmp")
_OWN_CACHE = "JAX_COMPILATION_CACHE_DIR" not in os.environ
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(
    _TMP, f"asr_test_jax_cache_{os.getpid()}"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
for _flag in ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false"):
  if _flag.split("=")[0] not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _flag).strip()

# The tests check the mathematics (equivalences to ~1e-5): on NVIDIA Ampere and
# later JAX's default float32 matmul is TF32 (~1e-3 rounding), which alone
# fails 8 of the accelerator-check tests on an H200 (launch/accelerator_check.sh
# reruns them under TF32 for information). No effect on CPU.
os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")
if "jax" in sys.modules:  # a plugin imported JAX before this file: set it directly
  sys.modules["jax"].config.update("jax_default_matmul_precision",
                                   os.environ["JAX_DEFAULT_MATMUL_PRECISION"])

# Test runs write their result JSONs (training summaries, etc.) outside the
# repository's results/ folder, which feeds BUILD.md's tables.
os.environ.setdefault("ASR_RESULTS_DIR", os.path.join(_TMP, f"asr_test_results_{os.getpid()}"))


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
  """A TFDS data_dir holding voice_assistant/tiny and its 128-piece tokenizer.

  Set ASR_TEST_DATA_DIR to reuse a prebuilt one across runs.
  """
  from asr.data import prepare
  data_dir = os.environ.get("ASR_TEST_DATA_DIR") or str(tmp_path_factory.mktemp("data"))
  prepare.prepare_corpus(TINY, data_dir, num_workers=1, vocab_sizes=(128,))
  return data_dir


@pytest.fixture(scope="session")
def tiny_tokenizer_path(tiny_data_dir):
  from asr.data import prepare, tokenizer
  return tokenizer.tokenizer_path(prepare.dataset_dir(tiny_data_dir, TINY), 128)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
  """Drops JAX's compiled executables after each test module. The suite
  compiles thousands of programs in one process; keeping them all mapped
  ran XLA's CPU compiler out of memory mappings (a segfault near the end of
  a full run; vm.max_map_count is 65530 here)."""
  yield
  import jax  # pylint: disable=g-import-not-at-top
  jax.clear_caches()


def pytest_sessionfinish(session, exitstatus):
  del session, exitstatus
  if _OWN_CACHE:
    import shutil  # pylint: disable=g-import-not-at-top
    shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
