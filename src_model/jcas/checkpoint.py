"""Checkpoints: one file with weights, settings, label values and the package version.

Loading never executes code from the file (``torch.load(..., weights_only=True)``).
"""
from __future__ import annotations

import io
from pathlib import Path

import torch

from . import __version__
from .config import TrainConfig
from .device import select_device
from .errors import JCASInputError
from .io import write_bytes_atomic
from .labels import LabelMap
from .model import JCASModel

FORMAT = "napari-jcas-model"
FORMAT_VERSION = 1
NORMALISATION = "per-slice percentiles 1-99 to [0, 1]"


def save_checkpoint(model: JCASModel, path: str | Path, overwrite: bool = True) -> Path:
    """Write ``model`` to ``path`` atomically; refuses an existing file unless ``overwrite``."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "config": model.config.to_dict(),
        "label_values": list(model.label_map.values),
        "ignore_value": model.label_map.ignore_value,
        "in_channels": model.in_channels,
        "normalisation": NORMALISATION,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return write_bytes_atomic(path, buffer.getvalue(), overwrite=overwrite)


def load_checkpoint(path: str | Path, device: str = "auto") -> JCASModel:
    """Load a checkpoint written by :func:`save_checkpoint`, in eval mode on ``device``.

    Raises
    ------
    JCASInputError
        Missing, corrupt or foreign files, and files whose weights do not fit their settings.
    """
    path = Path(path)
    if not path.is_file():
        raise JCASInputError(f"model file {path} does not exist.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise JCASInputError(
            f"{path} is not a readable napari-jcas model ({type(error).__name__}); "
            "the file may be truncated or of another kind. Train a new model or pick another file."
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise JCASInputError(f"{path} is not a napari-jcas model file (no '{FORMAT}' marker).")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise JCASInputError(f"{path} was written by a newer napari-jcas ({payload.get('package_version')}); update.")
    try:
        config = TrainConfig.from_dict(payload["config"])
        label_map = LabelMap(tuple(int(v) for v in payload["label_values"]), int(payload["ignore_value"]))
        model = JCASModel(config, label_map, int(payload["in_channels"]))
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, RuntimeError) as error:
        raise JCASInputError(f"{path}: the weights do not fit the model's settings ({error}).") from error
    return model.to(select_device(device)).eval()


def check_channels(model: JCASModel, channels: int) -> None:
    """Raise :class:`JCASInputError` when images have other channels than the model was trained on."""
    if channels != model.in_channels:
        kinds = {1: "greyscale", 3: "RGB"}
        raise JCASInputError(
            f"the model was trained on {kinds[model.in_channels]} images, these are {kinds[channels]}; "
            "train a model on images like these."
        )
