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
