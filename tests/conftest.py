"""Shared fixtures: small real data from the package's own sample stacks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import jcas.settings
import jcas.training.trainer
from jcas.data.samples import load_sample


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def mni():
    """MNI sample: images (8, 233, 197) uint8 and clean masks {0, 1, 2}."""
    return load_sample("mni_tissue")


@pytest.fixture(scope="session")
def cells():
    """cells3d sample: images (6, 256, 256) uint16 and clean masks {0, 1}."""
    return load_sample("cells3d_nuclei")


@pytest.fixture
def odd_labels(mni):
    """The MNI masks with label values {0, 3, 7} instead of {0, 1, 2}."""
    images, masks = mni
    return images, np.array([0, 3, 7], dtype=np.uint8)[masks]


@pytest.fixture
def small_training(monkeypatch):
    """Make `jcas train` train on 32-pixel crops, two per step (the command itself is unchanged)."""
    original = jcas.settings.make_config

    def small(method="jcas", preset="standard", **overrides):
        return original(method, preset, **({"batch_size": 2, "crop": 32} | overrides))

    monkeypatch.setattr(jcas.settings, "make_config", small)  # what `jcas train` calls
    monkeypatch.setattr(jcas.training.trainer, "make_config", small)
