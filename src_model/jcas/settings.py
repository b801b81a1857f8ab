"""The settings registry: methods and their help, presets, the training settings (every weight of
the objective) and the correction defaults (the plugin's own settings are in ``napari_jcas._settings``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

from .arguments import check_settings
from .errors import JCASInputError

#: The segmentation networks (:mod:`jcas.nn.networks`).
NETWORKS = ("unet", "deeplab")
#: Normalisation of the convolution blocks: "batch" (default) or "group", kept for comparison only.
NORMS = ("batch", "group")
#: Offsets (pixels) of the local pairs, along rows and along columns. Near pairs are the clean
#: ones under structured noise; adding 9 and 27 cost 0.025 cleaned Dice on the MRI benchmark
#: (docs/method.md).
DEFAULT_OFFSETS = (1, 3)

#: What each method switches on: DAR, the affinity loss, the class transition T_C and the
#: affinity transition T_A (with the consistency term when both are on).
#: DAR is off in "jcas" and on in "jcas_dar": with it, cleaning fell at longer schedules (docs/method.md).
METHODS = {
    "jcas": dict(use_dar=False, use_affinity=True, use_class_transition=True, use_affinity_transition=True),
    "jcas_dar": dict(use_dar=True, use_affinity=True, use_class_transition=True, use_affinity_transition=True),
    "ce": dict(use_dar=False, use_affinity=False, use_class_transition=False, use_affinity_transition=False),
    "fc": dict(use_dar=False, use_affinity=False, use_class_transition=True, use_affinity_transition=False),
}

#: Each method's name for people, and what it does (the Train dock's list and ``jcas train --help``).
METHOD_LABELS = {"jcas": "JCAS", "jcas_dar": "JCAS with DAR", "ce": "plain (cross-entropy)",
                 "fc": "forward correction"}
METHOD_HELP = {"jcas": "the affinity loss and both transition matrices, tied by the consistency term (default)",
               "jcas_dar": "JCAS with DAR rectification of the class prediction",
               "ce": "plain cross-entropy on the noisy masks, the baseline",
               "fc": "forward correction with the class transition T_C only"}
#: The schedule of a first look: the Train dock's and the demo's preset (the command line's is "standard").
QUICK_PRESET = "fast"
#: Pixels are 8-connected in 2D: in candidate regions, and in the regions the noise simulator redraws.
CONNECTIVITY = ((True, True, True), (True, True, True), (True, True, True))
#: Region-level selective correction (docs/method.md): candidate regions smaller than their area
#: floor, with a mean disagreement below MIN_SCORE or a mean probability of the proposed label
#: below MIN_CONFIDENCE keep the drawn labels. The area floor is relative to the objects
#: (MIN_AREA None): MIN_AREA_FRACTION of the typical object (area-weighted median connected
#: component) of the smaller class a region touches, measured over the masks the model trained on
#: and kept in the model (:func:`jcas.correction.regions.relative_floors`), at least MIN_AREA_LOWEST
#: pixels; a number of pixels only when a user asks for one (``--min-area``). The fraction and the
#: confidence floor were chosen by the rule of ``benchmarks/recipe.py`` (``floor_choice``; recipe.md,
#: "Area and confidence floors") on the tuning sets' rows, scored with the guard's support rule:
#: mni_tissue and cells3d_nuclei under mixed noise (seeds 0-2), cells3d_nuclei thresholded, mni_tissue
#: misregistered and drawn every 5th slice (seed 0). Among relative floors (fractions above 0), no
#: setting may lose more than 0.005 Dice, each must keep 70 % of its regions right, and the best mean
#: gain wins: 0.01 of the typical object at a confidence of 0.6 (+0.055 on average). With the support
#: rule, small candidates are no longer mostly wrong: the lower floor raised mni_tissue from 0.878 to
#: 0.896 (80 % right) and the misregistered brain from 0.825 to 0.864, where the errors are slivers
#: along every boundary. mni_hemispheres's figures at these floors were seen before the rule took its
#: final form (0.876 against 0.862 at 0.05): it no longer counts as held out for them. At 0.01 the
#: floor is MIN_AREA_LOWEST on most sets of the suite. The confidence floor was adopted after a
#: held-out harm (the MNI volume, where the score alone let wrong 3-class regions through).
#: MIN_SCORE 0.6 is older.
MIN_AREA = None
MIN_AREA_FRACTION = 0.01
MIN_AREA_LOWEST = 16
MIN_SCORE = 0.6
MIN_CONFIDENCE = 0.6
#: Folds chosen from the data (``TrainConfig.folds`` None; :func:`jcas.nn.crossfit.choose_folds`): 2, unless that
#: leaves each fold model fewer than FOLD_LEAST_SLICES slices to learn from; then the fewest, up to MAX_AUTO_FOLDS,
#: that give it that many (MAX_AUTO_FOLDS where none does), as long as they cost no more than two folds on
#: FOLD_BUDGET_PIXELS, the cost target's 60 slices of 200 x 200 (a standard run there within 5 minutes on 2 CPU
#: cores). The tuning sets (62 and 33 slices) keep 2, where 3 gained nothing on cells3d_nuclei (0.973 against 0.975,
#: seed 0). Measured with 4 folds against 2 (seed 0): the shipped 8-slice sample (``jcas demo``) 0.671 -> 0.856
#: against 0.699 (noise seed 1: 0.934 against 0.859), the 14-slice tomogram 0.842 -> 0.858 against 0.843, but the
#: 78-slice MNI volume 0.787 -> 0.796 against 0.838: more folds helped where each fold model had 4 or 7 slices, and
#: cost Dice where it had 39. FOLD_LEAST_SLICES lies between those and was set after the volume's rows were seen
#: (it no longer counts as held out); the budget follows the cost target; the cap of 4 is a guess.
FOLD_BUDGET_PIXELS = 60 * 200 * 200
FOLD_LEAST_SLICES = 12
MAX_AUTO_FOLDS = 4
#: Test-time mirroring (off by default): average the class probabilities over the image and its mirror images.
MIRROR = False
#: The boundary view (:mod:`jcas.correction.boundary`): the model sees a boundary at a pixel whose
#: largest ``1 - A_ij`` over its 4 nearest neighbours is at least BOUNDARY_THRESHOLD, and two
#: boundaries within BOUNDARY_TOLERANCE px of each other count as one (the tolerance of the
#: benchmark's boundary F1). The threshold has the best mean boundary F1 on the tuning sets
#: (mni_tissue, cells3d_nuclei; benchmarks/boundary.py): a JCAS model's nearest-neighbour
#: affinities rarely fall below 0.7 even across a boundary, so 0.5 would show almost nothing.
#: The best threshold of a held-out set ranged from 0.08 to 0.9: a guess for other data.
BOUNDARY_THRESHOLD = 0.12
BOUNDARY_TOLERANCE = 2.0
#: What the selection settings do: ``jcas correct --help`` adds the defaults, the Train dock's
#: tooltips add that a change re-selects at once.
SELECTION_HELP = {
    "min_area": "smaller candidate regions keep the drawn label (pixels; default: a hundredth of the typical object "
                "of the smaller class a region touches); 1 (with min. score and confidence 0) proposes every pixel "
                "the model disagrees with, the setting for speckle (per-pixel) noise",
    "min_score": "candidate regions with a lower mean disagreement keep the drawn label",
    "min_confidence": "candidate regions where the model's mean probability of the label it proposes is lower keep "
                      "the drawn label",
    "mirror": "average the model over each image and its mirror images: about 2.5x slower correction, slightly "
              "better proposals and heatmap",
}
#: Training from files keeps the slices it read last in memory up to this many MiB
#: (:class:`jcas.data.stream.SliceStore`; ``jcas train --cache-mb``); beyond it, slices are read
#: from disk again. Sets smaller than this are read once.
SLICE_CACHE_MB = 1024


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (stored in every checkpoint).

    Epochs are passes over the data: an epoch draws as many random crops as cover the
    training slices' pixels once, so a large set is not cut short; a set so small that this
    gives fewer than ``min_steps`` steps per fold model gets longer epochs (several passes),
    and held-out selection keeps such a model from memorising the noise. Methods with a transition matrix train
    ``epochs_warmup`` epochs without correction, then ``epochs_correction`` with it; the
    plain baseline trains the sum of both.

    Cross-fitting: with ``folds`` K > 1 the slices are dealt to K folds in turn (or, with
    fewer than K slices, every slice is cut into strips; :func:`jcas.nn.crossfit.plan_folds`);
    fold model k trains on the other folds and alone proposes, scores and draws the heatmap
    for fold k's slices, so no slice is judged by a model that was fitted to its own mask. Each
    fold model is evaluated on its held-out slices ``selection_points`` times over its run, and the weights that agreed best
    with the held-out noisy masks are kept (no clean label is needed).
    """

    method: str = "jcas"
    preset: str = "standard"
    network: str = "unet"
    width: int = 16
    norm: str = "batch"  # "group" only for comparison: its per-frame statistics made predictions frame-dependent
    embedding_dim: int = 16
    use_dar: bool = False
    use_affinity: bool = True
    use_class_transition: bool = True
    use_affinity_transition: bool = True
    affinity: str = "local"  # "local" pairs at offsets, or "global" pairs on a grid
    offsets: tuple[int, ...] = DEFAULT_OFFSETS
    grid: int = 32
    pair_samples: int = 0  # global affinity only: random pairs per image; 0 = exact full grid
    epochs_warmup: int = 20
    epochs_correction: int = 20
    batch_size: int = 8
    crop: int = 128
    min_steps: int = 200  # fewest optimisation steps per fold model (a guess; docs/method.md)
    folds: int | None = None  # None: chosen from the data (jcas.nn.crossfit.choose_folds; FOLD_LEAST_SLICES)
    selection_points: int = 8  # held-out evaluations per fold model; the best one is kept
    # judge the corrected stage's weights by their prediction of the noisy mask (p T_C) rather than the clean one:
    # a clean prediction disagrees with held-out masks wherever the noise is systematic. Off: on the tuning sets it
    # changed nothing (mixed noise, seeds 0-2: mni_tissue -0.000 +- 0.001, cells3d_nuclei 0.000; docs/benchmarks.md)
    select_through_transition: bool = False
    # judge and keep a moving average of the network's weights over about this many epochs (0: the weights as
    # trained); it smooths the swings that noisy labels cause between steps. Off: 2 against 0 on the tuning sets
    # (mixed noise, seeds 0-2, benchmarks/results/recipe/recipe.md) lifted mni_tissue's argmax (+0.005 +- 0.004)
    # but not its default (+0.002 +- 0.008) nor the nuclei (-0.000), and `jcas demo` (fast preset) fell from
    # 0.862 to 0.726 with it (docs/benchmarks.md).
    average_epochs: float = 0.0
    # random mirror flips and transposes: "auto" = those that keep every class itself on the noisy masks
    # (jcas.training.augment.allowed_mirrors: a left hemisphere mirrored is a right one), True = all, False = none
    flips: bool | str = "auto"
    # small rotations and scalings, contrast, gamma, noise and blur of every crop. Off: at the standard schedule it
    # cost Dice on both tuning sets, seed 0 (the model's argmax, JCAS: mni_tissue 0.888 with it, 0.896 without;
    # cells3d_nuclei 0.954, 0.963; plain cross-entropy on mni_tissue 0.876 with it, 0.903 without;
    # benchmarks/results/recipe/recipe.md). Not measured on held-out data: a guess there.
    augment: bool = False
    learning_rate: float = 2e-3
    transition_learning_rate: float = 1e-2
    weight_decay: float = 1e-4
    transition_init: float = -2.0
    transition_from_warmup: bool = True  # start T_C at the warm-up model's confusion with the noisy labels
    weight_aux: float = 0.1
    weight_affinity: float = 1.0
    weight_volume: float = 0.0  # T starts from the warm-up confusion; see docs/method.md
    weight_consistency: float = 0.01
    seed: int = 0

    @property
    def total_epochs(self) -> int:
        """Epochs of both stages together."""
        return self.epochs_warmup + self.epochs_correction

    @property
    def uses_correction(self) -> bool:
        """Whether a second, loss-corrected stage follows the warm-up."""
        return self.use_class_transition or self.use_affinity_transition

    def to_dict(self) -> dict:
        """Plain dictionary (for checkpoints and logs)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys are rejected.

        Keys of :data:`RETIRED_SETTINGS`, which model files written before still hold, are dropped.
        """
        values = {key: value for key, value in values.items() if key not in RETIRED_SETTINGS}
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise JCASInputError(f"unknown training settings {sorted(unknown)}")
        if "offsets" in values:
            values["offsets"] = tuple(values["offsets"])
        return cls(**values)


def check_config(config: Any) -> None:
    """Raise :class:`JCASInputError` unless ``config`` is a :class:`jcas.settings.TrainConfig` with sound settings.

    A dictionary, a model or anything else is refused with what to pass instead.
    """
    if not isinstance(config, TrainConfig):
        if isinstance(config, Mapping):
            fix = "build one with jcas.settings.make_config(method, preset, **settings) or TrainConfig.from_dict(...)"
        elif hasattr(config, "config"):
            fix = "pass model.config, or init_model=model to fine-tune the model"
        else:
            fix = "build one with jcas.settings.make_config(method, preset, **settings)"
        raise JCASInputError(f"config is a {type(config).__name__}, not a TrainConfig; {fix}.")
    settings = config.to_dict()
    check_settings(settings)
    if config.total_epochs < 1:
        raise JCASInputError(f"epochs_warmup + epochs_correction must be at least 1, got {config.total_epochs}.")


#: Settings that model files written by earlier versions hold and this one drops when it reads them:
#: the device, a runtime choice now (``Trainer(device=...)``, ``--device``).
RETIRED_SETTINGS = frozenset({"device"})
#: Fields that shape the network's weights: a saved model can only continue with the same ones.
NETWORK_FIELDS = frozenset({"method", "network", "width", "norm", "embedding_dim", "use_dar", "use_affinity",
                            "use_class_transition", "use_affinity_transition", "affinity", "offsets", "grid"})

PRESETS = {
    "fast": TrainConfig(preset="fast", epochs_warmup=6, epochs_correction=6, crop=96, min_steps=100),
    "standard": TrainConfig(preset="standard"),
    # 3x the standard schedule; held-out selection keeps it from doing worse (docs/method.md)
    "long": TrainConfig(preset="long", epochs_warmup=60, epochs_correction=60),
}


#: The preset whose schedule a fine-tune uses unless told otherwise: a short one (6 + 6 epochs), a guess.
FINE_TUNE_PRESET = QUICK_PRESET
#: What a preset sets; a fine-tune takes these from its preset and everything else from the model it continues.
SCHEDULE_FIELDS = ("preset", "epochs_warmup", "epochs_correction", "crop", "min_steps")
#: A fine-tune's network learning rate, as a fraction of the saved model's: at the full rate, AdamW's
#: first hundred steps move every small weight about as far as its whole size, which forgets the start.
#: A guess, not measured.
FINE_TUNE_RATE = 0.25


def check_fine_tune_keeps(base: TrainConfig, asked: Mapping[str, Any], command_line: bool = False) -> None:
    """Refuse a setting a user asked for that a fine-tune of a model trained with ``base`` cannot honour.

    Parameters
    ----------
    base : TrainConfig
        The saved model's settings.
    asked : mapping
        ``{field of NETWORK_FIELDS: value}`` as the user gave them, None where not given; a value equal to the saved
        model's is accepted.
    command_line : bool
        Name the settings as ``jcas train``'s options (``--method``, ``--init-model``) rather than as keywords.
    """
    def spelled(name: str) -> str:
        return f"--{name.replace('_', '-')}" if command_line else name

    for name, value in asked.items():
        if value not in (None, getattr(base, name)):
            raise JCASInputError(f"{spelled(name)} {value!r}: the model to fine-tune was trained with {name} "
                                 f"{getattr(base, name)!r}, and a fine-tune keeps it. Leave out {spelled(name)}, or "
                                 f"train a new model without {spelled('init_model')}.")


def fine_tune_config(base: TrainConfig, preset: str = FINE_TUNE_PRESET, **overrides) -> TrainConfig:
    """Settings to continue training a saved model: its network and loss, another preset's schedule,
    and :data:`FINE_TUNE_RATE` times its learning rate.

    Parameters
    ----------
    base : TrainConfig
        The saved model's settings (network, width, method, offsets, weights...).
    preset : {"fast", "standard", "long"}
        Whose schedule fields (:data:`SCHEDULE_FIELDS`) to use.
    **overrides
        As in :func:`make_config` (``epochs``, ``folds``, ``seed``, ``device``...); fields that
        define the network cannot be changed (they must match the saved weights).
    """
    if preset not in PRESETS:
        raise JCASInputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
    fixed = sorted(set(overrides) & NETWORK_FIELDS)
    if fixed:
        raise JCASInputError(f"a fine-tune keeps the saved model's {', '.join(fixed)}; "
                             "train a new model to change them.")
    values = {**base.to_dict(), **{name: getattr(PRESETS[preset], name) for name in SCHEDULE_FIELDS},
              "learning_rate": base.learning_rate * FINE_TUNE_RATE}
    method, preset = values.pop("method"), values.pop("preset")
    return make_config(method, preset, **{**values, **overrides})


def split_epochs(config: TrainConfig, epochs: int) -> dict[str, int]:
    """``epochs`` in all, split between the stages as ``config`` splits its own (half and half in every preset).

    A method without a corrected stage, or a single epoch, trains it all as warm-up; with a corrected stage and
    two epochs or more, each stage gets at least one.
    """
    if not config.uses_correction or epochs < 2:
        return {"epochs_warmup": epochs, "epochs_correction": 0}
    share = config.epochs_warmup / config.total_epochs if config.total_epochs else 0.5
    warmup = min(epochs - 1, max(1, int(epochs * share)))
    return {"epochs_warmup": warmup, "epochs_correction": epochs - warmup}


def make_config(method: str = "jcas", preset: str = "standard", **overrides) -> TrainConfig:
    """Build a config from a method, a preset and any field overrides.

    Parameters
    ----------
    method : {"jcas", "jcas_dar", "ce", "fc"}
        JCAS (affinity loss, T_C, T_A, consistency), JCAS with DAR rectification, the plain
        cross-entropy baseline, or forward correction only (T_C).
    preset : {"fast", "standard", "long"}
        Schedule and crop size.
    **overrides
        Any :class:`TrainConfig` field; ``epochs=N`` scales both stages to N epochs in all, keeping the
        configured split between them (:func:`split_epochs`);
        ``folds=1`` trains one model on everything (in-sample correction, for comparison).
    """
    if method not in METHODS:
        raise JCASInputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    if preset not in PRESETS:
        raise JCASInputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
    check_settings(overrides)  # each override's type and range (jcas.arguments), before any is used
    config = replace(PRESETS[preset], method=method, **METHODS[method])
    epochs = overrides.pop("epochs", None)
    config = replace(config, **overrides)
    if epochs is not None:
        config = replace(config, **split_epochs(config, epochs))
    if config.flips not in (True, False, "auto"):
        raise JCASInputError(f"flips must be true, false or 'auto', got {config.flips!r}.")
    if not config.average_epochs >= 0:
        raise JCASInputError(f"average_epochs must be 0 (no average) or more, got {config.average_epochs!r}.")
    if config.norm not in NORMS:
        raise JCASInputError(f"norm must be one of {', '.join(NORMS)}, got {config.norm!r}.")
    if config.affinity not in ("local", "global"):
        raise JCASInputError(f"affinity must be 'local' or 'global', got {config.affinity!r}.")
    return config
