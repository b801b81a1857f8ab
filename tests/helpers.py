"""Helpers shared by test modules in several folders (pytest puts this folder on ``sys.path``)."""
from jcas.settings import make_config


def tiny_config(method="jcas", **overrides):
    """A configuration that trains in a second: 2 epochs of batch 2, crop 48, one fold, no step floor."""
    settings = dict(epochs=2, batch_size=2, crop=48, folds=1, min_steps=1) | overrides
    return make_config(method, "fast", **settings)
