"""``python -m napari_jcas``: napari with the sample brain-MRI stack, its noisy mask and both docks."""
from __future__ import annotations

import sys

from ._sample_data import MNI_TISSUE


def open_sample_with_docks(viewer, sample: str = MNI_TISSUE) -> None:
    """Add a shipped sample (image and noisy mask) and the Train and Review docks to ``viewer``, and
    maximize its window: the docks and the canvas get the whole screen, a laptop's too."""
    viewer.open_sample("napari-jcas", sample)
    viewer.window.add_plugin_dock_widget("napari-jcas", "Train")
    viewer.window.add_plugin_dock_widget("napari-jcas", "Review")
    viewer.window._qt_window.showMaximized()


def main(sample: str = MNI_TISSUE) -> None:
    """Open a napari window on a shipped sample with both docks and run the event loop."""
    import napari

    viewer = napari.Viewer(title="napari-jcas")
    open_sample_with_docks(viewer, sample)
    napari.run()


if __name__ == "__main__":
    main(*sys.argv[1:2])
