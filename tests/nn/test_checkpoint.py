import pickle

import numpy as np
import pytest
import torch

from jcas import correct
from jcas.correction.stream import iter_correct
from jcas.errors import JCASInputError
from jcas.nn.checkpoint import load_checkpoint
from jcas.settings import make_config
from jcas.training.trainer import Trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from jcas.data.samples import load_sample

    images, masks = load_sample("mni_tissue")
    masks = np.array([0, 3, 7], dtype=np.uint8)[masks]
    config = make_config("jcas", "fast", epochs=2, batch_size=2, crop=48, min_steps=1)  # two fold models
    trainer = Trainer([images[:2]], [masks[:2]], config)
    for _ in trainer.run():
        pass
    path = trainer.save(tmp_path_factory.mktemp("model") / "model.pt")
    return trainer, path, images[:1], masks[:1]


def test_round_trip_gives_the_same_predictions(trained):
    trainer, path, images, masks = trained
    loaded = load_checkpoint(path, device=trainer.device.type)  # CPU against GPU: tests/test_device.py
    assert loaded.label_map.values == (0, 3, 7) and loaded.config == trainer.config
    first, second = correct(trainer.model, images, masks), correct(loaded, images, masks)
    assert np.array_equal(first.corrected, second.corrected)
    assert np.allclose(first.class_disagreement, second.class_disagreement, atol=1e-6)


def test_corrupt_and_foreign_files_are_refused(trained, tmp_path):
    _, path, _, _ = trained
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(JCASInputError, match="not a readable"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(JCASInputError, match="not a napari-jcas model"):
        load_checkpoint(foreign)
    with pytest.raises(JCASInputError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


class _Exploit:
    def __reduce__(self):
        return (print, ("code ran",))


def test_loading_never_executes_code_from_the_file(tmp_path, capsys):
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": "napari-jcas-model", "x": _Exploit()}))
    with pytest.raises(JCASInputError):
        load_checkpoint(evil)
    assert "code ran" not in capsys.readouterr().out


def test_weights_that_do_not_fit_the_settings_are_refused(trained, tmp_path):
    _, path, _, _ = trained
    payload = torch.load(path, weights_only=True)
    payload["label_values"] = [0, 1]  # two classes, weights for three
    payload["trust"] = [None] * len(payload["members"])  # (its agreement counts of three classes are refused too)
    edited = tmp_path / "edited.pt"
    torch.save(payload, edited)
    with pytest.raises(JCASInputError, match="do not fit"):
        load_checkpoint(edited)


def test_masks_from_another_class_set_are_refused(trained):
    trainer, _, images, masks = trained
    other = masks.copy()
    other[0, :5, :5] = 9
    with pytest.raises(JCASInputError, match=r"\[9\]"):
        iter_correct(trainer.model, images, other)  # at the call, before any slice is computed
    rgb = np.repeat(images[..., None], 3, axis=-1)
    with pytest.raises(JCASInputError, match="greyscale"):
        correct(trainer.model, rgb, masks)


def test_model_files_written_when_the_device_was_a_setting_still_load(trained, tmp_path):
    """Files saved before the device became a runtime choice hold a "device" setting; they load alike."""
    trainer, path, images, masks = trained
    payload = torch.load(path, weights_only=True)
    assert "device" not in payload["config"]
    payload["config"]["device"] = "cuda"
    older = tmp_path / "older.pt"
    torch.save(payload, older)
    loaded = load_checkpoint(older, device="cpu")
    assert loaded.config == trainer.config
    assert np.array_equal(correct(loaded, images, masks).corrected, correct(trainer.model, images, masks).corrected)
