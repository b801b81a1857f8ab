import numpy as np
import pytest

from jcas.settings import make_config
from jcas.training.trainer import Trainer


@pytest.fixture(scope="module")
def model():
    """A one-model run on three nuclei slices (labels 2 and 5), with the first two slices and masks to correct."""
    from jcas.data.samples import load_sample

    images, masks = load_sample("cells3d_nuclei")
    masks = np.where(masks > 0, 5, 2).astype(np.uint16)
    trainer = Trainer([images[:3]], [masks[:3]],
                      make_config("jcas", "fast", epochs=2, batch_size=4, crop=64, folds=1, min_steps=1))
    for _ in trainer.run():
        pass
    return trainer.model, images[:2], masks[:2]
