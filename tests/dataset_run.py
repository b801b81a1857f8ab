"""A real `jcas correct` run on a folder of PNG files, for the tests of the dataset review (core and dock)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from helpers import tiny_config
from jcas.cli import main
from jcas.data.io import write_array
from jcas.training.trainer import Trainer


def tiny_model(images: np.ndarray, masks: np.ndarray, path: Path) -> Path:
    """A model trained in seconds (one epoch of :func:`helpers.tiny_config`) on the first slice, saved to ``path``:
    barely trained, it proposes many regions once the floors are down (:func:`correct_folder_run`)."""
    trainer = Trainer([images[:1]], [masks[:1]], tiny_config(epochs=1))
    for _ in trainer.run():
        pass
    return trainer.save(path)


def correct_folder_run(root: Path, images: np.ndarray, masks: np.ndarray, model_file: Path) -> SimpleNamespace:
    """Write ``images`` and ``masks`` (``(N, H, W)``) as ``root/images/slice<z>.png`` and ``root/masks/...``, one
    mask with its white matter drawn as grey matter, and run ``jcas correct`` on them into ``root/out``, with
    every floor of the selection down to the lowest, so that even a barely trained model proposes regions.

    Returns
    -------
    types.SimpleNamespace
        ``images``, ``masks``, ``out``: the three folders.
    """
    drawn = masks.astype(np.uint8)
    drawn[-1][drawn[-1] == 2] = 1  # the worst mask of the folder
    for z in range(len(images)):
        write_array(root / "images" / f"slice{z}.png", images[z])
        write_array(root / "masks" / f"slice{z}.png", drawn[z])
    folders = SimpleNamespace(images=root / "images", masks=root / "masks", out=root / "out")
    assert main(["correct", "--model", str(model_file), "--images", str(folders.images), "--masks",
                 str(folders.masks), "--out", str(folders.out), "--min-area", "20", "--min-score", "0",
                 "--min-confidence", "0"]) == 0
    return folders
