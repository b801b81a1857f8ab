"""Real sample stacks shipped with the package (see README.md beside this file)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_DIR = Path(__file__).resolve().parent
SAMPLE_NAMES = ("mni_tissue", "cells3d_nuclei")
#: The classes of each sample's label values (README.md beside this file).
CLASS_NAMES = {
    "mni_tissue": {0: "other", 1: "grey matter", 2: "white matter"},
    "cells3d_nuclei": {0: "background", 1: "nucleus"},
}


def load_sample(name: str = "mni_tissue") -> tuple[np.ndarray, np.ndarray]:
    """Load a shipped sample stack and its clean labels.

    Parameters
    ----------
    name : {"mni_tissue", "cells3d_nuclei"}
        Which sample.

    Returns
    -------
    images : numpy.ndarray
        ``(Z, H, W)`` image stack (uint8 or uint16).
    masks : numpy.ndarray
        ``(Z, H, W)`` uint8 clean label stack.
    """
    import tifffile

    if name not in SAMPLE_NAMES:
        raise ValueError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLE_NAMES)}")
    images = tifffile.imread(SAMPLE_DIR / f"{name}_images.tif")
    masks = tifffile.imread(SAMPLE_DIR / f"{name}_masks.tif")
    return np.asarray(images), np.asarray(masks)


def load_noisy_sample(
    name: str = "mni_tissue", kind: str = "mixed", fraction: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load a sample with a simulated-noise mask.

    Returns
    -------
    images, noisy, clean : numpy.ndarray
        ``(Z, H, W)`` each: the images, the noisy labels and the clean labels.
    """
    from ..noise import simulate_noise

    images, clean = load_sample(name)
    noisy, _ = simulate_noise(clean, kind=kind, fraction=fraction, seed=seed)
    return images, noisy, clean
