"""Take every screenshot of the docs: napari-jcas at work on the sample, trained, corrected, under review.

``xvfb-run -a .venv/bin/python scripts/screenshot.py --all docs/`` writes each figure of :data:`FIGURES`
under ``docs/``, and :data:`FINGERPRINTS`: what each figure shows in words (window size, layers, the
docks' buttons, fields and table columns), which ``tests/plugin/test_screenshots.py`` builds again
with a small model and compares, so that a figure that no longer matches the code fails a test.
Everything goes through the plugin's own docks, as a user would click it: the brain MRI sample with
its noisy mask, a short JCAS training ("fast" preset), Correct, and the Review dock with its table of
ranked candidate corrections, in a laptop-sized window.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

SLICE = 4
WINDOW = (1366, 768)  # a laptop's screen
#: The figures of the docs (paths under the docs folder) and the scene each shows (:func:`show`).
FIGURES = {
    "screenshot.png": "overview",
    "images/review_1366x768.png": "review",
    "images/boundary_view_1366x768.png": "boundaries",
}
#: What the figures show, in words, beside them (under the docs folder).
FINGERPRINTS = "images/screenshots.json"


def wait_for(widget, timeout: float = 1800.0) -> None:
    """Keep the GUI running until ``widget``'s worker is done."""
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while widget.session.worker is not None:
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not finish in time")
        QApplication.processEvents()
        time.sleep(0.02)


def settle(seconds: float = 1.0) -> None:
    """Let the window lay itself out and the canvas draw."""
    from qtpy.QtWidgets import QApplication

    for _ in range(int(seconds / 0.05)):
        QApplication.processEvents()
        time.sleep(0.05)


def open_docks(viewer):
    """Open the sample and both docks in ``viewer``, sized as a laptop's screen; returns the Train and
    Review docks, with the sample's image and mask chosen."""
    from napari_jcas._sample_data import MNI_TISSUE

    viewer.window._qt_window.resize(*WINDOW)
    image, mask = viewer.open_sample("napari-jcas", MNI_TISSUE)
    _, train = viewer.window.add_plugin_dock_widget("napari-jcas", "Train")
    _, review = viewer.window.add_plugin_dock_widget("napari-jcas", "Review", tabify=False)
    train.training.image_choice.value, train.training.mask_choice.value = image, mask
    return train, review


def show(viewer, train, review, scene: str) -> None:
    """Set the window as figure ``scene`` shows it.

    overview: the whole slice :data:`SLICE` with the heatmap, its first candidate outlined in the canvas and
    selected in the table; review: the second candidate of the table framed with its surroundings, the
    Review dock's table in view; boundaries: the overview with the boundary view instead of the heatmap.
    The Train dock shows the loss plot, or (review) the correction settings.
    """
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    image = train.training.image_choice.value.name
    viewer.layers[f"{image} boundaries"].visible = scene == "boundaries"
    viewer.layers[f"{image} disagreement"].visible = scene != "boundaries"
    state = review.review
    if scene == "review":
        review.select(state.rows()[1])  # framed by the camera
    else:
        review.select(state.rows(SLICE)[0])
        viewer.dims.set_point(0, SLICE)
        viewer.reset_view()
    train.scroll_area.ensureWidgetVisible(train.correcting.correct_button if scene == "review" else train.plot)
    review.scroll_area.verticalScrollBar().setValue(0)
    review.scroll_area.ensureWidgetVisible(review.table)
    settle()
    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):  # none over the canvas
        toast.close()
    settle(0.5)


def fingerprint(viewer, train, review) -> dict:
    """What the window shows, in words that do not depend on the model: the window size, the layers (and
    which show), the docks' buttons, fields and table columns."""
    from qtpy.QtWidgets import QPushButton

    def buttons(dock_widget):
        return [button.text() for button in dock_widget.findChildren(QPushButton) if button.isVisibleTo(dock_widget)]

    def fields(*forms):
        return [widget.label for form in forms for widget in form if widget.visible]

    table = review.table
    return {
        "window": [viewer.window._qt_window.width(), viewer.window._qt_window.height()],
        "layers": [[layer.name, bool(layer.visible)] for layer in viewer.layers],
        "selected layer": viewer.layers.selection.active.name,
        "train buttons": buttons(train),
        "train fields": fields(train.training.form, train.correcting.form),
        "review buttons": buttons(review),
        "review fields": fields(review.form, review.export_form),
        "review columns": [table.horizontalHeaderItem(column).text() for column in range(table.columnCount())],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", dest="docs", type=Path, required=True, metavar="DOCS",
                        help="the docs folder: every figure and their fingerprints are written under it")
    parser.add_argument("--epochs", type=int, default=0, help="training epochs (default: the fast preset's)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        # the user's napari settings and review autosaves are left alone, and no earlier review is restored
        os.environ["NAPARI_CONFIG"] = str(Path(scratch, "settings.yaml"))
        from napari_jcas._settings import SESSION_FOLDER_ENV

        os.environ[SESSION_FOLDER_ENV] = scratch
        import napari

        viewer = napari.Viewer(show=True, title="napari-jcas")
        train, review = open_docks(viewer)
        train.training.preset_choice.value, train.training.epochs_choice.value = "fast", args.epochs
        train.training.start()  # no "Save model to": the model stays in memory, and no machine path shows
        wait_for(train)
        train.correcting.correct()
        wait_for(train)
        fingerprints = {}
        for figure, scene in FIGURES.items():
            show(viewer, train, review, scene)
            path = args.docs / figure
            path.parent.mkdir(parents=True, exist_ok=True)
            viewer.screenshot(str(path), canvas_only=False)
            fingerprints[figure] = fingerprint(viewer, train, review)
            print(f"wrote {path}: {scene}, {len(review.review)} candidate corrections")
        (args.docs / FINGERPRINTS).write_text(json.dumps(fingerprints, indent=1, ensure_ascii=False) + "\n")
        viewer.close()


if __name__ == "__main__":
    main()
