"""JCAS: joint class-affinity loss correction for cleaning noisy segmentation labels.

The Qt-free core of napari-jcas. ``import jcas`` gives the verbs a user needs, each a thin entry to
the package that does the work (loaded when first used, so that ``import jcas`` stays light):

============================  =================================================================
``jcas.train``                train a cross-fitted model on images and noisy masks, to the end
``jcas.Trainer``              the same, step by step (progress, stopping, fine-tuning)
``jcas.make_config``          the settings of a method and preset, with overrides
``jcas.correct``              proposed corrections, heatmaps and ranked regions of one image or stack
``jcas.select_regions``       choose regions again from a correction's maps with other floors
``jcas.correct_folder``       correct folders of files, with ``quality.csv`` and ``report.html``
``jcas.load_model``           load a model file, with every check (never runs code from it)
``jcas.save_model``           save a model file
``jcas.estimate_quality``     the estimated Dice of a drawn mask from the model's probabilities
``jcas.mean_dice``            the foreground Dice of masks against true ones
``jcas.simulate_noise``       structured annotation noise for experiments
``jcas.JCASInputError``       the error every bad input raises, with what to do
============================  =================================================================

Below them the packages along the pipeline: ``data``, ``nn``, ``losses``, ``training``,
``correction`` and ``evaluation``, over ``settings``, ``device``, ``outputs`` and ``errors``;
``cli`` is the ``jcas`` command (see docs/architecture.md).
"""
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("napari-jcas")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

#: The public names and where they live ("module:attribute").
_PUBLIC = {
    "train": "training.trainer:train",
    "Trainer": "training.trainer:Trainer",
    "make_config": "settings:make_config",
    "correct": "correction.stream:correct",
    "select_regions": "correction.selection:select_regions",
    "correct_folder": "correction.folder:correct_folder",
    "load_model": "nn.checkpoint:load_checkpoint",
    "save_model": "nn.checkpoint:save_checkpoint",
    "estimate_quality": "evaluation.mask_quality:estimate_quality",
    "mean_dice": "evaluation.metrics:mean_dice",
    "simulate_noise": "data.noise:simulate_noise",
    "JCASInputError": "errors:JCASInputError",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'jcas' has no attribute {name!r}")
    module, attribute = _PUBLIC[name].split(":")
    value = getattr(import_module(f".{module}", __name__), attribute)
    globals()[name] = value  # found once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
