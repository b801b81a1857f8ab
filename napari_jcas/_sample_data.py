"""Sample data: real image stacks shipped with the package, with simulated annotation noise."""
from __future__ import annotations

from jcas.data.samples import CLASS_NAMES, SAMPLE_NAMES, load_noisy_sample

from ._reader import features_of_names

#: The shipped samples (:data:`jcas.data.samples.SAMPLE_NAMES`), each a command of napari.yaml below.
MNI_TISSUE, CELLS3D_NUCLEI = SAMPLE_NAMES
#: Layer names of the shipped samples.
_TITLES = {MNI_TISSUE: "brain MRI", CELLS3D_NUCLEI: "nuclei"}


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
    return _noisy_sample(MNI_TISSUE)


def cells3d_nuclei() -> list[tuple]:
    """Six slices of the cells3d nuclei stack with a noisy nucleus mask."""
    return _noisy_sample(CELLS3D_NUCLEI)
