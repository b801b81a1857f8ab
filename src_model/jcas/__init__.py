"""JCAS: joint class-affinity loss correction for cleaning noisy segmentation labels.

The Qt-free core of napari-jcas, in packages along the pipeline: ``data``, ``nn``,
``losses``, ``training``, ``correction`` and ``evaluation``, over ``settings``, ``device``,
``outputs`` and ``errors``; ``cli`` is the ``jcas`` command (see docs/architecture.md).
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("napari-jcas")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
