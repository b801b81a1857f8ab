"""``import jcas``: the verbs a user needs, light to import, each the real entry it names."""
import subprocess
import sys

import numpy as np
import pytest

import jcas


def test_import_jcas_stays_light_until_a_verb_is_used():
    probe = "import sys, jcas; print('torch' in sys.modules); jcas.correct; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "True"], done.stderr


def test_every_public_name_resolves_and_unknown_ones_fail_as_usual():
    for name in jcas.__all__:
        assert getattr(jcas, name) is not None and name in dir(jcas)
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        jcas.trian  # noqa: B018


def test_train_save_load_and_correct_through_the_public_names(tmp_path, mni):
    images, masks = mni
    images, masks = images[:4], masks[:4]
    noisy = masks.copy()
    noisy[1][noisy[1] == 2] = 1
    model = jcas.train([images], [noisy], jcas.make_config("jcas", "fast", epochs=1, batch_size=4, crop=64,
                                                           min_steps=1))
    path = jcas.save_model(model, tmp_path / "model.pt")
    loaded = jcas.load_model(path, device="cpu")
    result = jcas.correct(loaded, images, noisy)
    assert result.corrected.shape == noisy.shape and result.class_disagreement.dtype == np.float32
    with pytest.raises(jcas.JCASInputError, match="does not exist"):
        jcas.load_model(tmp_path / "missing.pt")
