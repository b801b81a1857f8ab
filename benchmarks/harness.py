"""The benchmark harness's shared parts: the registry of sets, methods and noise kinds, row keys,
reading saved rows and runs, and writing tables with where their figures came from.

Every benchmark script imports what it shares from here (and the data sets from ``suite.py``),
never from another script. ``quality.py`` runs the registry's rows; ``tables.py`` regenerates
every committed table from the rows committed beside it.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

from jcas import load_model, make_config, save_model, simulate_noise, train
from jcas.correction.prediction import predict_slice, proposed_labels
from jcas.nn.crossfit import choose_folds
from jcas.data.noise import NOISE_KINDS as SIMULATED_KINDS
from jcas.data.realistic_noise import REALISTIC_KINDS, realistic_noise

import suite

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
#: The shared data root (``mni_tissue``, ``cells3d_nuclei``); ``JCAS_BENCH_DATA`` overrides it.
DATA = Path(os.environ.get("JCAS_BENCH_DATA", HERE.parents[1] / "shared" / "data"))

# ---------------------------------------------------------------------------------------------- registry

#: Sets: the quality grid's short names, and every set of the development suite by its own name
#: (``suite.SETS``, described in ``suite.md``).
DATASETS = {"mni": "mni_tissue", "cells": "cells3d_nuclei", **{name: name for name in suite.SETS}}
#: The sets the defaults were chosen on; every row records it, and rows on the other sets are held out.
TUNED_ON = ("mni_tissue", "cells3d_nuclei")
#: Sets outside TUNED_ON whose results were looked at while a default was chosen, with the default: they no
#: longer count as held out (their rows keep ``held_out_set`` as run; the tables say "seen").
SEEN_WHILE_CHOOSING = {"vlp_tomogram": "the guard's support rule", "mni_hemispheres": "the area floor",
                       "mni_volume": "the folds of a set of few slices",
                       "skin_layers": "the weight average, turned off again"}
#: Noise kinds: simulated (``jcas.data.noise``; the number is the fraction of regions) and realistic
#: (``jcas.data.realistic_noise``; the number is the kind's strength; ``pseudo`` has none: write ``pseudo:0``).
NOISE_KINDS = SIMULATED_KINDS + REALISTIC_KINDS
#: Pseudo-labels: the set whose true masks train the model that labels a set (another source, so the
#: labels carry a domain shift, the "real-world" noise of JCAS's paper).
PSEUDO_SOURCES = {"timelapse_nuclei": "cells3d_nuclei"}

#: Methods: name -> (core method, config overrides). ``clean`` trains on the clean masks; ``cleanlab`` is
#: cross-fitted plain training with ``cleanlab.segmentation`` on top (``quality.run_cleanlab``). The
#: ``jcas_*T`` diagnosis variants change the transition matrices through a training hook (``quality.HOOKS``).
VARIANTS: dict[str, tuple[str, dict]] = {
    "jcas": ("jcas", {}),
    # T_C from the warm-up confusion, no volume term, offsets (1, 3), with DAR
    "jcas_dar": ("jcas_dar", {}),
    # JCAS as first specified: T_C from the VolMinNet start, volume weight 0.01, offsets up to 27 px, DAR
    "jcas_paper": ("jcas_dar", dict(transition_from_warmup=False, weight_volume=0.01, offsets=(1, 3, 9, 27))),
    "ce": ("ce", {}),
    # no mirrors, no rotation, scaling or intensity changes
    "jcas_noaug": ("jcas", dict(augment=False, flips=False)),
    "ce_noaug": ("ce", dict(augment=False, flips=False)),
    # the plain U-Net recipe: cross-entropy, every mirror and transpose, no other augmentation, no weight average
    "plain_unet": ("ce", dict(augment=False, flips=True, average_epochs=0.0)),
    # JCAS's terms on the plain recipe: every mirror and transpose, no other augmentation, no weight average (the
    # default where the masks allow every mirror)
    "jcas_mirrors": ("jcas", dict(augment=False, flips=True, average_epochs=0.0)),
    # the same with a shorter warm-up: 1/4 of the epochs before the corrected stage (half by default)
    "jcas_short_warmup": ("jcas", dict(augment=False, flips=True, epochs_warmup=10, epochs_correction=30,
                                       average_epochs=0.0)),
    # the same, its corrected stage judged by the prediction of the noisy masks (argmax of p T_C)
    "jcas_noisy_select": ("jcas", dict(augment=False, flips=True, select_through_transition=True,
                                       average_epochs=0.0)),
    # JCAS on the plain recipe, judging and keeping a moving average of the weights over about 2 epochs
    "jcas_averaged": ("jcas", dict(augment=False, flips=True, average_epochs=2.0)),
    # the default without the weight average: run while the average was the default (for a while), the default now
    "jcas_unaveraged": ("jcas", dict(average_epochs=0.0)),
    # JCAS with the mirrors the masks allow and every crop augmented (rotation, scaling, intensity)
    "jcas_aug": ("jcas", dict(augment=True)),
    "fc": ("fc", {}),
    "clean": ("ce", dict(average_epochs=0.0)),
    "cleanlab": ("ce", dict(average_epochs=0.0)),
    # ablation, each a config override; "+consistency" (T_C + local affinity + T_A, so the consistency
    # term is on) is "jcas" and "full" is "jcas_dar" (report.ALIASES)
    "+dar": ("ce", dict(use_dar=True)),
    "+aff_global": ("ce", dict(use_affinity=True, affinity="global")),
    "+aff_local": ("ce", dict(use_affinity=True, affinity="local")),
    # diagnosis of the transition matrices: fixed to the true noise matrices (oracle), set from the warm-up
    # model's confusion (warm), the core's warm-up start, no volume term, kept at or learned slower from the start
    "jcas_oracleT": ("jcas_dar", {}),
    "jcas_warmT": ("jcas_dar", {}),
    "jcas_warmcore": ("jcas_dar", dict(transition_from_warmup=True)),
    "jcas_lowvol": ("jcas_dar", dict(weight_volume=0.0, transition_learning_rate=1e-3)),
    "jcas_freezeT": ("jcas_dar", dict(transition_learning_rate=0.0)),
    "jcas_slowT": ("jcas_dar", dict(transition_learning_rate=1e-3)),
    "jcas_fixedT": ("jcas", dict(transition_learning_rate=0.0)),
}

# ---------------------------------------------------------------------------------------------- rows


def row_key(dataset, noise, fraction, method, seed, schedule, base_epochs, folds=None) -> str:
    """A row's file name without ``.json``: ``<set>__<noise>-<fraction>__<method>__s<seed>__x<schedule>__<epochs>``,
    ``std`` for the standard preset's epochs, else ``e<base epochs>``; ``__f<folds>`` when the folds were set."""
    epochs = "std" if base_epochs is None else f"e{base_epochs}"
    fold_tag = "" if folds is None else f"__f{folds}"
    return f"{dataset}__{noise}-{fraction:g}__{method}__s{seed}__x{schedule:g}__{epochs}{fold_tag}"


def parse_key(key: str) -> dict:
    """The dataset, noise kind, fraction, method and seed of a row key (:func:`row_key`)."""
    dataset, noise, method, seed, *_ = key.split("__")
    kind, _, fraction = noise.rpartition("-")
    return {"dataset": dataset, "noise": kind, "fraction": float(fraction), "method": method, "seed": int(seed[1:])}


def parse_noise(spec: str) -> tuple[str, float]:
    """``"kind:fraction"`` -> ``(kind, fraction)``; the fraction is 0.5 when left out."""
    kind, _, fraction = spec.partition(":")
    return kind, float(fraction or 0.5)


def load_rows(folder: Path) -> list[dict]:
    """Every row (``*.json``) of a folder, in file-name order."""
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def load_set(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, H, W)`` or ``(N, H, W, 3)`` and clean masks ``(N, H, W)`` of a set (a :data:`DATASETS` name).

    The set is built into the suite's cache first when missing; the shared sets are read from :data:`DATA`.
    Volumes are split into their slices.
    """
    return suite.load(DATASETS[name], shared=DATA)


def make_noise(dataset: str, kind: str, fraction: float, seed: int, images: np.ndarray,
               clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The noisy masks ``(N, H, W)`` of a row and the map of the pixels they changed.

    ``kind`` is a simulated kind of :data:`jcas.data.noise.NOISE_KINDS` (``fraction`` as in
    :func:`jcas.data.noise.simulate_noise`) or a realistic kind of
    :mod:`jcas.data.realistic_noise`, made from ``images`` ``(N, H, W)`` or ``(N, H, W, 3)``
    and ``clean``, with ``fraction`` as the kind's strength: the blur sigma in pixels for
    ``threshold``, the step between drawn slices for ``sparse`` and ``interpolated`` (e.g.
    ``sparse:5``), the size in px, degrees and percent for ``misregistered``. A set whose
    images are the ordered slices of one volume (``suite.SuiteSet.stack``) is one volume;
    the others are independent images, where slice annotation does not apply (an error).
    ``pseudo`` (``fraction`` unused) labels each image with :func:`pseudo_labeller`.
    """
    if kind in SIMULATED_KINDS:
        return simulate_noise(clean, kind, fraction, seed=seed)
    stack = suite.SETS[DATASETS[dataset]].stack
    if kind == "pseudo":
        return realistic_noise(clean, kind, images, seed=seed, stack=stack, predict=pseudo_labeller(dataset, seed))
    return realistic_noise(clean, kind, images, strength=fraction, seed=seed, stack=stack)


def pseudo_source(dataset: str) -> str:
    """The set whose model makes the pseudo-labels of ``dataset`` (:data:`PSEUDO_SOURCES`), or ValueError."""
    if DATASETS[dataset] not in PSEUDO_SOURCES:
        raise ValueError(f"no source set for pseudo-labels of {dataset}: harness.PSEUDO_SOURCES names one for "
                         f"{', '.join(PSEUDO_SOURCES)} only")
    return PSEUDO_SOURCES[DATASETS[dataset]]


def pseudo_labeller(dataset: str, seed: int):
    """``predict(image) -> (H, W) labels``: the argmax of the plain recipe (cross-entropy, every mirror, the standard
    preset, ``seed``) trained on the true masks of the set's source (:func:`pseudo_source`); each image is new to it,
    so the fold models' ensemble labels it. The model is trained once and kept in the suite's cache."""
    source = pseudo_source(dataset)
    path = suite.CACHE / "pseudo_labellers" / f"{source}__s{seed}.pt"
    if not path.exists():
        images, masks = suite.load(source, shared=DATA)
        path.parent.mkdir(parents=True, exist_ok=True)
        core, overrides = VARIANTS["plain_unet"]
        save_model(train(list(images), list(masks), config=make_config(core, "standard", seed=seed, **overrides)), path)
    model = load_model(path)

    def predict(image: np.ndarray) -> np.ndarray:
        blank = np.zeros(image.shape[:2], dtype=np.int64)  # nothing drawn: the drawn labels play no part in the argmax
        return proposed_labels(model.label_map, predict_slice(model, image, blank), blank)

    return predict


#: The product's recipe at the core's defaults: JCAS with the mirrors the masks allow and no crop augmentation
#: ("jcas" since augmentation was turned off; "jcas_mirrors" where the masks allow every mirror), default folds.
PRODUCT_METHODS = ("jcas", "jcas_mirrors", "jcas_unaveraged")


def default_folds(dataset: str) -> int:
    """The folds ``jcas train`` chooses for a set (:func:`jcas.nn.crossfit.choose_folds`), from the sizes the suite's
    registry declares."""
    declared = suite.SETS[DATASETS[dataset]]
    if declared.stack and len(declared.shape) == 3:  # one volume: (Z, H, W)
        return choose_folds([declared.shape[1:]] * declared.shape[0])
    return choose_folds([declared.shape] * declared.count)


def is_product(row: dict) -> bool:
    """Whether a row ran the product's recipe at the core's defaults (:data:`PRODUCT_METHODS`, no crop augmentation,
    no weight average, the folds the core chooses for its set)."""
    config = row.get("config", {})
    return (row["method"] in PRODUCT_METHODS and not config.get("augment", False)
            and not config.get("average_epochs", 0) and row.get("folds") == default_folds(row["dataset"]))


def saved_runs(models: Path, methods) -> list[Path]:
    """The models ``quality.py --save-models DIR`` kept in ``models`` (``<row key>.pt``) of these methods."""
    return [path for path in sorted(models.glob("*.pt")) if parse_key(path.stem)["method"] in methods]


# ---------------------------------------------------------------------------------------------- shared measures


def region_is_right(region, region_map: np.ndarray, clean: np.ndarray) -> bool:
    """The proposal matches the truth ``clean`` ``(H, W)`` on more of the region's pixels than the drawn mask does."""
    truth = clean[region_map == region.index]
    return int((truth == region.new_label).sum()) > int((truth == region.old_label).sum())


def posterior_wrong(probability: np.ndarray, transition: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(H, W)`` 1 - P(clean = drawn | drawn, x) = 1 - p_y T_yy / sum_i p_i T_iy from ``(K, H, W)`` probabilities,
    the ``(K, K)`` T_C and the ``(H, W)`` drawn class indices."""
    joint = probability * transition[:, labels]  # (K, H, W): p_i T[i, y]
    drawn = np.take_along_axis(joint, labels[None], axis=0)[0]
    return 1 - drawn / joint.sum(axis=0).clip(min=1e-12)


def train_steps(trainer, steps: int) -> None:
    """Run a :class:`jcas.Trainer` until it has taken ``steps`` optimiser steps (a short training whose model
    is there to be measured, not to be good)."""
    for event in trainer.run():
        if event.global_step >= steps:
            break


# ---------------------------------------------------------------------------------------------- provenance


def git_commit() -> str:
    """Short hash of the checked-out commit; ``JCAS_BENCH_COMMIT`` where the copy has no git history."""
    if os.environ.get("JCAS_BENCH_COMMIT"):
        return os.environ["JCAS_BENCH_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                              text=True, check=True).stdout.strip()
    except Exception:  # noqa: BLE001  not a git checkout, or no git
        return "unknown"


def machine() -> str:
    """Processor and CPU count, plus the GPU's name where CUDA is present (e.g. ``x86_64/2 cpus``)."""
    import torch

    text = f"{platform.processor() or platform.machine()}/{os.cpu_count()} cpus"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name(0)}"
    return text


def save_provenance(path: Path, **extra) -> None:
    """Write ``<path>.provenance.json`` beside a measured file: the commit, the machine and ``extra`` (the
    settings a table states that its rows do not hold). :func:`load_provenance` reads it back."""
    record = {"commit": git_commit(), "machine": machine(), **extra}
    provenance_path(path).write_text(json.dumps(record, indent=1) + "\n")


def load_provenance(path: Path) -> dict:
    """The record :func:`save_provenance` wrote beside ``path``."""
    return json.loads(provenance_path(path).read_text())


def load_run(path: Path) -> tuple[list[dict], dict]:
    """The rows of a measured JSON file and the provenance record beside it."""
    return json.loads(path.read_text()), load_provenance(path)


def provenance_path(path: Path) -> Path:
    """``<folder>/<name>.provenance.json`` for ``<folder>/<name>.<suffix>``."""
    return path.with_name(f"{path.stem}.provenance.json")


# ---------------------------------------------------------------------------------------------- tables


def mean_std(values, digits: int = 3, count: str = "n=") -> str:
    """Mean ± sample standard deviation and the count, e.g. ``0.853 ± 0.020 (n=3)``; '–' when empty."""
    values = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f} ({count}1)"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f} ({count}{len(values)})"


def write_lines(path: Path, lines: list[str]) -> Path:
    """Write a markdown report, one line per item and a final newline; return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
