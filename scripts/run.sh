#!/usr/bin/env bash
# The main job: napari with the plugin on bundled sample data when there is a screen,
# else the headless demo (simulate noise, train, correct, report Dice, write a figure).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" && "${JCAS_HEADLESS:-0}" != 1 ]]; then
  exec .venv/bin/python -m napari_jcas
else
  echo "no screen found: running the headless demo (jcas demo)"
  exec .venv/bin/jcas demo "$@"
fi
