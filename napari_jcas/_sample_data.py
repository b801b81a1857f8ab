"""Sample data: real image stacks shipped with the package, with simulated annotation noise."""
from __future__ import annotations

from jcas.data.samples import CLASS_NAMES, load_noisy_sample

from ._reader import features_of_names

#: Layer names of the shipped samples.
_TITLES = {"mni_tissue": "brain MRI", "cells3d_nuclei": "nuclei"}


def _noisy_sample(name: str) -> list[tuple]:
    images, noisy, _ = load_noisy_sample(name)
    title = _TITLES[name]
    return [
        (images, {"name": title}, "image"),
        (noisy, {"name": f"{title} noisy mask", "opacity": 0.5, "features": features_of_names(CLASS_NAMES[name])},
         "labels"),
    ]


def mni_tissue() -> list[tuple]:
    """Eight axial slices of the MNI T1 brain template with a noisy grey/white-matter mask."""
    return _noisy_sample("mni_tissue")


def cells3d_nuclei() -> list[tuple]:
    """Six slices of the cells3d nuclei stack with a noisy nucleus mask."""
    return _noisy_sample("cells3d_nuclei")
