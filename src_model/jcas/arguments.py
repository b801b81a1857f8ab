"""The checks of the values every way in shares: the ``jcas`` command, the Python API and the plugin.

One rule and one message per value: ``jcas train --folds 1.5``, ``Trainer(..., folds=1.5)`` and
``make_config(folds=1.5)`` are refused with the same :class:`~jcas.errors.JCASInputError` text (the
command adds ``argument --folds:`` in front). Importing this module loads neither torch nor Qt nor napari.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from .errors import JCASInputError
from .limits import MAX_FOLDS, Limit

#: Seeds are whole numbers in this range (what every random generator used accepts).
SEED_MAX = 2**32 - 1
#: Local pairs are at most this many pixels apart: a pair offset pads every tile by as much.
MAX_OFFSET = 64
#: At most this many pair offsets.
MAX_OFFSETS = 8

#: ``(lowest, highest)`` of every whole-number training setting, of ``epochs`` (which sets both
#: stages) and of a correction's ``tile``; a :class:`~jcas.limits.Limit` where a run may
#: legitimately need more. The highest values bound what a setting makes a run allocate (network
#: widths, crop and batch sizes, tiles) or repeat.
WHOLE_NUMBER_RANGES: dict[str, tuple[int, int | Limit]] = {
    "seed": (0, SEED_MAX),
    "epochs": (1, 100_000),
    "epochs_warmup": (0, 100_000),
    "epochs_correction": (0, 100_000),
    "folds": (1, MAX_FOLDS),
    "selection_points": (1, 10_000),
    "min_steps": (0, 10**8),
    "batch_size": (1, 1024),
    "crop": (8, 2048),
    "width": (1, 256),
    "embedding_dim": (1, 256),
    "grid": (1, 128),
    "pair_samples": (0, 2**20),
    "tile": (16, 4096),  # the side of the tiles a slice is judged in (jcas.nn.tiles.TILE)
}
#: Whole-number settings that may be None: chosen from the data when the run starts.
CHOSEN_FROM_THE_DATA = frozenset({"folds"})
#: What a setting is, added to its message.
SETTING_HINTS = {"folds": " (1 = no cross-fitting)"}


def is_whole_number(value: Any) -> bool:
    """Whether ``value`` is a Python or numpy integer (``True`` and ``False`` are not numbers here)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real_number(value: Any) -> bool:
    """Whether ``value`` is a finite Python or numpy number (not a bool, not text)."""
    return (is_whole_number(value) or isinstance(value, (float, np.floating))) and math.isfinite(value)


def setting_problem(name: str, value: Any) -> str | None:
    """What is wrong with one training setting (or ``epochs``), or ``None`` when it is fine.

    Returns
    -------
    str or None
        E.g. ``"folds must be at least 1 and at most 16 (1 = no cross-fitting), got 0."``; settings
        without a rule here (text choices, rates, switches) are ``None``.
    """
    if name == "offsets":
        if (not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_OFFSETS
                or not all(is_whole_number(item) and 1 <= item <= MAX_OFFSET for item in value)):
            return (f"offsets must be 1 to {MAX_OFFSETS} whole numbers of pixels from 1 to {MAX_OFFSET}, "
                    f"got {_shown(value)}.")
        return None
    if name not in WHOLE_NUMBER_RANGES or (value is None and name in CHOSEN_FROM_THE_DATA):
        return None
    low, high = WHOLE_NUMBER_RANGES[name]
    top = high.value if isinstance(high, Limit) else high
    hint = SETTING_HINTS.get(name, "")
    if not is_whole_number(value):
        return f"{name} must be a whole number{hint}, got {_shown(value)} ({type(value).__name__})."
    if not low <= value <= top:
        raise_hint = f" {high.how_to_raise(int(value))}" if isinstance(high, Limit) and value > top else ""
        return f"{name} must be at least {low} and at most {top}{hint}, got {int(value)}.{raise_hint}"
    return None


def check_setting(name: str, value: Any) -> None:
    """Raise :class:`JCASInputError` with :func:`setting_problem`'s message when there is one."""
    problem = setting_problem(name, value)
    if problem is not None:
        raise JCASInputError(problem)


def check_settings(values: Mapping[str, Any]) -> None:
    """:func:`check_setting` of every item of ``values`` (setting name to value)."""
    for name, value in values.items():
        check_setting(name, value)


def check_thresholds(min_area: Any, min_score: Any, min_confidence: Any = 0.0) -> None:
    """Refuse a ``min_area`` that is neither ``None`` (a floor relative to the objects) nor a whole number of
    at least 1 pixel, and a ``min_score`` or ``min_confidence`` that is not a number from 0 to 1
    (:class:`JCASInputError`)."""
    if min_area is not None and (not is_whole_number(min_area) or min_area < 1):
        raise JCASInputError(f"min_area is a number of pixels, a whole number of at least 1 (or None: relative to "
                             f"the objects); got {_shown(min_area)}.")
    if not is_real_number(min_score) or not 0.0 <= min_score <= 1.0:
        raise JCASInputError(f"min_score is a mean disagreement between 0 and 1 (e.g. 0.6); got {_shown(min_score)}.")
    if not is_real_number(min_confidence) or not 0.0 <= min_confidence <= 1.0:
        raise JCASInputError(f"min_confidence is a mean probability between 0 and 1 (e.g. 0.6); "
                             f"got {_shown(min_confidence)}.")


def _shown(value: Any) -> str:
    """``repr(value)``, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
