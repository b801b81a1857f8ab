"""Checkpoints: one file with weights, settings, label values and the package version.

Loading never executes code from the file (``torch.load(..., weights_only=True)``).
"""
from __future__ import annotations

import io
from pathlib import Path

import torch

from .. import __version__
from ..data.io import write_bytes_atomic
from ..data.labels import LabelMap
from ..device import select_device
from ..errors import JCASInputError
from ..settings import TrainConfig
from .crossfit import CrossFittedModel, Trust, as_cross_fitted
from .integrity import FORMAT, FORMAT_VERSION, validate_checkpoint_fields
from .model import JCASModel

NORMALISATION = "per-slice percentiles 1-99 to [0, 1]"


def save_checkpoint(model: CrossFittedModel, path: str | Path, overwrite: bool = True) -> Path:
    """Write ``model`` (its fold models, their slices and trust) to ``path`` atomically.

    Refuses an existing file unless ``overwrite``. A lone :class:`JCASModel` is saved as a
    one-member in-sample model.
    """
    model = as_cross_fitted(model)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "config": model.config.to_dict(),
        "label_values": list(model.label_map.values),
        "ignore_value": model.label_map.ignore_value,
        "in_channels": model.in_channels,
        "normalisation": NORMALISATION,
        "fold_mode": model.mode,
        "fingerprints": dict(model.fingerprints),
        "trained": list(model.trained),
        "interrupted": bool(model.interrupted),
        "selected_epochs": [-1 if e is None else int(e) for e in model.selected_epochs],
        "trust": [None if t is None else t.to_dict() for t in model.trust],
        "members": [{k: v.detach().cpu() for k, v in member.state_dict().items()} for member in model.members],
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return write_bytes_atomic(path, buffer.getvalue(), overwrite=overwrite)


def load_checkpoint(path: str | Path, device: str = "auto") -> CrossFittedModel:
    """Load a checkpoint written by :func:`save_checkpoint`, in eval mode on ``device``.

    Raises
    ------
    JCASInputError
        Missing, corrupt or foreign files, files of another format version, and files whose
        weights do not fit their settings.
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
    version = payload.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise JCASInputError(f"{path} was written by a newer napari-jcas ({payload.get('package_version')}); update.")
    if version < FORMAT_VERSION:
        raise JCASInputError(f"{path} was written by napari-jcas {payload.get('package_version')}, whose models "
                             "judged slices in sample and depended on the image frame; train a new model.")
    validate_checkpoint_fields(payload, path)
    try:
        config = TrainConfig.from_dict(payload["config"])
        label_map = LabelMap(tuple(int(v) for v in payload["label_values"]), int(payload["ignore_value"]))
        members = []
        for state in payload["members"]:
            member = JCASModel(config, label_map, int(payload["in_channels"]))
            member.load_state_dict(state)
            members.append(member)
        model = CrossFittedModel(members, str(payload["fold_mode"]),
                                 {str(k): int(v) for k, v in payload["fingerprints"].items()})
        model.trained = [bool(t) for t in payload["trained"]]
        model.interrupted = bool(payload["interrupted"])
        model.selected_epochs = [None if e < 0 else int(e) for e in payload["selected_epochs"]]
        model.trust = [None if t is None else Trust(**t) for t in payload["trust"]]
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
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
