#!/usr/bin/env bash
# Set up everything napari-jcas needs on a fresh Debian/Ubuntu machine, idempotently:
# the X libraries napari's Qt window and Xvfb need, a headless browser (the report's test),
# a virtual environment in .venv, PyTorch (the pinned release) and the project with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0
              libxcb-xinerama0 libxcb-cursor0 libxkbcommon-x11-0 libgl1 libegl1 libfontconfig1 libdbus-1-3
              chromium-headless-shell)  # the last: the test that opens the HTML report in a real browser
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO="none"; fi
  if [[ $SUDO == none ]]; then
    echo "setup: please install these system packages, then run again: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import jcas, napari_jcas, pytestqt, importlinter" >/dev/null 2>&1 \
   || [[ pyproject.toml -nt .venv/.installed ]]; then
  echo "setup: installing napari-jcas and its dependencies into .venv (a few minutes the first time)"
  .venv/bin/python -m pip install -q --upgrade pip
  # The pinned torch first: left to resolve on its own, pip may pick a multi-GB CUDA build.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[napari,test]"
  touch .venv/.installed
fi
