"""Temperature calibration on held-out pixels against the noisy labels, through the noise model."""
import numpy as np
import pytest
import torch

from jcas.nn.calibration import fit_temperature, tempered
from jcas.nn.checkpoint import load_checkpoint, save_checkpoint
from jcas.settings import make_config
from jcas.training.trainer import Trainer


def overconfident(count: int, accuracy: float, confidence: float, seed: int = 0):
    """Two-class probabilities ``(2, N)`` that put ``confidence`` on a label right ``accuracy`` of the time,
    and the labels ``(N,)``."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    predicted = np.where(rng.random(count) < accuracy, labels, 1 - labels)
    probability = np.where(np.arange(2)[:, None] == predicted, confidence, 1 - confidence)
    return probability, labels


def test_an_overconfident_model_is_cooled_to_its_accuracy():
    probability, labels = overconfident(20_000, accuracy=0.8, confidence=0.99)
    temperature = fit_temperature(probability, labels)
    assert temperature > 1.5
    assert abs(tempered(probability, temperature).max(axis=0).mean() - 0.8) < 0.03
    assert np.array_equal(tempered(probability, temperature).argmax(axis=0), probability.argmax(axis=0))


def test_a_model_is_never_made_bolder_than_it_was_trained():
    probability, labels = overconfident(20_000, accuracy=0.95, confidence=0.7)
    assert fit_temperature(probability, labels) == 1.0


def test_through_the_noise_model_the_drawn_labels_errors_do_not_cool_a_right_model():
    """A model calibrated against the truth (0.9 on a label right 90 % of the time), labels with 20 % of them
    flipped: against the labels alone it looks overconfident; through the matrix of the flips it does not."""
    probability, truth = overconfident(40_000, accuracy=0.9, confidence=0.9, seed=1)
    drawn = np.where(np.random.default_rng(2).random(truth.size) < 0.2, 1 - truth, truth)
    flips = np.array([[0.8, 0.2], [0.2, 0.8]])
    plain, adapted = fit_temperature(probability, drawn), fit_temperature(probability, drawn, flips)
    assert plain > 1.5 and 0.6 < adapted < 1.3


def test_each_fold_model_is_calibrated_after_training_and_keeps_it_in_its_file(mni, tmp_path):
    images, masks = mni[0][:4], mni[1][:4]
    trainer = Trainer([images], [masks], make_config("jcas", "fast", epochs=2, batch_size=4, crop=48, min_steps=1))
    for _ in trainer.run():
        pass
    temperatures = [float(member.temperature) for member in trainer.model.members]
    assert all(t >= 1.0 for t in temperatures)
    run = trainer.runs[0]
    _, _, _, _, probability, drawn = run.best
    transition = trainer.model.members[0].class_transition().detach().numpy()
    assert temperatures[0] == pytest.approx(fit_temperature(probability, drawn, transition))
    loaded = load_checkpoint(save_checkpoint(trainer.model, tmp_path / "m.pt"))
    assert [float(member.temperature) for member in loaded.members] == temperatures


def test_a_model_file_without_a_temperature_loads_as_not_calibrated(mni):
    images, masks = mni[0][:2], mni[1][:2]
    member = Trainer([images], [masks], make_config("ce", "fast", folds=1, epochs=1)).model.members[0]
    state = {k: v for k, v in member.state_dict().items() if k != "temperature"}
    member.temperature.fill_(3.0)
    member.load_state_dict(state)
    assert float(member.temperature) == 1.0
    assert torch.equal(member.state_dict()["temperature"], torch.ones(()))
