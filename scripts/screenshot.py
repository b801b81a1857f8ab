"""Take a screenshot of napari-jcas at work: train on the sample, correct, review.

Run under a display, e.g. ``xvfb-run -a .venv/bin/python scripts/screenshot.py docs/screenshot.png``
(and ``... --boundaries docs/images/boundary_view_1366x768.png`` for the boundary view).
Everything goes through the plugin's own docks, as a user would click it: the brain MRI
sample with its noisy mask, a short JCAS training ("fast" preset), Correct, and the
Review dock with its table of ranked candidate corrections, in a laptop-sized window with
the layers shown as Correct leaves them.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

SLICE = 4
WINDOW = (1366, 768)  # a laptop's screen


def wait_for(widget, timeout: float = 600.0) -> None:
    """Keep the GUI running until ``widget``'s worker is done."""
    deadline = time.monotonic() + timeout
    while widget.worker is not None:
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not finish in time")
        QApplication.processEvents()
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="PNG file to write")
    parser.add_argument("--epochs", type=int, default=0, help="training epochs (default: the fast preset's)")
    parser.add_argument("--boundaries", action="store_true", help="show the boundary view instead of the heatmap")
    args = parser.parse_args()

    viewer = napari.Viewer(show=True, title="napari-jcas")
    viewer.window._qt_window.resize(*WINDOW)
    image, mask = viewer.open_sample("napari-jcas", "mni_tissue")
    _, train = viewer.window.add_plugin_dock_widget("napari-jcas", "Train")
    _, review = viewer.window.add_plugin_dock_widget("napari-jcas", "Review", tabify=False)
    train.image_choice.value, train.mask_choice.value = image, mask
    train.preset_choice.value, train.epochs_choice.value = "fast", args.epochs

    train.start()  # no "Save model to": the model stays in memory, and no machine path shows
    wait_for(train)
    train.correct()
    wait_for(train)

    state = review.review
    first_on_slice = state.rows(SLICE)[0]
    review.select(first_on_slice)  # outlined in the canvas, highlighted in the table
    viewer.dims.set_point(0, SLICE)
    viewer.reset_view()
    if args.boundaries:
        viewer.layers[f"{image.name} boundaries"].visible = True
        viewer.layers[f"{image.name} disagreement"].visible = False
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(args.output), canvas_only=False)
    print(f"wrote {args.output}: {len(state)} candidate corrections")
    viewer.close()


if __name__ == "__main__":
    main()
