"""The settings registry: every method named and explained once, presets, fine-tune settings."""
import pytest

from jcas.cli import build_parser
from jcas.errors import JCASInputError
from jcas.settings import (FINE_TUNE_RATE, METHOD_HELP, METHOD_LABELS, METHODS, MIN_AREA, NETWORK_FIELDS,
                           PRESETS, QUICK_PRESET, SCHEDULE_FIELDS, SELECTION_HELP, TrainConfig, fine_tune_config,
                           make_config)


def test_every_method_has_a_label_and_a_help_text_and_the_command_line_shows_them(capsys):
    assert set(METHOD_LABELS) == set(METHOD_HELP) == set(METHODS)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for name, text in METHOD_HELP.items():
        assert f"{name}: {' '.join(text.split())}" in shown


def test_a_fine_tune_keeps_the_network_and_takes_the_schedule_of_its_preset():
    saved = make_config("jcas_dar", "standard", width=8, offsets=(1, 2), learning_rate=1e-3, seed=4)
    tuned = fine_tune_config(saved, folds=3)
    for name in NETWORK_FIELDS:
        assert getattr(tuned, name) == getattr(saved, name)
    for name in SCHEDULE_FIELDS:
        assert getattr(tuned, name) == getattr(PRESETS[QUICK_PRESET], name)
    assert tuned.learning_rate == pytest.approx(1e-3 * FINE_TUNE_RATE) and tuned.folds == 3 and tuned.seed == 4
    assert fine_tune_config(saved, "long").epochs_warmup == PRESETS["long"].epochs_warmup
    with pytest.raises(JCASInputError, match="keeps the saved model's network, width"):
        fine_tune_config(saved, width=16, network="deeplab")
    with pytest.raises(JCASInputError, match="unknown preset"):
        fine_tune_config(saved, "slow")


@pytest.mark.parametrize("overrides, message", [(dict(folds=0), "folds must be at least 1"),
                                                (dict(epochs=0), "epochs must be at least 1"),
                                                (dict(norm="layer"), "norm must be one of")])
def test_bad_settings_say_what_is_wrong(overrides, message):
    with pytest.raises(JCASInputError, match=message):
        make_config(**overrides)


@pytest.mark.parametrize("method, overrides, epochs, stages", [
    ("jcas", {}, 3, (1, 2)),  # every preset splits half and half
    ("jcas", {}, 1, (1, 0)),
    ("jcas", dict(epochs_warmup=10, epochs_correction=30), 80, (20, 60)),  # a configured split is kept
    ("jcas", dict(epochs_warmup=10, epochs_correction=30), 2, (1, 1)),  # each stage gets one at least
    ("jcas", dict(epochs_warmup=0, epochs_correction=0), 4, (2, 2)),  # no split configured: half and half
    ("ce", {}, 5, (5, 0)),  # no corrected stage
])
def test_epochs_in_all_keep_the_configured_split_between_the_stages(method, overrides, epochs, stages):
    config = make_config(method, "standard", epochs=epochs, **overrides)
    assert (config.epochs_warmup, config.epochs_correction) == stages


def test_the_device_is_a_runtime_choice_not_a_saved_setting():
    config = make_config("jcas", "fast")
    assert "device" not in config.to_dict()
    # model files written while the device was a setting still load
    assert TrainConfig.from_dict({**config.to_dict(), "device": "cuda"}) == config
    with pytest.raises(JCASInputError, match="unknown training settings"):
        TrainConfig.from_dict({**config.to_dict(), "colour": "red"})


def test_the_correction_settings_are_explained_once_and_the_command_line_shows_it(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["correct", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for text in SELECTION_HELP.values():
        assert " ".join(text.split()) in shown
    assert MIN_AREA is None and "default: a hundredth of the typical object" in shown  # the relative floor
