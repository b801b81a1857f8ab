"""The docs' screenshots match what the code shows: the scenes of ``scripts/screenshot.py`` are built again
(with the small test model instead of the fast preset's training) and their fingerprints compared with
those recorded beside the figures when they were taken. Regenerate them all with
``xvfb-run -a .venv/bin/python scripts/screenshot.py --all docs/`` when this fails."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    """scripts/screenshot.py as a module (the scripts folder is no package)."""
    spec = importlib.util.spec_from_file_location("screenshot", ROOT / "scripts" / "screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_figure_of_the_docs_matches_what_the_code_shows(make_napari_viewer, model_file, qtbot):
    screenshot = load_script()
    recorded = json.loads((ROOT / "docs" / screenshot.FINGERPRINTS).read_text())
    assert set(recorded) == set(screenshot.FIGURES)
    for figure in screenshot.FIGURES:
        assert (ROOT / "docs" / figure).is_file()
        assert f"]({figure})" in (ROOT / "docs" / "usage.md").read_text() + (ROOT / "README.md").read_text().replace(
            "](docs/", "](")

    viewer = make_napari_viewer(show=True)
    train, review = screenshot.open_docks(viewer)
    assert train.training.load_model(model_file)
    train.correcting.correct()
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=120_000)
    for figure, scene in screenshot.FIGURES.items():
        screenshot.show(viewer, train, review, scene)
        assert screenshot.fingerprint(viewer, train, review) == recorded[figure], (
            f"docs/{figure} no longer shows what the code does: run scripts/screenshot.py --all docs/")
