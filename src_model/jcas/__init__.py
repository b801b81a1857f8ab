"""JCAS: joint class-affinity loss correction for cleaning noisy segmentation labels.

The Qt-free core of napari-jcas: data, noise simulation, networks, DAR, CALC,
training, correction, metrics, checkpoints and the ``jcas`` command.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("napari-jcas")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
