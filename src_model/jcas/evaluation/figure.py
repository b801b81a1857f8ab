"""A one-row summary figure: image, noisy mask, corrected mask and disagreement heatmap."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def save_summary_figure(
    path: str | Path, image: np.ndarray, noisy: np.ndarray, corrected: np.ndarray, heatmap: np.ndarray,
    truth: np.ndarray | None = None, title: str = "",
) -> Path:
    """Write a PNG with image, noisy, corrected (and true) masks over the image, and the heatmap.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)`` one slice.
    noisy, corrected, truth : numpy.ndarray
        ``(H, W)`` label maps.
    heatmap : numpy.ndarray
        ``(H, W)`` in [0, 1].
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    panels = [("image", None), ("noisy mask", noisy), ("corrected mask", corrected)]
    if truth is not None:
        panels.append(("true mask", truth))
    figure, axes = plt.subplots(1, len(panels) + 1, figsize=(3.2 * (len(panels) + 1), 3.6))
    grey = image if image.ndim == 2 else image[..., :3].mean(axis=-1)
    low, high = np.percentile(grey, (1, 99))
    for axis, (name, labels) in zip(axes, panels):
        axis.imshow(grey, cmap="gray", vmin=low, vmax=high)
        if labels is not None:
            overlay = np.ma.masked_equal(labels.astype(float), labels.min())
            axis.imshow(overlay, cmap="tab10", alpha=0.45, vmin=0, vmax=9, interpolation="nearest")
        axis.set_title(name)
    shown = axes[-1].imshow(heatmap, cmap="inferno", vmin=0, vmax=1)
    axes[-1].set_title("disagreement")
    figure.colorbar(shown, ax=axes[-1], fraction=0.046)
    for axis in axes:
        axis.set_axis_off()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
