"""Checkpoints: one file with weights, settings, label values and the package version.

Loading never executes code from the file (``torch.load(..., weights_only=True)``).
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import torch

from .. import __version__
from ..data.io import write_bytes_atomic
from ..data.labels import LabelMap
from ..device import select_device
from ..errors import JCASInputError
from ..limits import MAX_MODEL_MB
from ..settings import TrainConfig
from .crossfit import CrossFittedModel, Trust, as_cross_fitted
from .integrity import FORMAT, FORMAT_VERSION, check_format_version, check_model, validate_checkpoint_fields
from .model import JCASModel

NORMALISATION = "per-slice percentiles 1-99 to [0, 1]"


def save_checkpoint(model: CrossFittedModel, path: str | Path, overwrite: bool = True) -> Path:
    """Write ``model`` (its fold models, their slices and trust) to ``path`` atomically.

    Refuses an existing file unless ``overwrite``. A lone :class:`JCASModel` is saved as a
    one-member in-sample model.
    """
    check_model_path(path, "save_checkpoint(model, 'model.pt')")
    if not isinstance(model, (CrossFittedModel, JCASModel)):
        raise JCASInputError(f"save_checkpoint saves a trained model (trainer.model), not a {type(model).__name__}.")
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

    Parameters
    ----------
    path : str or path-like
        The model file.
    device : {"auto", "cuda", "mps", "cpu"}

    Raises
    ------
    JCASInputError
        A path that is not a path, missing, corrupt or foreign files, files larger than
        :data:`jcas.limits.MAX_MODEL_MB` (or that unpack to more), files of another format
        version, files whose weights do not fit their settings, and models that expect other than
        1 or 3 image channels or hold weights that are not finite
        (:func:`jcas.nn.integrity.check_model`). This is the one way in for every client.
    """
    check_model_path(path, "load_checkpoint('model.pt')")
    path = Path(path)
    if path.is_dir():
        raise JCASInputError(f"{path} is a folder, not a model file; give the model file (e.g. {path / 'model.pt'}).")
    if path.exists() and not path.is_file():
        raise JCASInputError(f"{path} is not a regular file (a pipe, socket or device), which could be read without "
                             "end; give the model file.")
    if not path.is_file():
        raise JCASInputError(f"model file {path} does not exist.")
    check_model_file_size(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise JCASInputError(
            f"{path} is not a readable napari-jcas model ({type(error).__name__}); "
            "the file may be truncated or of another kind. Train a new model or pick another file."
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise JCASInputError(f"{path} is not a napari-jcas model file (no '{FORMAT}' marker).")
    if check_format_version(payload, path) < FORMAT_VERSION:
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
    except Exception as error:  # the fields passed their checks, yet the model cannot be built from them
        raise JCASInputError(f"{path} cannot be loaded as a napari-jcas model ({type(error).__name__}: {error}); "
                             "the file is damaged or was edited. Train a new model or pick another file.") from error
    check_model(model, path)
    return model.to(select_device(device)).eval()


def check_model_path(path: object, usage: str) -> None:
    """Raise :class:`JCASInputError` unless ``path`` is a path (a str or path-like); ``usage`` is the call
    it was given to, as it should be written (``"load_checkpoint('model.pt')"``)."""
    if not isinstance(path, (str, os.PathLike)):
        raise JCASInputError(f"{usage.split('(')[0]} takes the path of a model file (a str or pathlib.Path), not a "
                             f"{type(path).__name__}; e.g. {usage}.")


def check_model_file_size(path: Path) -> None:
    """Raise :class:`JCASInputError` when the file, or what its zip archive unpacks to, is larger than
    :data:`jcas.limits.MAX_MODEL_MB`, or when the archive is compressed: checked from the file's size and
    its zip directory, before anything is unpacked.

    torch stores the weights uncompressed, so a model file unpacks to about its own size; a small file
    that declares far more (a compressed tensor of gigabytes) is not one.
    """
    size = path.stat().st_size
    unpacked = size
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                unpacked = sum(entry.file_size for entry in archive.infolist())
        except (zipfile.BadZipFile, OSError, ValueError):
            pass  # torch.load says what is wrong with it
    if unpacked > 2 * size + 2**20:
        raise JCASInputError(f"{path} declares {unpacked} bytes of contents compressed into {size}; torch never "
                             "compresses a model file, so this is not a napari-jcas model. Pick another file.")
    MAX_MODEL_MB.check(-(-max(size, unpacked) // 2**20), str(path), verb="holds",
                       why=" It is not a napari-jcas model, or a very large one.")


def check_channels(model: JCASModel, channels: int) -> None:
    """Raise :class:`JCASInputError` when images have other channels than the model was trained on."""
    if channels != model.in_channels:
        kinds = {1: "greyscale", 3: "RGB"}
        raise JCASInputError(
            f"the model was trained on {kinds[model.in_channels]} images, these are {kinds[channels]}; "
            "train a model on images like these."
        )
