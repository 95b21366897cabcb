"""Shared plumbing for benchmark scripts: one JSON result file per run."""

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# ASR_RESULTS_DIR redirects results (the test suite points it at a temporary
# folder so that test runs never enter BUILD.md's tables).
RESULTS_DIR = Path(os.environ.get("ASR_RESULTS_DIR", REPO_ROOT / "results"))


def command_line() -> str:
    """The invocation as typed, ``python -m pkg.mod ...`` for module runs."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        # Under -m, argv[0] is the resolved file path, not what was typed.
        return " ".join(["python", "-m", spec.name] + sys.argv[1:])
    return " ".join(["python"] + sys.argv)


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def run_metadata() -> dict:
    """Provenance for a result: command, code version, machine, JAX setup."""
    import jax  # Imported late so scripts can set JAX env vars first.

    status = _git("status", "--porcelain")
    devices = jax.devices()
    return {
        "command": command_line(),
        "git_commit": _git("rev-parse", "HEAD"),
        # Untracked files count: results may depend on uncommitted modules.
        "git_dirty": None if status is None else bool(status),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            # Cores this process may run on (``taskset -c 0 python -m ...``: 1).
            "cpu_affinity": (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                             else os.cpu_count()),
        },
        "jax": {
            "version": jax.__version__,
            "backend": jax.default_backend(),
            "devices": [str(d) for d in devices],
            "device_kind": devices[0].device_kind,
        },
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }


def write_result(name: str, metrics: dict, config: dict) -> Path:
    """Writes ``results/<name>/<UTC timestamp>.json`` and returns its path.

    Args:
      name: benchmark name, used as the results subdirectory.
      metrics: JSON-serializable measurements.
      config: JSON-serializable settings the measurements depend on.
    """
    meta = run_metadata()
    out_dir = RESULTS_DIR / name
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y%m%dT%H%M%S%fZ")
    path = out_dir / f"{stamp}.json"
    record = {"name": name, **meta, "config": config, "metrics": metrics}
    with open(path, "x") as f:  # Never overwrite an earlier result.
        json.dump(record, f, indent=2, sort_keys=False)
        f.write("\n")
    return path


def load_recognizer(workdir: str, data_dir: str | None = None):
    """A trained workdir's ``asr.inference.Recognizer``, its corpus moved to
    ``data_dir`` when given."""
    from asr import inference  # pylint: disable=g-import-not-at-top
    rec = inference.Recognizer.from_workdir(workdir)
    if data_dir:
        rec.config.data.data_dir = data_dir
    return rec


def load_split(rec, split: str, limit: int | None = None):
    """(spec, evaluation utterances, raw source) of a split of ``rec``'s corpus."""
    from asr.data import sources  # pylint: disable=g-import-not-at-top
    from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
    from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
    spec = state_lib.split_spec(rec.config, split)
    utts = evaluate.load_utterances(rec.config, spec, rec.tokenizer, limit=limit)
    return spec, utts, sources.open_source(spec, rec.config.data.data_dir)
