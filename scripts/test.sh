#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite; GUI tests run under Xvfb via pytest-xvfb.
# First the import contracts of pyproject.toml ([tool.importlinter]): the core never imports the plugin, napari or Qt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
