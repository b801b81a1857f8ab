"""Tiled prediction: what training's held-out selection reads is what correction reads, tile for tile."""
import numpy as np
import pytest
import torch

from jcas.correction.prediction import member_maps
from jcas.data.labels import LabelMap
from jcas.data.pairs import normalise
from jcas.nn.model import JCASModel
from jcas.nn.tiles import tiled_probabilities
from jcas.settings import make_config


@pytest.mark.parametrize("tile", [512, 96])
def test_the_probabilities_alone_are_those_of_the_full_maps_at_the_model_temperature(mni, tile):
    images, masks = mni
    torch.manual_seed(0)
    model = JCASModel(make_config("jcas", "fast"), LabelMap((0, 1, 2)), 1).eval()
    model.temperature.fill_(1.7)
    normalised = normalise(images[3], 1)
    probability = tiled_probabilities(model, normalised, tile=tile)
    assert probability.shape == (3,) + images[3].shape and probability.dtype == np.float32
    np.testing.assert_allclose(probability, member_maps(model, normalised, masks[3].astype(np.int64), tile=tile).probability, atol=1e-6)
    np.testing.assert_allclose(probability.sum(axis=0), 1, atol=1e-5)
