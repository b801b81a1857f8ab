"""Checks of what a model file and a network hand back: checkpoint fields, weights and outputs.

A checkpoint is a user's file like any other: a field of the wrong type or out of range
must give a clear :class:`~jcas.errors.JCASInputError`, not a traceback from deep inside
torch; NaN weights or NaN network outputs must stop a run instead of turning every
heatmap into NaN (every comparison with NaN is false, so every candidate region would
pass the thresholds).
"""
from __future__ import annotations

import os
from dataclasses import MISSING, fields
from typing import Any

import numpy as np

from ..arguments import is_real_number, setting_problem
from ..data.labels import MAX_LABEL_VALUE
from ..errors import JCASInputError, JCASNonFiniteError
from ..limits import MAX_CLASSES, MAX_FOLDS
from ..settings import METHODS, NETWORKS, RETIRED_SETTINGS, TrainConfig
from .crossfit import Trust

#: The marker of a napari-jcas model file.
FORMAT = "napari-jcas-model"
#: 2: cross-fitted fold models with BatchNorm networks (1: one model with GroupNorm, no longer read).
FORMAT_VERSION = 2

#: Image channels a model can be trained on: greyscale or RGB.
CHANNELS = (1, 3)
#: How the fold models of a file judge slices (:class:`jcas.nn.crossfit.FoldPlan`).
FOLD_MODES = ("slices", "strips", "in-sample")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validate_checkpoint_fields(payload: dict, path: str | os.PathLike = "the model file") -> None:
    """Raise :class:`JCASInputError` unless the fields of a loaded checkpoint are sound.

    Checks, before any network is built: ``format_version`` (an integer this version can
    read), ``config`` (every setting of the right type and within its range,
    :func:`jcas.arguments.setting_problem`, the network and method known), ``label_values``
    (two or more distinct label values, ascending, from 0 to :data:`MAX_LABEL_VALUE`),
    ``ignore_value`` (in that range too), ``in_channels`` (1 or 3), the weights (``members``,
    one state dict per fold model, at most :data:`jcas.limits.MAX_FOLDS`, or a single
    ``state_dict``: tensors, all finite) and what each fold model saw and kept
    (``fold_mode``, ``fingerprints`` naming existing fold models, one ``trained``,
    ``selected_epochs`` and ``trust`` entry per fold model). Keys it does not know are left alone.

    Parameters
    ----------
    payload : dict
        What ``torch.load(path, weights_only=True)`` returned for a file that carries the
        napari-jcas marker.
    path : path-like
        The file, for the messages.

    Raises
    ------
    JCASInputError
        Naming the field, its value and what to do; :class:`JCASNonFiniteError` for NaN or
        infinite weights.
    """

    def bad(field: str, value: Any, expected: str) -> JCASInputError:
        return _bad_field(path, field, value, expected)

    check_format_version(payload, path)
    config = payload.get("config")
    if not isinstance(config, dict):
        raise bad("config", config, "a dictionary of training settings")
    known = {field.name: field for field in fields(TrainConfig)}
    config = {name: value for name, value in config.items() if name not in RETIRED_SETTINGS}
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise JCASInputError(f"{path}: the model file has training settings this version does not know "
                             f"({', '.join(map(str, unknown))}); update napari-jcas or train a new model.")
    for name, value in config.items():
        default = known[name].default
        if default is MISSING or default is None:
            continue
        if isinstance(default, bool):
            fits = isinstance(value, (bool, np.bool_))
        elif isinstance(default, int):
            fits = _is_int(value)
        elif isinstance(default, float):
            fits = (_is_int(value) or isinstance(value, (float, np.floating))) and np.isfinite(value)
        elif isinstance(default, str):  # a setting of text, or of text or a switch ("bool | str": flips)
            fits = isinstance(value, str) or ("bool" in str(known[name].type) and isinstance(value, (bool, np.bool_)))
        elif isinstance(default, tuple):
            fits = isinstance(value, (list, tuple)) and all(_is_int(item) and item > 0 for item in value)
        else:
            fits = True
        if not fits:
            raise bad(f"setting {name!r}", value, f"a {type(default).__name__} like {default!r}")
    network = config.get("network", known["network"].default)
    if network not in NETWORKS:
        raise bad("network", network, f"one of {', '.join(NETWORKS)}")
    method = config.get("method", known["method"].default)
    if method not in METHODS:
        raise bad("method", method, f"one of {', '.join(METHODS)}")
    for name, value in config.items():
        problem = setting_problem(name, value)
        if problem is not None:
            raise bad(f"setting {name!r}", value, f"a value within its range ({problem})")
    if config.get("affinity", "local") not in ("local", "global"):
        raise bad("setting 'affinity'", config["affinity"], "'local' or 'global'")
    values = payload.get("label_values")
    if (not isinstance(values, (list, tuple)) or len(values) < 2
            or not all(_is_int(v) and 0 <= v <= MAX_LABEL_VALUE for v in values) or len(set(values)) != len(values)):
        raise bad("label_values", values, f"a list of two or more different label values (whole numbers from 0 to "
                                          f"{MAX_LABEL_VALUE})")
    MAX_CLASSES.check(len(values), f"{path}: the model file", verb="holds")
    if list(values) != sorted(values):
        raise bad("label_values", values, "the label values in ascending order, as napari-jcas writes them (the "
                                          "order names the network's classes, so it cannot be guessed)")
    ignore_value = payload.get("ignore_value")
    if not _is_int(ignore_value) or not 0 <= ignore_value <= MAX_LABEL_VALUE:
        raise bad("ignore_value", ignore_value, f"a whole number from 0 to {MAX_LABEL_VALUE}, such as 255")
    if payload.get("in_channels") not in CHANNELS or not _is_int(payload.get("in_channels")):
        raise bad("in_channels", payload.get("in_channels"), "1 (greyscale) or 3 (RGB)")
    if "members" in payload:
        members = payload["members"]
        if not isinstance(members, (list, tuple)) or not members:
            raise bad("members", type(members).__name__, "a list of the fold models' weights")
        MAX_FOLDS.check(len(members), f"{path}: the model file", verb="holds")
        for index, weights in enumerate(members):
            if not isinstance(weights, dict) or not weights:
                raise bad(f"members[{index}]", type(weights).__name__, "the fold model's weights")
            check_finite_weights(weights, path)
        _check_fold_records(payload, len(members), len(values), bad)
    else:
        weights = payload.get("state_dict")
        if not isinstance(weights, dict) or not weights:
            raise bad("state_dict", type(weights).__name__, "the network's weights")
        check_finite_weights(weights, path)


def _bad_field(path: str | os.PathLike, field: str, value: Any, expected: str) -> JCASInputError:
    """The error of a model-file field that is not what it should be."""
    return JCASInputError(f"{path}: the model file's {field} is {_describe(value)}, expected {expected}; the file "
                          "is damaged or was edited. Train a new model or pick another file.")


def check_format_version(payload: dict, path: str | os.PathLike = "the model file") -> int:
    """The ``format_version`` of a loaded checkpoint; :class:`JCASInputError` when it is not a whole number
    or is newer than this version reads."""
    version = payload.get("format_version", 0)
    if not _is_int(version) or version < 0:
        raise _bad_field(path, "format_version", version, "a whole number")
    if version > FORMAT_VERSION:
        raise JCASInputError(f"{path} was written by a newer napari-jcas ({payload.get('package_version')}); "
                             "update napari-jcas to read it.")
    return int(version)


def _is_agreement_counts(entry: Any, classes: int) -> bool:
    """Whether ``entry`` is ``None`` or a fold model's agreement counts over ``classes`` classes, as
    :meth:`jcas.nn.crossfit.Trust.to_dict` writes them."""
    if entry is None:
        return True
    if not isinstance(entry, dict) or not set(entry) <= {field.name for field in fields(Trust)}:
        return False
    counts = [entry.get(name, []) for name in ("intersections", "predicted", "drawn")]
    return (all(isinstance(per_class, (list, tuple)) and len(per_class) in (0, classes)
                and all(is_real_number(count) and count >= 0 for count in per_class) for per_class in counts)
            and isinstance(entry.get("held_out", True), (bool, np.bool_)))


def _check_fold_records(payload: dict, folds: int, classes: int, bad) -> None:
    """Raise ``bad(field, value, expected)`` unless a file's records of its ``folds`` fold models (of
    ``classes`` classes) fit them."""
    mode = payload.get("fold_mode", FOLD_MODES[0])
    if mode not in FOLD_MODES:
        raise bad("fold_mode", mode, f"one of {', '.join(FOLD_MODES)}")
    fingerprints = payload.get("fingerprints", {})
    if not isinstance(fingerprints, dict) or not all(
            isinstance(key, str) and _is_int(fold) and 0 <= fold < folds for key, fold in fingerprints.items()):
        raise bad("fingerprints", fingerprints, f"slice fingerprints each naming one of its {folds} fold models "
                                                f"(0 to {folds - 1})")
    for field, fits, expected in (
            ("trained", lambda item: isinstance(item, (bool, np.bool_)), "true or false"),
            ("selected_epochs", _is_int, "a whole number (-1: none)"),
            ("trust", lambda item: _is_agreement_counts(item, classes),
             f"null or the agreement counts of {classes} classes (intersections, predicted, drawn, held_out)")):
        if field not in payload:
            continue  # load_checkpoint names a missing field
        records = payload[field]
        if not isinstance(records, (list, tuple)) or len(records) != folds or not all(map(fits, records)):
            raise bad(field, records, f"a list of {folds} entries, one per fold model, each {expected}")
    if not isinstance(payload.get("interrupted", False), (bool, np.bool_)):
        raise bad("interrupted", payload.get("interrupted"), "true or false")


def check_finite_weights(weights: Any, path: str | os.PathLike = "the model") -> None:
    """Raise :class:`JCASNonFiniteError` when any floating-point weight is NaN or infinite.

    Parameters
    ----------
    weights : dict of str to torch.Tensor, or torch.nn.Module
        A state dict, or a model (its ``state_dict()`` is checked).
    path : path-like
        Where the weights came from, for the message.
    """
    import torch

    if isinstance(weights, torch.nn.Module):
        weights = weights.state_dict()
    broken = [name for name, tensor in weights.items()
              if not isinstance(tensor, torch.Tensor)
              or (tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()))]
    if broken:
        shown = ", ".join(broken[:3]) + (", ..." if len(broken) > 3 else "")
        raise JCASNonFiniteError(f"{path}: {len(broken)} of the model's weight tensors hold NaN or infinite numbers "
                                 f"or are not tensors ({shown}); the training that wrote it diverged or the file is "
                                 "damaged. Train a new model (e.g. with a lower learning rate).")


def check_model(model: Any, path: str | os.PathLike = "the model") -> None:
    """Raise :class:`JCASInputError` unless a loaded model can be used for correction.

    Checks the image channels it expects (1 or 3) and that its weights are finite.
    """
    if getattr(model, "in_channels", None) not in CHANNELS:
        raise JCASInputError(f"{path}: the model expects {getattr(model, 'in_channels', None)!r} image channels; "
                             "only 1 (greyscale) and 3 (RGB) are possible. The file is damaged or was edited.")
    check_finite_weights(model, path)


def check_finite_output(values: Any, what: str = "the model's output") -> None:
    """Raise :class:`JCASNonFiniteError` when ``values`` hold NaN or infinite numbers.

    Parameters
    ----------
    values : torch.Tensor or numpy.ndarray
        Network outputs (logits, probabilities) or the heatmaps computed from them.
    what : str
        What they are, for the message.
    """
    try:
        import torch

        if isinstance(values, torch.Tensor):
            finite = bool(torch.isfinite(values).all())
        else:
            finite = bool(np.all(np.isfinite(values)))
    except TypeError:
        finite = True  # not numbers at all: nothing to say here
    if not finite:
        raise JCASNonFiniteError(
            f"{what} holds NaN or infinite numbers, so no result can be trusted and the run was stopped. The model "
            "may be broken (a diverged training: train again, e.g. with a lower learning rate) or the image may "
            "hold extreme values (rescale it)."
        )
